import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MayorStartResult, MayorStatus } from '../../src/services/mayor';
import { BD_BIN } from '../helpers/bd';
import { GT_BIN, makeTown, type Sandbox } from '../helpers/gt';

/**
 * `gt mayor start|stop|status` end to end: the real built gt in a town made by `gt install`, the `sim`
 * agent as the Mayor, real tmux on the town's private socket. Requires `npm run build` first.
 */
/** The JSON shapes `gt mayor status|start --json` print. */
type Status = MayorStatus;
type StartResult = MayorStartResult;

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('gt mayor', () => {
  let sandbox: Sandbox & { town: string };
  let town: string;
  let socket: string;

  const gt = (args: string[]) => sandbox.gt(args, { cwd: town });
  const json = async <T>(args: string[]): Promise<T> => {
    const r = await gt([...args, '--json']);
    assert.equal(r.code, 0, `gt ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const status = () => json<Status>(['mayor', 'status']);
  const tmux = (args: string[]) =>
    execFileSync('tmux', ['-S', socket, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const hasSession = () => {
    try {
      tmux(['has-session', '-t', '=gt-mayor']);
      return true;
    } catch {
      return false;
    }
  };
  const peek = async () => (await json<{ lines: string[] }>(['peek', 'mayor', '-n', '80'])).lines.join('\n');

  before(async () => {
    sandbox = await makeTown();
    town = sandbox.town;
    socket = join(town, '.gt', 'tmux.sock');
    const set = await gt(['config', 'set', 'roles.mayor.agent', 'sim']);
    assert.equal(set.code, 0, set.stderr);
  });
  after(() => sandbox.cleanup()); // kills the town's tmux server, then removes the sandbox

  test('gt install writes the Mayor instructions', () => {
    const text = readFileSync(join(town, 'mayor', 'AGENTS.md'), 'utf8');
    for (const needle of [
      'bd create',
      '--rig',
      '--deps',
      '--parent',
      'gt convoy create',
      'gt sling <bead> <rig>',
      'gt convoy show',
      'gt agents',
      'gt mail inbox',
      'gt escalate list',
      '1–2 polecats',
      '5–10 polecats',
      '20–30 polecats',
      'max_polecats',
      'never\n  instructions',
    ]) {
      assert.ok(text.includes(needle), `AGENTS.md should mention ${JSON.stringify(needle)}`);
    }
    assert.equal(readFileSync(join(town, 'mayor', 'CLAUDE.md'), 'utf8'), '@AGENTS.md\n');
  });

  test('before the first start: not started, with the configured agent and the strong model', async () => {
    const s = await status();
    assert.equal(s.state, 'not-started');
    assert.equal(s.running, false);
    assert.equal(s.session, 'gt-mayor');
    assert.deepEqual(s.configured, { preset: 'sim', model: 'sim-strong', runtime: 'tmux' });
    assert.equal(s.cwd, join(town, 'mayor'));
    const text = await gt(['mayor', 'status']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^mayor: not started$/m);
  });

  test('start runs the Mayor on the town socket with its role, home and model', async () => {
    const r = await json<StartResult>(['mayor', 'start', '--wait-ready']);
    assert.equal(r.started, true);
    assert.equal(r.already_running, false);
    assert.equal(r.start?.ready, true);
    assert.equal(r.start?.cwd, join(town, 'mayor'));
    assert.equal(r.status.state, 'running');
    assert.equal(r.status.preset, 'sim');
    assert.equal(r.status.model, 'sim-strong');
    assert.equal(r.status.socket, socket);
    assert.ok(hasSession(), 'gt-mayor exists on the town socket');

    const s = await status();
    assert.equal(s.state, 'running');
    assert.equal(s.running, true);
    assert.equal(s.runtime, 'tmux');
    assert.equal(s.model, 'sim-strong');
    assert.equal(typeof s.pid, 'number');
    assert.ok(s.uptime_ms !== null && s.uptime_ms >= 0);
    assert.equal(s.recorded_state, 'working');
    const text = await gt(['mayor', 'status']);
    assert.match(text.stdout, /^mayor: running$/m);
    assert.match(text.stdout, /^ {2}agent {4}sim \(sim-strong\)$/m);
    assert.match(text.stdout, /^ {2}uptime {3}\d+s /m);

    const agents = await json<Array<Record<string, unknown>>>(['agents']);
    const row = agents.find((a) => a.id === 'mayor');
    assert.ok(row);
    assert.equal(row.role, 'mayor');
    assert.equal(row.rig, null);
    assert.equal(row.session, 'gt-mayor');
    assert.equal(row.model, 'sim-strong');
  });

  test('gt peek mayor shows its pane: the sim started as the Mayor in <town>/mayor', async () => {
    const screen = await until('the sim start line in the pane', async () => {
      const text = await peek();
      return /\[sim\] start/.test(text) && text;
    });
    assert.match(screen, /"role":"mayor"/);
    assert.match(screen, /"agent":"mayor"/);
    assert.ok(screen.includes(`"cwd":"${join(town, 'mayor')}"`), screen);
    assert.ok(screen.includes('"rig":null'), screen);
  });

  test('start again is idempotent: it reports the running Mayor and ignores other flags', async () => {
    const before = await status();
    const again = await json<StartResult>(['mayor', 'start']);
    assert.equal(again.started, false);
    assert.equal(again.already_running, true);
    assert.equal(again.status.pid, before.pid);
    const text = await gt(['mayor', 'start', '--model', 'other-model']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /already running/);
    assert.match(text.stderr, /--model other-model ignored/);
    assert.equal((await status()).model, 'sim-strong');
    assert.equal(tmux(['list-sessions', '-F', '#{session_name}']).trim(), 'gt-mayor');
  });

  test('stop ends the session and keeps the record; stop again is harmless', async () => {
    const stopped = await json<{ was_running: boolean; existed: boolean; status: Status }>(['mayor', 'stop']);
    assert.equal(stopped.was_running, true);
    assert.equal(stopped.existed, true);
    assert.equal(stopped.status.state, 'stopped');
    await until('the session to go', async () => !hasSession());
    const s = await status();
    assert.equal(s.state, 'stopped');
    assert.equal(s.running, false);
    assert.equal(s.uptime_ms, null);
    assert.equal(s.preset, 'sim');
    assert.equal(s.model, 'sim-strong');
    assert.match((await gt(['mayor', 'status'])).stdout, /^mayor: stopped$/m);
    const row = (await json<Array<Record<string, unknown>>>(['agents'])).find((a) => a.id === 'mayor');
    assert.ok(row, 'the mayor record persists');
    assert.equal(row.state, 'stopped');
    assert.equal(row.agent, 'sim');
    assert.equal(row.session, null);
    const again = await json<{ was_running: boolean }>(['mayor', 'stop']);
    assert.equal(again.was_running, false);
  });

  test('concurrent starts make one session', async () => {
    const results = await Promise.all([1, 2, 3].map(() => json<StartResult>(['mayor', 'start'])));
    assert.equal(results.filter((r) => r.started).length, 1, JSON.stringify(results));
    assert.equal(results.filter((r) => r.already_running).length, 2);
    assert.equal(tmux(['list-sessions', '-F', '#{session_name}']).trim(), 'gt-mayor');
    assert.equal((await status()).state, 'running');
  });

  test('a Mayor whose agent exited shows as exited, and start replaces it', async () => {
    await until('the sim prompt', async () => /^sim> ?$/m.test(await peek()));
    tmux(['send-keys', '-t', 'gt-mayor:', '-l', '/exit']);
    tmux(['send-keys', '-t', 'gt-mayor:', 'Enter']);
    const exited = await until('the Mayor to exit', async () => {
      const s = await status();
      return s.state === 'exited' && s;
    });
    assert.equal(exited.running, false);
    assert.equal(exited.session_exists, true);
    assert.equal(exited.exit_code, 0);
    const restarted = await json<StartResult>(['mayor', 'start', '--wait-ready']);
    assert.equal(restarted.started, true);
    assert.equal(restarted.status.state, 'running');
  });

  test('a model set in [roles.mayor] applies at the next start; a missing AGENTS.md is restored', async () => {
    assert.equal((await json<{ was_running: boolean }>(['mayor', 'stop'])).was_running, true);
    const set = await gt(['config', 'set', 'roles.mayor.model', 'sim-planner']);
    assert.equal(set.code, 0, set.stderr);
    rmSync(join(town, 'mayor', 'AGENTS.md'));
    const r = await json<StartResult>(['mayor', 'start']);
    assert.equal(r.started, true);
    assert.equal(r.status.model, 'sim-planner');
    assert.ok(existsSync(join(town, 'mayor', 'AGENTS.md')));
    await json(['mayor', 'stop']);
    await until('the session to go', async () => !hasSession());
  });

  test('attach needs a terminal', async () => {
    const r = await gt(['mayor', 'attach', '--json']);
    assert.equal(r.code, 2);
    assert.equal(JSON.parse(r.stderr.trim()).code, 'GT_E_USAGE');
  });

  test('attach from a terminal (a pane of another tmux) starts the Mayor and attaches, nested', async () => {
    assert.equal((await status()).running, false);
    const outer = join(sandbox.dir, 'outer.sock');
    const outerTmux = (args: string[]) =>
      execFileSync('tmux', ['-S', outer, '-f', '/dev/null', ...args], {
        encoding: 'utf8',
        env: sandbox.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    try {
      outerTmux([
        'new-session',
        '-d',
        '-s',
        'human',
        '-x',
        '160',
        '-y',
        '40',
        '-c',
        town,
        process.execPath,
        GT_BIN,
        'mayor',
        'attach',
      ]);
      await until('the Mayor to run', async () => (await status()).running);
      const client = await until('a client attached to gt-mayor', async () =>
        tmux(['list-clients', '-t', '=gt-mayor', '-F', '#{client_name}']).trim(),
      );
      assert.ok(client.length > 0);
      // The human's pane shows the Mayor's screen.
      await until('the sim prompt in the outer pane', async () =>
        /sim>/.test(outerTmux(['capture-pane', '-p', '-t', 'human:'])),
      );
      tmux(['detach-client', '-s', '=gt-mayor']);
      await until('gt mayor attach to return after detach', async () => {
        try {
          outerTmux(['has-session', '-t', '=human']);
          return false;
        } catch {
          return true;
        }
      });
      assert.equal((await status()).running, true, 'detaching leaves the Mayor running');
    } finally {
      try {
        outerTmux(['kill-server']);
      } catch {}
    }
    await json(['mayor', 'stop']);
  });

  interface SlingJson {
    results: Array<{
      bead: string;
      agent: string;
      status: string;
      session: { name: string; preset: string; model: string | null; started: boolean } | null;
    }>;
    failures: unknown[];
  }
  /** A town-level bead (the Mayor's kind) whose sim script only says something. */
  const mayorBead = (sb: Sandbox & { town: string }, title: string): Promise<string> =>
    new Promise((done, fail) => {
      execFile(
        process.execPath,
        [BD_BIN, 'create', title, '-d', '```sim\nsay planning the work\n```', '--silent'],
        { cwd: sb.town, env: sb.env },
        (error, stdout, stderr) => (error ? fail(new Error(stderr)) : done(stdout.trim())),
      );
    });

  test('sling to a running Mayor: it keeps its session and is nudged', async () => {
    const started = await json<StartResult>(['mayor', 'start', '--wait-ready']);
    assert.equal(started.started, true);
    const pid = started.status.pid;
    const bead = await mayorBead(sandbox, 'Plan the auth work');
    const out = await json<SlingJson>(['sling', bead, 'mayor']);
    assert.equal(out.results[0]?.agent, 'mayor');
    assert.equal(out.results[0]?.status, 'slung');
    assert.equal(out.results[0]?.session?.started, false, 'the running Mayor is not restarted');
    assert.equal(out.results[0]?.session?.name, 'gt-mayor');
    const s = await status();
    assert.equal(s.pid, pid);
    assert.equal(s.recorded_state, 'working');
    const row = (await json<Array<Record<string, unknown>>>(['agents'])).find((a) => a.id === 'mayor');
    assert.equal(row?.session, 'gt-mayor', 'the session stays on the record');
    assert.equal(row?.hooked_bead, bead);
    await until('the nudge in the pane', async () => /Work slung to your hook/.test(await peek()));
    await until('the sim to run the bead', async () => /planning the work/.test(await peek()), 30_000);
    assert.equal(tmux(['list-sessions', '-F', '#{session_name}']).trim(), 'gt-mayor');
    await json(['mayor', 'stop']);
    await until('the session to go', async () => !hasSession());
  });

  test('sling to a stopped Mayor starts it with the Mayor start lock: racing starts make one session', async () => {
    const fresh = await makeTown();
    const freshSocket = join(fresh.town, '.gt', 'tmux.sock');
    try {
      const set = await fresh.gt(['config', 'set', 'roles.mayor.agent', 'sim'], { cwd: fresh.town });
      assert.equal(set.code, 0, set.stderr);
      rmSync(join(fresh.town, 'mayor', 'AGENTS.md'));
      const bead = await mayorBead(fresh, 'Plan the billing work');
      const [sling, ...starts] = await Promise.all([
        fresh.gtJson<SlingJson>(['sling', bead, 'mayor'], { cwd: fresh.town }),
        fresh.gtJson<StartResult>(['mayor', 'start'], { cwd: fresh.town }),
        fresh.gtJson<StartResult>(['mayor', 'start'], { cwd: fresh.town }),
      ]);
      const slung = sling.results[0]!;
      assert.equal(slung.status, 'slung');
      assert.equal(slung.session?.name, 'gt-mayor');
      assert.equal(slung.session?.preset, 'sim');
      assert.equal(slung.session?.model, 'sim-strong', "the Mayor's strong model");
      const startedBy = [slung.session?.started, ...starts.map((r) => r.started)].filter(Boolean).length;
      assert.equal(startedBy, 1, `exactly one start made the session: ${JSON.stringify({ sling, starts })}`);
      const sessions = execFileSync('tmux', ['-S', freshSocket, 'list-sessions', '-F', '#{session_name}'], {
        encoding: 'utf8',
      }).trim();
      assert.equal(sessions, 'gt-mayor');
      // startMayor's own work: the home's instruction file is written again.
      assert.ok(existsSync(join(fresh.town, 'mayor', 'AGENTS.md')));
      const st = await fresh.gtJson<Status>(['mayor', 'status'], { cwd: fresh.town });
      assert.equal(st.state, 'running');
      assert.equal(st.recorded_state, 'working');
      const hook = await fresh.gtJson<{ agent: string; bead: { id: string } | null }>(['hook', 'mayor'], {
        cwd: fresh.town,
      });
      assert.equal(hook.bead?.id, bead);
      const screen = await until(
        'the sim Mayor to run its hooked bead',
        async () => {
          const p = await fresh.gtJson<{ lines: string[] }>(['peek', 'mayor', '-n', '80'], {
            cwd: fresh.town,
          });
          const text = p.lines.join('\n');
          return /planning the work/.test(text) && text;
        },
        30_000,
      );
      assert.match(screen, /"role":"mayor"/);
    } finally {
      fresh.cleanup();
    }
  });

  test('a refused first start leaves no record', async () => {
    const fresh = await makeTown();
    try {
      const start = await fresh.gt(['mayor', 'start', '--agent', 'no-such-agent', '--json'], {
        cwd: fresh.town,
      });
      assert.equal(start.code, 1);
      assert.equal(JSON.parse(start.stderr.trim().split('\n').pop()!).code, 'GT_E_UNKNOWN_AGENT');
      const agents = await fresh.gt(['agents', '--json'], { cwd: fresh.town });
      assert.deepEqual(JSON.parse(agents.stdout), []);
    } finally {
      fresh.cleanup();
    }
  });
});
