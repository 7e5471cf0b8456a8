import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadlessProvider } from '../../src/runtime/headless';
import { isProcessAlive } from '../../src/runtime/proctree';
import type { SessionProvider, StartSpec } from '../../src/runtime/session';
import { TmuxProvider } from '../../src/runtime/tmux';
import { until } from '../helpers/wait';

/** One suite, run against every SessionProvider. Real tmux on a private socket, real processes. */
const ECHO_AGENT = resolve(import.meta.dirname, '../helpers/echo-agent.mjs');

interface Fixture {
  provider: SessionProvider;
  root: string;
  cleanup: () => Promise<void>;
}

const providers: Array<[string, (root: string) => Fixture]> = [
  [
    'tmux',
    (root) => {
      const provider = new TmuxProvider({
        socket: join(root, 'tmux.sock'),
        stateDir: join(root, 'sessions'),
      });
      return { provider, root, cleanup: () => provider.killServer() };
    },
  ],
  [
    'headless',
    (root) => {
      const provider = new HeadlessProvider(join(root, 'sessions'));
      return {
        provider,
        root,
        cleanup: async () => {
          for (const name of await provider.list()) await provider.kill(name);
        },
      };
    },
  ],
];

for (const [kind, make] of providers) {
  describe(`SessionProvider conformance: ${kind}`, () => {
    let fx: Fixture;
    let n = 0;
    const spec = (extra: Partial<StartSpec> = {}, agentArgs: string[] = []): StartSpec => {
      n += 1;
      return {
        name: `gt-rig-cat${n}`,
        command: process.execPath,
        args: [ECHO_AGENT, ...agentArgs],
        cwd: fx.root,
        env: {
          GT_TOWN: fx.root,
          GT_RIG: 'rig',
          GT_ROLE: 'polecat',
          GT_AGENT: `rig/cat${n}`,
          BD_ACTOR: `rig/cat${n}`,
        },
        secretEnv: { GT_TEST_SECRET: 'hunter2-secret' },
        logFile: join(fx.root, 'logs', `cat${n}.log`),
        openStdin: true,
        ...extra,
      };
    };
    const output = async (name: string, pattern: string) =>
      until(`${pattern} in ${name}`, async () => {
        const text = await fx.provider.capture(name, 200);
        return text.includes(pattern) ? text : undefined;
      });

    before(() => {
      // Undeclared credentials in gt's environment must not reach sessions.
      process.env.GT_CONFORMANCE_API_KEY = 'undeclared-key';
      fx = make(realpathSync(mkdtempSync(join(tmpdir(), `gtc-${kind}-`))));
    });
    after(async () => {
      await fx.cleanup();
      rmSync(fx.root, { recursive: true, force: true });
    });

    test('start: identity env, secrets and cwd are visible inside; secrets are on no command line', async () => {
      const s = spec();
      const info = await fx.provider.start(s);
      assert.ok(info.pid && info.pid > 0);
      const text = await output(s.name, 'READY>');
      assert.match(text, new RegExp(`ENV GT_AGENT=${s.env.GT_AGENT}`));
      assert.match(text, /ENV GT_ROLE=polecat/);
      assert.match(text, /ENV BD_ACTOR=rig\/cat/);
      assert.match(text, /ENV GT_TEST_SECRET=hunter2-secret/);
      assert.match(text, /ENV GT_CONFORMANCE_API_KEY=$/m, 'undeclared credential inherited');
      assert.ok(text.includes(`CWD ${fx.root}`), text);
      const ps = execFileSync('ps', ['-A', '-o', 'args='], { encoding: 'utf8' });
      assert.ok(!ps.includes('hunter2-secret'), 'secret visible in ps');
      assert.ok(!existsSync(join(fx.root, 'sessions', s.name, 'launch.env')), 'env file left behind');
      assert.deepEqual(await fx.provider.list().then((l) => l.includes(s.name)), true);
    });

    test('liveness reports session and process; output is logged to a file', async () => {
      const s = spec();
      await fx.provider.start(s);
      await output(s.name, 'READY>');
      const live = await fx.provider.liveness(s.name);
      assert.equal(live.session, true);
      assert.equal(live.processAlive, true);
      assert.ok(live.pid);
      await until('log file', async () => readFileSync(s.logFile, 'utf8').includes('READY>'));
      const none = await fx.provider.liveness('gt-no-such-session');
      assert.deepEqual(none, { session: false, processAlive: false, pid: null, exitCode: null });
    });

    test('hostile text is sent literally and nothing is executed', async () => {
      const s = spec();
      await fx.provider.start(s);
      await output(s.name, 'READY>');
      const marker = join(fx.root, 'pwned');
      const hostile = `$(touch ${marker}); rm -rf ~ \`touch ${marker}\` C-c Enter -n "q" 'q' \\ #{pane_pid} end;`;
      await fx.provider.sendText(s.name, hostile);
      await fx.provider.sendKeys(s.name, 'Enter');
      const text = await output(s.name, 'GOT[');
      assert.ok(text.includes(`GOT[${JSON.stringify(hostile)}]`), text);
      assert.equal(existsSync(marker), false);
    });

    test('a killed agent process is detected within seconds, with the session still present', async () => {
      const s = spec();
      await fx.provider.start(s);
      await output(s.name, 'READY>');
      const { pid } = await fx.provider.liveness(s.name);
      // Kill the agent itself (the node process under the launcher), not the session.
      const agentPid = childOf(pid!);
      process.kill(agentPid, 'SIGKILL');
      const started = Date.now();
      await until('death detected', async () => !(await fx.provider.liveness(s.name)).processAlive, 3000);
      assert.ok(Date.now() - started < 3000);
      const dead = await fx.provider.liveness(s.name);
      assert.equal(dead.session, true);
      assert.equal(dead.exitCode, 137, 'killed by SIGKILL: 128 + 9');
    });

    test('starting over a session whose agent died replaces it; over a live one is refused', async () => {
      const s = spec();
      const first = await fx.provider.start(s);
      await output(s.name, 'READY>');
      await assert.rejects(fx.provider.start(s), /already running/);
      process.kill(childOf(first.pid!), 'SIGKILL');
      await until('dead', async () => !(await fx.provider.liveness(s.name)).processAlive, 3000);
      const second = await fx.provider.start(s);
      assert.notEqual(second.pid, first.pid);
      assert.equal((await fx.provider.liveness(s.name)).processAlive, true);
    });

    test('exit status is known', async () => {
      const s = spec({}, ['--exit', '7']);
      await fx.provider.start(s);
      await output(s.name, 'READY>');
      await fx.provider.sendText(s.name, 'bye');
      await fx.provider.sendKeys(s.name, 'Enter');
      assert.equal(await fx.provider.waitForExit(s.name, 5000), 7);
    });

    test('kill takes the whole process tree and removes the session', async () => {
      const s = spec();
      const pidFile = join(fx.root, `${s.name}.child`);
      s.args.push('--spawn-child', pidFile);
      await fx.provider.start(s);
      await output(s.name, 'READY>');
      const grandchild = Number(readFileSync(pidFile, 'utf8'));
      assert.ok(isProcessAlive(grandchild));
      const { pid } = await fx.provider.liveness(s.name);
      await fx.provider.kill(s.name);
      await until('tree dead', async () => !isProcessAlive(grandchild) && !isProcessAlive(pid), 3000);
      assert.equal((await fx.provider.liveness(s.name)).session, false);
      assert.ok(!(await fx.provider.list()).includes(s.name));
      await fx.provider.kill(s.name); // idempotent
    });
  });
}

function childOf(pid: number): number {
  const out = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  for (const line of out.split('\n')) {
    const [c, p] = line.trim().split(/\s+/).map(Number);
    if (p === pid && c) return c;
  }
  throw new Error(`no child of ${pid}`);
}

describe('headless stdin', () => {
  test('without openStdin, stdin is the initial input then end-of-file (agents that read it all start)', async () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'gtc-stdin-')));
    const provider = new HeadlessProvider(join(root, 'sessions'));
    try {
      const script =
        "let d='';process.stdin.on('data',c=>d+=c).on('end',()=>{console.log('READ['+d.trim()+']');process.exit(3)})";
      await provider.start({
        name: 'gt-stdin',
        command: process.execPath,
        args: ['-e', script],
        cwd: root,
        env: {},
        logFile: join(root, 'out.log'),
        stdin: 'the prompt\n',
      });
      assert.equal(await provider.waitForExit('gt-stdin', 5000), 3);
      assert.match(await provider.capture('gt-stdin', 5), /READ\[the prompt\]/);
      await assert.rejects(provider.sendText('gt-stdin', 'x'), /no running session|does not accept input/);
    } finally {
      await provider.kill('gt-stdin');
      rmSync(root, { recursive: true, force: true });
    }
  });
});
