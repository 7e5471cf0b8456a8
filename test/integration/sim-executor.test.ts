/**
 * The sim executor against real git repos in temp dirs: real files, real commits, real pushes to a bare
 * origin protected by gt's pre-receive guard, real merges for the conflict fault.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ExecContext, executeSteps, type SimEvent } from '../../src/runtime/sim/executor';
import { parseSimScript, type SimStep } from '../../src/runtime/sim/script';
import {
  git,
  gtCalls,
  identityEnv,
  makeSimFixture,
  makeWorktree,
  readJsonl,
  type SimFixture,
} from '../helpers/sim-env';

function parse(text: string): SimStep[] {
  const result = parseSimScript(text);
  assert.ok(result.ok, JSON.stringify(result));
  return result.steps;
}

describe('sim executor on real git repos', () => {
  let fx: SimFixture;
  before(async () => {
    fx = await makeSimFixture('exec');
  });
  after(() => fx.cleanup());

  function context(cwd: string, name: string, bead: string, events: SimEvent[], extraEnv = {}): ExecContext {
    return {
      cwd,
      env: { ...fx.env, ...identityEnv(fx, name), ...extraEnv },
      gtBin: fx.gtBin,
      log: (e) => events.push(e),
      transcriptPath: join(fx.root, 'transcripts', `${name}.jsonl`),
      agent: `rig/polecats/${name}`,
      bead,
    };
  }

  test('file steps, run, commit, usage and done do the real thing', async () => {
    const wt = makeWorktree(fx, 'toast', 'gt-t1');
    const events: SimEvent[] = [];
    const ctx = context(wt, 'toast', 'gt-t1', events);
    const result = await executeSteps(
      parse(
        [
          'write src/feature.txt "hello\\n"',
          'append README.md "line 4"',
          'edit README.md 2 "line two"',
          'write old.txt "bye"',
          'commit "Add old"',
          'delete old.txt',
          'run git status --short',
          'commit "Add feature"',
          'commit "nothing left"',
          'usage input=1200 output=300 model=sim-small',
          'done --message "feature ready"',
          'say never reached',
        ].join('\n'),
      ),
      ctx,
    );
    assert.deepEqual(result, { outcome: { kind: 'done', ok: true, exit_code: 0 }, stepsRun: 11 });
    assert.equal(readFileSync(join(wt, 'src/feature.txt'), 'utf8'), 'hello\n');
    assert.equal(readFileSync(join(wt, 'README.md'), 'utf8'), 'line 1\nline two\nline 3\nline 4\n');
    assert.equal(existsSync(join(wt, 'old.txt')), false);
    assert.equal(git(wt, fx.env, 'log', '--format=%s', 'main..HEAD'), 'Add feature\nAdd old');
    assert.equal(git(wt, fx.env, 'status', '--porcelain'), '', 'everything committed');

    const ran = events.find((e) => e.type === 'ran');
    assert.equal(ran?.exit_code, 0);
    assert.match(String(ran?.stdout), /D old.txt/);
    const commits = events.filter((e) => e.type === 'commit');
    assert.equal(commits[2]?.committed, false, 'an empty commit is a no-op, not a failure');
    assert.match(String(commits[1]?.sha), /^[0-9a-f]{40}$/);

    const usage = readJsonl(ctx.transcriptPath);
    assert.equal(usage.length, 1);
    assert.deepEqual(
      { ...usage[0], ts: undefined },
      {
        type: 'usage',
        ts: undefined,
        agent: 'rig/polecats/toast',
        bead: 'gt-t1',
        model: 'sim-small',
        input_tokens: 1200,
        output_tokens: 300,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
      },
    );
    const done = gtCalls(fx).find((c) => c.argv[0] === 'done');
    assert.deepEqual(done?.argv, ['done', '--message', 'feature ready']);
    assert.equal(done?.env.GT_AGENT, 'rig/polecats/toast');
    assert.equal(done?.cwd, wt);
  });

  test('a failing gt done is reported, not hidden', async () => {
    const wt = makeWorktree(fx, 'nux', 'gt-n1');
    const events: SimEvent[] = [];
    const result = await executeSteps(
      parse('done'),
      context(wt, 'nux', 'gt-n1', events, { FAKE_GT_DONE_EXIT: '3' }),
    );
    assert.deepEqual(result.outcome, { kind: 'done', ok: false, exit_code: 3 });
  });

  test('run never goes through a shell; sh does, explicitly', async () => {
    const wt = makeWorktree(fx, 'slit', 'gt-s1');
    const events: SimEvent[] = [];
    await executeSteps(
      parse(
        ['run echo $(touch pwned1) ; touch pwned2', 'run "touch pwned3; true"', 'sh "touch via-shell"'].join(
          '\n',
        ),
      ),
      context(wt, 'slit', 'gt-s1', events),
    );
    for (const f of ['pwned1', 'pwned2', 'pwned3', '$(touch'])
      assert.equal(existsSync(join(wt, f)), false, f);
    assert.equal(existsSync(join(wt, 'via-shell')), true);
    const ran = events.filter((e) => e.type === 'ran');
    assert.equal(ran[0]?.stdout, '$(touch pwned1) ; touch pwned2\n');
    assert.equal(ran[1]?.exit_code, null, 'no program named "touch pwned3; true"');
    assert.match(String(ran[1]?.error), /ENOENT/);
  });

  test('hang, crash and exit stop the script and say where', async () => {
    const wt = makeWorktree(fx, 'rust', 'gt-r1');
    for (const [script, outcome] of [
      ['say a\nhang\nwrite after.txt "x"', { kind: 'hang', line: 2 }],
      ['crash 3\nwrite after.txt "x"', { kind: 'crash', code: 3, line: 1 }],
      ['exit\nwrite after.txt "x"', { kind: 'exit', code: 0, line: 1 }],
    ] as const) {
      const result = await executeSteps(parse(script), context(wt, 'rust', 'gt-r1', []));
      assert.deepEqual(result.outcome, outcome);
      assert.equal(existsSync(join(wt, 'after.txt')), false);
    }
  });

  test('push-main is attempted for real and refused by the rig guard', async () => {
    const wt = makeWorktree(fx, 'furiosa', 'gt-f1');
    const before = git(fx.root, fx.env, '--git-dir', fx.origin, 'rev-parse', 'main');
    const events: SimEvent[] = [];
    await executeSteps(
      parse('write evil.txt "x"\ncommit "evil"\npush-main'),
      context(wt, 'furiosa', 'gt-f1', events),
    );
    const push = events.find((e) => e.type === 'push-main');
    assert.equal(push?.refused, true);
    assert.notEqual(push?.exit_code, 0);
    assert.match(String(push?.stderr), /only the Refinery may write the default branch/);
    assert.equal(
      git(fx.root, fx.env, '--git-dir', fx.origin, 'rev-parse', 'main'),
      before,
      'main did not move',
    );
  });

  test('conflict: two beads editing the same line cannot merge cleanly', async () => {
    const a = makeWorktree(fx, 'alpha', 'gt-c1');
    const b = makeWorktree(fx, 'beta', 'gt-c2');
    await executeSteps(parse('conflict README.md 2\ncommit "alpha edit"'), context(a, 'alpha', 'gt-c1', []));
    await executeSteps(parse('conflict README.md 2\ncommit "beta edit"'), context(b, 'beta', 'gt-c2', []));
    assert.match(
      readFileSync(join(a, 'README.md'), 'utf8'),
      /^line 1\nsim conflict: bead gt-c1 agent rig\/polecats\/alpha\n/,
    );
    git(b, fx.env, 'push', '-q', 'origin', 'HEAD');
    git(a, fx.env, 'fetch', '-q', 'origin', 'polecat/beta/gt-c2');
    const merge = spawnSync('git', ['merge', '--no-edit', 'FETCH_HEAD'], {
      cwd: a,
      env: fx.env,
      encoding: 'utf8',
    });
    assert.notEqual(merge.status, 0);
    assert.match(merge.stdout, /CONFLICT \(content\): Merge conflict in README.md/);
  });

  test('break-tests writes a test that really fails', async () => {
    const wt = makeWorktree(fx, 'ace', 'gt-b1');
    await executeSteps(parse('break-tests\ncommit "break"'), context(wt, 'ace', 'gt-b1', []));
    const run = spawnSync(process.execPath, ['--test', 'test/sim-broken.test.mjs'], {
      cwd: wt,
      env: fx.env,
      encoding: 'utf8',
    });
    assert.notEqual(run.status, 0, run.stdout);
    assert.match(run.stdout, /deliberately broken/);
  });

  test('writes cannot escape through a symlink or into .git', async () => {
    const wt = makeWorktree(fx, 'dag', 'gt-d1');
    const outside = join(fx.root, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, join(wt, 'link'));
    symlinkSync(join(outside, 'target.txt'), join(wt, 'file-link'));
    for (const script of [
      'write link/x.txt "pwned"',
      'write file-link "pwned"',
      'append link/y.txt "pwned"',
    ]) {
      const events: SimEvent[] = [];
      const result = await executeSteps(parse(script), context(wt, 'dag', 'gt-d1', events));
      assert.equal(result.outcome.kind, 'failed', script);
      assert.match(String(events.find((e) => e.type === 'error')?.message), /symlink/);
    }
    assert.deepEqual(execFileSync('ls', ['-A', outside], { encoding: 'utf8' }), '');
    // .git is refused at parse time; the executor refuses it too if handed such a step directly.
    const direct = await executeSteps(
      [{ kind: 'write', line: 1, path: '.git/hooks/post-commit', content: 'x' }],
      context(wt, 'dag', 'gt-d1', []),
    );
    assert.equal(direct.outcome.kind, 'failed');
    assert.equal(existsSync(join(wt, '.git', 'hooks', 'post-commit')), false);
  });
});
