/**
 * The sim agent as a real process: headless one-shot (JSON lines, exit status) and interactive in tmux on a
 * private socket (ready prompt, nudges received and logged), with its fault modes exercised for real.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  git,
  gtCalls,
  identityEnv,
  makeSimFixture,
  makeWorktree,
  readJsonl,
  type SimFixture,
} from '../helpers/sim-env';

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  events: Array<Record<string, unknown>>;
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function hookJson(id: string, title: string, description: string): string {
  return JSON.stringify({ bead: { id, title, description } });
}

describe('sim agent process', () => {
  let fx: SimFixture;
  const children: ChildProcess[] = [];
  before(async () => {
    fx = await makeSimFixture('agent');
  });
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    fx.cleanup();
  });

  function env(name: string, extra: Record<string, string> = {}): Record<string, string> {
    return { ...fx.env, ...identityEnv(fx, name), ...extra };
  }

  function start(
    cwd: string,
    args: string[],
    extraEnv: Record<string, string>,
    input?: string,
  ): ChildProcess {
    const child = spawn(process.execPath, [fx.simJs, ...args], {
      cwd,
      env: extraEnv,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (input !== undefined) child.stdin?.end(input);
    children.push(child);
    return child;
  }

  async function runHeadless(
    cwd: string,
    name: string,
    extra: Record<string, string>,
    args: string[] = ['-p', 'Run gt prime and begin work.'],
    input?: string,
  ): Promise<Run> {
    const t0 = Date.now();
    const child = start(cwd, args, env(name, extra), input);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const [status, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        resolve([code, sig]);
      });
    });
    const events = stdout
      .split('\n')
      .filter((l) => l.trim().length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { status, signal, stdout, stderr, events, ms: Date.now() - t0 };
  }

  test('headless: reads the hooked bead, runs its script, commits, reports usage, calls gt done', async () => {
    const wt = makeWorktree(fx, 'toast', 'gt-h1');
    const description = [
      'Implement the feature.',
      '```sim',
      'write src/feature.txt "hello"',
      'append README.md "line 4"',
      'run git status --short',
      'commit "Add feature"',
      'sleep 10ms',
      'usage input=1200 output=300 model=sim-small',
      'push-main',
      'done',
      '```',
    ].join('\n');
    const run = await runHeadless(wt, 'toast', {
      FAKE_GT_HOOK_JSON: hookJson('gt-h1', 'Feature', description),
    });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.events.at(-1)?.type, 'result');
    assert.equal(run.events.at(-1)?.status, 'done');

    const start = run.events[0];
    assert.equal(start?.type, 'start');
    assert.equal(start?.role, 'polecat');
    assert.equal(start?.agent, 'rig/polecats/toast');
    assert.equal(start?.mode, 'headless');
    assert.equal(run.events.find((e) => e.type === 'script')?.source, 'bead:gt-h1');

    assert.deepEqual(
      gtCalls(fx)
        .filter((c) => c.cwd === wt)
        .map((c) => c.argv.join(' ')),
      ['prime', 'hook --json', 'done'],
    );
    assert.equal(git(wt, fx.env, 'log', '-1', '--format=%s'), 'Add feature');
    const push = run.events.find((e) => e.type === 'push-main');
    assert.equal(push?.refused, true, 'the push to main was attempted and refused');
    assert.match(String(push?.stderr), /only the Refinery may write the default branch/);
    assert.equal(readFileSync(join(wt, 'src/feature.txt'), 'utf8'), 'hello');

    // Usage: a machine-readable event on stdout and a record in the transcript (default path in the git dir).
    const usage = run.events.find((e) => e.type === 'usage');
    assert.equal(usage?.input_tokens, 1200);
    assert.equal(usage?.bead, 'gt-h1');
    const transcript = join(wt, '.git', 'gt-sim', 'transcript.jsonl');
    assert.equal(usage?.transcript, transcript);
    assert.equal(readJsonl(transcript)[0]?.output_tokens, 300);
    // The log file has every event that stdout had.
    const log = readJsonl(join(wt, '.git', 'gt-sim', 'sim.log'));
    assert.deepEqual(
      log.map((e) => e.type),
      run.events.map((e) => e.type),
    );
    assert.equal(git(wt, fx.env, 'status', '--porcelain'), '', 'logs never land in the worktree');
  });

  test('headless default: a bead without a script gets a small real change, a commit and gt done', async () => {
    const wt = makeWorktree(fx, 'nux', 'gt-d2');
    const run = await runHeadless(wt, 'nux', {
      FAKE_GT_HOOK_JSON: hookJson(
        'gt-d2',
        'Add $(touch pwned) `id` login',
        'Plain text, no script; $(touch pwned2)',
      ),
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.events.find((e) => e.type === 'script')?.source, 'default:gt-d2');
    assert.equal(git(wt, fx.env, 'log', '-1', '--format=%s'), 'gt-d2: Add $(touch pwned) `id` login');
    assert.match(readFileSync(join(wt, 'sim', 'gt-d2.md'), 'utf8'), /Add \$\(touch pwned\)/);
    for (const f of ['pwned', 'pwned2']) assert.equal(existsSync(join(wt, f)), false);
    assert.ok(gtCalls(fx).some((c) => c.cwd === wt && c.argv[0] === 'done'));
  });

  test('headless one-shot: script in the prompt on stdin, no gt, GT_SIM_NO_GT', async () => {
    const wt = makeWorktree(fx, 'slit', 'gt-o1');
    const run = await runHeadless(
      wt,
      'slit',
      { GT_SIM_NO_GT: '1' },
      ['-p'],
      'Do this:\n```sim\nsay from stdin\nwrite a.txt "a"\ncommit "one-shot"\n```\n',
    );
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.events.find((e) => e.type === 'script')?.source, 'prompt');
    assert.equal(run.events.at(-1)?.status, 'completed');
    assert.equal(git(wt, fx.env, 'log', '-1', '--format=%s'), 'one-shot');
    assert.equal(gtCalls(fx).filter((c) => c.cwd === wt).length, 0);
  });

  test('GT_SIM_SCRIPT_FILE overrides the bead; no work means a clean no-work result', async () => {
    const wt = makeWorktree(fx, 'rust', 'gt-f2');
    const file = join(fx.root, 'script.sim');
    writeFileSync(file, 'say from a file\n');
    const run = await runHeadless(wt, 'rust', {
      GT_SIM_SCRIPT_FILE: file,
      FAKE_GT_HOOK_JSON: hookJson('gt-f2', 'x', '```sim\ncrash\n```'),
    });
    assert.equal(run.status, 0);
    assert.equal(run.events.find((e) => e.type === 'script')?.source, `file:${file}`);

    const idle = await runHeadless(wt, 'rust', {});
    assert.equal(idle.status, 0);
    assert.equal(idle.events.at(-1)?.status, 'no-work');
  });

  test('faults: crash exits non-zero, exit leaves without gt done, bad script exits 2', async () => {
    const wt = makeWorktree(fx, 'ace', 'gt-x1');
    const crash = await runHeadless(wt, 'ace', { GT_SIM_SCRIPT: 'write half.txt "x"\ncrash 3\ndone' });
    assert.equal(crash.status, 3);
    assert.match(crash.stderr, /crashing deliberately \(exit 3\)/);
    assert.equal(
      crash.events.some((e) => e.type === 'result'),
      false,
      'a crash prints no result',
    );

    const early = await runHeadless(wt, 'ace', {
      GT_SIM_SCRIPT: 'write w.txt "x"\ncommit "wip"\nexit\ndone',
    });
    assert.equal(early.status, 0);
    assert.equal(early.events.find((e) => e.type === 'outcome')?.kind, 'exit');
    assert.equal(
      gtCalls(fx).some((c) => c.cwd === wt && c.argv[0] === 'done'),
      false,
      'neither run called gt done',
    );

    const bad = await runHeadless(wt, 'ace', {
      FAKE_GT_HOOK_JSON: hookJson('gt-x1', 't', '```sim\nwrite ../../etc/x "y"\nfrobnicate\n```'),
    });
    assert.equal(bad.status, 2);
    const err = bad.events.find((e) => e.type === 'script-error');
    assert.equal((err?.errors as unknown[] | undefined)?.length, 2);
    assert.equal(bad.events.at(-1)?.status, 'bad-script');
  });

  test('faults: slow work takes its time; a hung agent stays alive and silent', async () => {
    const wt = makeWorktree(fx, 'dag', 'gt-y1');
    const slow = await runHeadless(wt, 'dag', { GT_SIM_SCRIPT: 'sleep 1s\nsay awake' });
    assert.equal(slow.status, 0);
    assert.ok(slow.ms >= 1000, `took ${slow.ms} ms`);

    const logPath = join(fx.root, 'hang.log');
    const child = start(
      wt,
      ['-p', '--log', logPath],
      env('dag', { GT_SIM_SCRIPT: 'say about to hang\nhang\nsay never' }),
    );
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    // Detectable: the last event logged is "hang", and afterwards the process is alive with no output.
    const deadline = Date.now() + 10_000;
    while (!/"type":"hang"/.test(out) && Date.now() < deadline) await sleep(50);
    assert.match(out, /"type":"hang"/);
    const size = statSync(logPath).size;
    const outLength = out.length;
    await sleep(1500);
    assert.equal(child.exitCode, null, 'still running');
    assert.equal(statSync(logPath).size, size, 'log did not grow');
    assert.equal(out.length, outLength, 'no output');
    assert.equal(readJsonl(logPath).at(-1)?.type, 'hang');
    child.kill('SIGKILL');
  });

  test('interactive via a pipe: idle with no work, a nudge makes it check the hook again', async () => {
    const wt = makeWorktree(fx, 'max', 'gt-i1');
    const hookFile = join(fx.root, 'max-hook.json');
    rmSync(hookFile, { force: true });
    const child = spawn(process.execPath, [fx.simJs, '--interactive'], {
      cwd: wt,
      env: env('max', { FAKE_GT_HOOK_FILE: hookFile }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const waitFor = async (re: RegExp, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!re.test(out) && Date.now() < deadline) await sleep(25);
      assert.match(out, re, `waiting for ${what}:\n${out}`);
    };
    await waitFor(/\[sim\] idle/, 'idle');
    assert.ok(out.endsWith('sim> '), 'ready prompt shown');
    writeFileSync(
      hookFile,
      hookJson('gt-i1', 'Nudged work', '```sim\nwrite n.txt "n"\ncommit "nudged"\ndone\n```'),
    );
    child.stdin?.write('Check your hook with gt hook. If work is present, begin immediately.\n');
    await waitFor(/\[sim\] outcome .*"kind":"done"/, 'the work to finish');
    await waitFor(/sim> $/, 'the prompt again');
    assert.equal(git(wt, fx.env, 'log', '-1', '--format=%s'), 'nudged');
    child.stdin?.end();
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    assert.equal(code, 0, 'input closed: exits cleanly');
  });

  test('interactive in tmux: ready prompt, work from the hook, nudges received and logged literally', async () => {
    const wt = makeWorktree(fx, 'cheedo', 'gt-t9');
    const sock = join(fx.root, 'tmux.sock');
    const tmux = (...args: string[]) =>
      execFileSync('tmux', ['-S', sock, '-f', '/dev/null', ...args], { encoding: 'utf8', env: fx.env });
    try {
      const sessionEnv = env('cheedo', {
        TERM: 'xterm-256color',
        GT_MODEL: 'sim-small',
        FAKE_GT_HOOK_JSON: hookJson(
          'gt-t9',
          'tmux work',
          '```sim\nwrite t.txt "t"\ncommit "from tmux"\nusage input=7 output=3\ndone\n```',
        ),
      });
      const envArgs = Object.entries(sessionEnv).map(([k, v]) => `${k}=${v}`);
      tmux(
        'new-session',
        '-d',
        '-s',
        'gt-rig-cheedo',
        '-x',
        '200',
        '-y',
        '50',
        '-c',
        wt,
        'env',
        '-i',
        ...envArgs,
        process.execPath,
        fx.simJs,
        'Run gt prime and begin work.',
      );
      const capture = () => tmux('capture-pane', '-p', '-J', '-t', 'gt-rig-cheedo').trimEnd();
      const waitScreen = async (re: RegExp, what: string) => {
        const deadline = Date.now() + 15_000;
        let screen = capture();
        while (!re.test(screen) && Date.now() < deadline) {
          await sleep(100);
          screen = capture();
        }
        assert.match(screen, re, `waiting for ${what}:\n${screen}`);
        return screen;
      };
      const screen = await waitScreen(
        /\[sim\] outcome[^\n]*"kind":"done"[\s\S]*\nsim> *$/,
        'done and the ready prompt',
      );
      assert.match(
        screen,
        /^GT_USAGE \{.*"agent":"rig\/polecats\/cheedo","bead":"gt-t9","model":"sim-small","input_tokens":7/m,
      );
      assert.equal(
        screen.match(/^sim> *$/gm)?.length,
        1,
        'only the live prompt is on screen (the first was erased)',
      );
      assert.equal(git(wt, fx.env, 'log', '-1', '--format=%s'), 'from tmux');

      const nudge = 'please check mail; $(touch nudged) `id`';
      tmux('send-keys', '-t', 'gt-rig-cheedo', '-l', nudge);
      await sleep(100);
      tmux('send-keys', '-t', 'gt-rig-cheedo', 'Enter');
      await waitScreen(/\[sim\] ack/, 'the nudge acknowledged');
      const log = readJsonl(join(wt, '.git', 'gt-sim', 'sim.log'));
      assert.ok(
        log.some((e) => e.type === 'input' && e.text === nudge),
        'the nudge is in the log, verbatim',
      );
      assert.equal(existsSync(join(wt, 'nudged')), false);

      tmux('send-keys', '-t', 'gt-rig-cheedo', '-l', '/exit');
      tmux('send-keys', '-t', 'gt-rig-cheedo', 'Enter');
      const deadline = Date.now() + 5000;
      let alive = true;
      while (alive && Date.now() < deadline) {
        await sleep(100);
        try {
          tmux('has-session', '-t', 'gt-rig-cheedo');
        } catch {
          alive = false;
        }
      }
      assert.equal(alive, false, '/exit ends the session');
    } finally {
      try {
        tmux('kill-server');
      } catch {
        // already gone
      }
    }
  });
});
