import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isProcessAlive, processTree } from '../../src/runtime/proctree';
import { type AgentTown, makeAgentTown } from '../helpers/agent-town';
import { until } from '../helpers/wait';

/**
 * The agent commands end to end: the real built `gt` on a minimal town, real tmux on the town's private
 * socket, a trivial echo agent defined in town.toml. Requires `npm run build` first.
 */
const ECHO = resolve(import.meta.dirname, '../helpers/echo-agent.mjs');
const toml = (s: string) => JSON.stringify(s);
const TOWN_TOML = `
[agents.echo]
command = ${toml(process.execPath)}
args = [${toml(ECHO)}]
headless_args = [${toml(ECHO)}, "--stay"]
prompt_mode = "none"
ready_pattern = "^READY>"
busy_pattern = "esc to interrupt"
pass_env = ["GT_TEST_SECRET"]

[agents.echofile]
preset = "echo"
env_file = "agent.env"

[agents.echotyped]
preset = "echo"
prompt_mode = "typed"

[agents.ghost]
command = "gt-no-such-agent-cli"
install = "pip install ghost-agent"

[roles.polecat]
agent = "echo"
model = "echo-small"
`;

describe('gt agent commands', () => {
  let town: AgentTown;
  const json = async (args: string[], env?: NodeJS.ProcessEnv) => {
    const r = await town.gt([...args, '--json'], env);
    assert.equal(r.code, 0, `gt ${args.join(' ')} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const fails = async (args: string[], code: string) => {
    const r = await town.gt([...args, '--json']);
    assert.notEqual(r.code, 0, `gt ${args.join(' ')} should fail`);
    const err = JSON.parse(r.stderr.trim().split('\n').pop()!);
    assert.equal(err.code, code, r.stderr);
    return err;
  };
  const peek = async (agent: string) => (await json(['peek', agent, '-n', '60'])).lines.join('\n') as string;

  before(() => {
    town = makeAgentTown(TOWN_TOML);
  });
  after(async () => {
    await town.cleanup();
  });

  test('an empty town has no agents', async () => {
    assert.deepEqual(await json(['agents']), []);
  });

  test('session start uses the role assignment, carries identity and secrets, and is listed', async () => {
    const started = await json(['session', 'start', 'rig/nux', '--wait-ready'], {
      GT_TEST_SECRET: 's3cret-value',
    });
    assert.equal(started.session, 'gt-rig-nux');
    assert.equal(started.preset, 'echo');
    assert.equal(started.model, 'echo-small');
    assert.equal(started.ready, true);
    const screen = await peek('rig/nux');
    assert.match(screen, /ENV GT_AGENT=rig\/nux/);
    assert.match(screen, /ENV GT_RIG=rig/);
    assert.match(screen, /ENV GT_ROLE=polecat/);
    assert.match(screen, /ENV GT_TEST_SECRET=s3cret-value/);
    assert.ok(!execFileSync('ps', ['-A', '-o', 'args='], { encoding: 'utf8' }).includes('s3cret-value'));
    const agents = await json(['agents']);
    const nux = agents.find((a: { id: string }) => a.id === 'rig/nux');
    assert.equal(nux.role, 'polecat');
    assert.equal(nux.rig, 'rig');
    assert.equal(nux.state, 'working');
    assert.equal(nux.session, 'gt-rig-nux');
    assert.equal(nux.runtime, 'tmux');
    assert.equal(nux.agent, 'echo');
    assert.equal(nux.model, 'echo-small');
    assert.equal(nux.hooked_bead, null);
    const text = await town.gt(['agents']);
    assert.match(text.stdout, /^AGENT\s+ROLE\s+RIG\s+STATE/m);
    assert.ok(existsSync(join(town.root, 'logs', 'sessions', 'gt-rig-nux.log')));
  });

  test('nudge types hostile text literally, strips escapes, executes nothing, and verifies arrival', async () => {
    const marker = join(town.root, 'pwned');
    const hostile = `$(touch ${marker}); rm -rf ~ \`touch ${marker}\` \u001b[2J\u001b]0;evil\u0007 C-c Enter "x" end;`;
    const result = await json(['nudge', 'rig/nux', hostile]);
    assert.equal(result.status, 'delivered');
    assert.equal(result.verified, true);
    const expected = `$(touch ${marker}); rm -rf ~ \`touch ${marker}\` C-c Enter "x" end;`;
    assert.equal(result.message.endsWith(expected), true, result.message);
    const screen = await until('echoed nudge', async () => {
      const s = await peek('gt-rig-nux');
      return s.includes('GOT[') ? s : undefined;
    });
    assert.ok(screen.includes(JSON.stringify(result.message)), screen);
    assert.ok(!screen.includes('\\u001b'));
    assert.equal(existsSync(marker), false);
  });

  test('a long nudge arrives whole (chunked)', async () => {
    const long = `${'lorem ipsum '.repeat(150)}THE-END`;
    const result = await json(['nudge', 'rig/nux', long]);
    assert.equal(result.status, 'delivered');
    assert.equal(result.verified, true);
    await until('long nudge', async () => (await peek('rig/nux')).includes('THE-END"]'));
  });

  test('concurrent nudges to one session never interleave', async () => {
    const a = `alpha-${'a'.repeat(700)}-ALPHA`;
    const b = `beta-${'b'.repeat(700)}-BETA`;
    const [ra, rb] = await Promise.all([json(['nudge', 'rig/nux', a]), json(['nudge', 'rig/nux', b])]);
    assert.deepEqual([ra.status, rb.status], ['delivered', 'delivered']);
    const screen = await until('both nudges', async () => {
      const s = await peek('rig/nux');
      return s.includes('-ALPHA"]') && s.includes('-BETA"]') ? s : undefined;
    });
    assert.ok(screen.replace(/\n/g, '').includes(JSON.stringify(ra.message)));
    assert.ok(screen.replace(/\n/g, '').includes(JSON.stringify(rb.message)));
  });

  test('a busy agent gets the nudge queued; --drain hands it over once', async () => {
    await json(['nudge', 'rig/nux', 'go-busy']);
    await until('busy', async () => (await peek('rig/nux')).includes('esc to interrupt'));
    const queued = await json(['nudge', 'rig/nux', '--wait-idle', '200', 'check your hook']);
    assert.equal(queued.status, 'queued');
    assert.equal(queued.reason, 'busy');
    const drained = await json(['nudge', '--drain', 'rig/nux']);
    assert.equal(drained.nudges.length, 1);
    assert.equal(drained.nudges[0].message, 'check your hook');
    assert.equal((await json(['nudge', '--drain', 'rig/nux'])).nudges.length, 0);
    const asAgent = await town.gt(['nudge', '--drain'], { GT_AGENT: 'rig/nux' });
    assert.equal(asAgent.code, 0, asAgent.stderr);
  });

  test('a killed agent is seen dead within seconds; nudges to it are queued; restart brings it back', async () => {
    const status = await json(['session', 'status', 'rig/nux']);
    assert.equal(status.process_alive, true);
    // Kill the agent (the child of the pane's launcher), as a crash would.
    const agentPid = processTree(status.pid).find((pid) => pid !== status.pid)!;
    process.kill(agentPid, 'SIGKILL');
    const started = Date.now();
    await until('dead', async () => !(await json(['session', 'status', 'rig/nux'])).process_alive, 5000);
    assert.ok(Date.now() - started < 5000);
    const live = await json(['agents', '--live']);
    assert.equal(live.find((a: { id: string }) => a.id === 'rig/nux').live.process_alive, false);
    const q = await json(['nudge', 'rig/nux', 'are you there?']);
    assert.deepEqual([q.status, q.reason], ['queued', 'dead']);
    const restarted = await json(['session', 'restart', 'rig/nux', '--wait-ready']);
    assert.equal(restarted.ready, true);
    assert.equal(restarted.model, 'echo-small');
    assert.notEqual(restarted.pid, status.pid);
    const row = (await json(['agents'])).find((a: { id: string }) => a.id === 'rig/nux');
    assert.equal(row.restarts, 1);
  });

  test('session stop kills the tree and records it; nudging then queues (no session)', async () => {
    const { pid } = await json(['session', 'status', 'rig/nux']);
    const stopped = await json(['session', 'stop', 'rig/nux']);
    assert.equal(stopped.was_running, true);
    assert.equal(isProcessAlive(pid), false);
    const row = (await json(['agents'])).find((a: { id: string }) => a.id === 'rig/nux');
    assert.equal(row.state, 'stopped');
    assert.equal(row.session, null);
    const q = await json(['nudge', 'rig/nux', 'hello']);
    assert.deepEqual([q.status, q.reason], ['queued', 'no_session']);
    await fails(['peek', 'rig/nux'], 'GT_E_NO_SESSION');
  });

  test('env_file secrets (relative to the town) reach the agent, parsed as data', async () => {
    writeFileSync(join(town.root, 'agent.env'), "# secrets\nGT_TEST_SECRET='from-$(file)'\n", {
      mode: 0o600,
    });
    await json(['session', 'start', 'rig/ef', '--agent', 'echofile', '--wait-ready']);
    assert.match(await peek('rig/ef'), /ENV GT_TEST_SECRET=from-\$\(file\)/);
    await json(['session', 'stop', 'rig/ef']);
  });

  test('a typed first prompt is delivered once the agent is ready', async () => {
    const started = await json(['session', 'start', 'rig/typed', '--agent', 'echotyped']);
    assert.equal(started.ready, true);
    await until('typed prompt', async () =>
      (await peek('rig/typed')).includes('GOT["[GAS TOWN] polecat rig/typed'),
    );
    await json(['session', 'stop', 'rig/typed']);
  });

  test('headless: runs without a terminal, output logged, nudges are queued', async () => {
    const started = await json(['session', 'start', 'rig/hl', '--runtime', 'headless']);
    assert.equal(started.runtime, 'headless');
    await until('headless output', async () => (await peek('rig/hl')).includes('READY>'));
    const status = await json(['session', 'status', 'rig/hl']);
    assert.equal(status.process_alive, true);
    const q = await json(['nudge', 'rig/hl', 'hi']);
    assert.deepEqual([q.status, q.reason], ['queued', 'headless']);
    await fails(['attach', 'rig/hl'], 'GT_E_SESSION');
    await json(['session', 'stop', 'rig/hl']);
    assert.equal((await json(['session', 'status', 'rig/hl'])).session_exists, false);
  });

  test('bad input: missing command, unknown agent, unknown address, attach without a terminal', async () => {
    const missing = await fails(['session', 'start', 'rig/g', '--agent', 'ghost'], 'GT_E_TOOL_MISSING');
    assert.match(missing.error, /gt-no-such-agent-cli/);
    assert.match(missing.hint, /pip install ghost-agent/);
    assert.ok(!(await json(['agents'])).some((a: { id: string }) => a.id === 'rig/g'), 'no half-made agent');
    const unknown = await fails(['session', 'start', 'rig/u', '--agent', 'nosuch'], 'GT_E_UNKNOWN_AGENT');
    assert.match(unknown.hint, /claude/);
    await fails(['nudge', 'nobody', 'hi'], 'GT_E_NOT_FOUND');
    await fails(['session', 'start', 'norig/x'], 'GT_E_RIG_NOT_FOUND');
    await fails(['nudge', 'rig/g', '\u001b[0m'], 'GT_E_INVALID_INPUT');
    await json(['session', 'start', 'rig/att', '--wait-ready']);
    await fails(['attach', 'rig/att'], 'GT_E_USAGE');
    const before = (await json(['agents'])).find((a: { id: string }) => a.id === 'rig/att');
    await fails(['session', 'start', 'rig/att'], 'GT_E_SESSION');
    const after = (await json(['agents'])).find((a: { id: string }) => a.id === 'rig/att');
    assert.deepEqual(after, before, 'a refused start leaves the record alone');
    await json(['session', 'stop', 'rig/att']);
    // tmux missing: PATH without it (the agent command itself is an absolute path).
    const noTmux = await town.gt(['session', 'start', 'rig/nt', '--json'], { PATH: town.root });
    assert.equal(JSON.parse(noTmux.stderr.trim()).code, 'GT_E_TOOL_MISSING', noTmux.stderr);
    assert.match(noTmux.stderr, /tmux/);
  });
});
