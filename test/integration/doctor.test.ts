import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { makeSandbox, makeTown } from '../helpers/gt';
import { makeRefineryTown } from '../helpers/refinery-fixtures';

interface Report {
  ok: boolean;
  checks: Array<{
    id: string;
    status: string;
    message: string;
    hint?: string;
    fixed?: string;
    fixError?: string;
  }>;
}

const hasTmux = spawnSync('tmux', ['-V']).status === 0;

describe('gt doctor', async () => {
  const sandbox = await makeTown({ rig: true });
  const { town, gt, git, gitRun } = sandbox;
  after(() => sandbox.cleanup());
  const rig = join(town, 'rigs', 'app');
  const bare = join(rig, 'repo.git');
  const doctor = async (...args: string[]) => {
    const run = await gt(['doctor', '--json', ...args], { cwd: town });
    return { code: run.code, report: JSON.parse(run.stdout) as Report };
  };
  const check = (report: Report, id: string) => {
    const found = report.checks.find((c) => c.id === id);
    assert.ok(found, `check ${id} present`);
    return found;
  };

  test('a new town with a rig is healthy', async () => {
    const run = await gt(['doctor'], { cwd: town });
    assert.equal(run.code, 0, run.stdout);
    for (const id of [
      'node',
      'git',
      'town-config',
      'ledger',
      'rig:app:repo',
      'rig:app:guard',
      'rig:app:refinery',
      'rig:app:refinery-scratch',
    ]) {
      assert.match(run.stdout, new RegExp(`^pass\\s+${id}\\s`, 'm'), id);
    }
    assert.match(run.stdout, /0 failed/);
  });

  test('finds and fixes a removed protected-main hook', async () => {
    unlinkSync(join(bare, 'hooks', 'pre-receive'));
    const broken = await doctor();
    assert.equal(broken.code, 1, 'a missing guard is a failure');
    assert.equal(check(broken.report, 'rig:app:guard').status, 'fail');
    assert.match(check(broken.report, 'rig:app:guard').message, /pre-receive is missing/);

    const fixed = await doctor('--fix');
    assert.equal(fixed.code, 0, JSON.stringify(fixed.report, null, 2));
    assert.equal(check(fixed.report, 'rig:app:guard').status, 'pass');
    assert.match(check(fixed.report, 'rig:app:guard').fixed ?? '', /reinstalled/);
    // And the guard works again.
    const clone = join(sandbox.dir, 'after-fix');
    git(['clone', '--quiet', bare, clone], sandbox.dir);
    git(['commit', '--quiet', '--allow-empty', '-m', 'x'], clone);
    assert.notEqual(gitRun(['push', 'origin', 'HEAD:main'], clone).code, 0);
  });

  test('finds a tampered hook and a hooksPath override', async () => {
    writeFileSync(join(bare, 'hooks', 'pre-receive'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(bare, 'hooks', 'pre-receive'), 0o755);
    git(['config', 'core.hooksPath', '/dev/null'], bare);
    const broken = await doctor();
    assert.equal(broken.code, 1);
    assert.match(check(broken.report, 'rig:app:guard').message, /differs from the one gt installs/);
    assert.match(check(broken.report, 'rig:app:guard').message, /core\.hooksPath/);
    assert.equal((await doctor('--fix')).code, 0);
    assert.equal(git(['config', 'core.hooksPath'], bare), 'hooks');
  });

  test('finds and prunes a stale worktree record without losing its branch', async () => {
    const refinery = join(rig, 'refinery');
    const wt = join(rig, 'polecats', 'nux');
    git(['worktree', 'add', '--quiet', '-b', 'polecat/nux/app-9', wt], refinery);
    git(['commit', '--quiet', '--allow-empty', '-m', 'work in a worktree'], wt);
    rmSync(wt, { recursive: true, force: true });
    const stale = await doctor();
    assert.equal(check(stale.report, 'rig:app:worktrees').status, 'warn');
    assert.match(check(stale.report, 'rig:app:worktrees').message, /1 stale worktree record/);
    const fixed = await doctor('--fix');
    assert.equal(check(fixed.report, 'rig:app:worktrees').status, 'pass');
    assert.equal(git(['worktree', 'list', '--porcelain'], refinery).match(/^worktree /gm)?.length, 1);
    assert.equal(git(['log', '-1', '--format=%s', 'polecat/nux/app-9'], refinery), 'work in a worktree');
  });

  test('removes stale pid/lock files but keeps live ones', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const stalePid = join(town, '.gt', 'run', 'witness-app.pid');
    const staleLock = join(town, '.gt', 'locks', 'sling.lock');
    const liveLock = join(town, '.gt', 'locks', 'live.lock');
    writeFileSync(stalePid, `${dead.stdout}\n`);
    writeFileSync(staleLock, JSON.stringify({ pid: Number(dead.stdout), at: Date.now() }));
    writeFileSync(liveLock, JSON.stringify({ pid: process.pid }));
    const found = await doctor();
    const locks = check(found.report, 'stale-locks');
    assert.equal(locks.status, 'warn');
    assert.match(locks.message, /witness-app\.pid/);
    assert.match(locks.message, /sling\.lock/);
    assert.doesNotMatch(locks.message, /live\.lock/);
    await doctor('--fix');
    assert.ok(!existsSync(stalePid) && !existsSync(staleLock));
    assert.ok(existsSync(liveLock));
    unlinkSync(liveLock);
  });

  test('restores a lost credential and re-keys the guard', async () => {
    unlinkSync(join(town, '.gt', 'refinery.secret'));
    const broken = await doctor();
    assert.equal(broken.code, 1);
    assert.equal(check(broken.report, 'refinery-credential').status, 'fail');
    const fixed = await doctor('--fix');
    assert.equal(fixed.code, 0, JSON.stringify(fixed.report, null, 2));
    assert.equal(check(fixed.report, 'rig:app:guard').status, 'pass');
    const secret = readFileSync(join(town, '.gt', 'refinery.secret'), 'utf8').trim();
    const refinery = join(rig, 'refinery');
    git(['commit', '--quiet', '--allow-empty', '-m', 'after re-key'], refinery);
    git(['fetch', '--quiet', 'origin'], refinery);
    git(['rebase', '--quiet', 'origin/main'], refinery);
    assert.equal(gitRun(['push', 'origin', 'HEAD:main'], refinery, { GT_REFINERY_TOKEN: secret }).code, 0);
  });

  test('orphaned tmux sessions and agent records whose session is gone', {
    skip: !hasTmux && 'tmux not installed',
  }, async () => {
    const socket = join(town, '.gt', 'tmux.sock');
    execFileSync('tmux', [
      '-S',
      socket,
      '-f',
      '/dev/null',
      'new-session',
      '-d',
      '-s',
      'gt-app-orphan',
      'sleep 300',
    ]);
    const db = new Database(join(town, '.gt', 'ledger.db'));
    const now = Date.now();
    db.prepare(
      `INSERT INTO agents (id, role, rig, name, state, session, runtime, created_at, updated_at)
       VALUES ('app/ghost', 'polecat', 'app', 'ghost', 'working', 'gt-app-ghost', 'tmux', ?, ?)`,
    ).run(now, now);
    db.close();
    const found = await doctor();
    assert.equal(check(found.report, 'sessions:orphaned').status, 'warn');
    assert.match(check(found.report, 'sessions:orphaned').message, /gt-app-orphan/);
    assert.equal(check(found.report, 'sessions:agents').status, 'warn');
    assert.match(check(found.report, 'sessions:agents').message, /app\/ghost/);
    const fixed = await doctor('--fix');
    assert.equal(check(fixed.report, 'sessions:orphaned').status, 'pass');
    const sessions = spawnSync('tmux', ['-S', socket, 'list-sessions'], { encoding: 'utf8' });
    assert.doesNotMatch(sessions.stdout, /gt-app-orphan/);
    // The agent record is reported, not deleted: the Witness owns its recovery.
    assert.equal(check(fixed.report, 'sessions:agents').status, 'warn');
  });

  test('fails outside a town, with a hint', async () => {
    const outside = makeSandbox();
    try {
      const run = await outside.gt(['doctor']);
      assert.equal(run.code, 1);
      assert.match(run.stdout, /^fail\s+town\s+no town found/m);
    } finally {
      outside.cleanup();
    }
  });
});

describe('gt doctor: Refinery scratch worktrees', () => {
  test('stale scratch worktrees are reported; --fix prunes and removes only what holds nothing unique', async () => {
    const t = await makeRefineryTown();
    try {
      const { git } = t.sb;
      const refineryToml = (parallelism: number) =>
        `[refinery]\nbatch_min = 2\nbatch_max = 2\ngate_parallelism = ${parallelism}`;
      // A real Refinery run with three gate slots: three stacked batches tested at once, in work, work-1, work-2.
      t.configure({ extra: refineryToml(3) });
      for (let i = 0; i < 6; i++) await t.addMr({ name: `s${i}` });
      await t.refinery().drain();
      const scratch = join(t.town, '.gt', 'refinery', 'app');
      const clone = join(t.town, 'rigs', 'app', 'refinery');
      const [work, work1, work2] = ['work', 'work-1', 'work-2'].map((name) => join(scratch, name)) as [
        string,
        string,
        string,
      ];
      for (const dir of [work, work1, work2])
        assert.ok(existsSync(join(dir, '.git')), `the Refinery made ${dir}`);
      const mainBefore = t.main();
      const doctor = async (...args: string[]) => {
        const run = await t.sb.gt(['doctor', '--json', ...args], { cwd: t.town });
        const report = JSON.parse(run.stdout) as Report;
        const found = report.checks.find((c) => c.id === 'rig:app:refinery-scratch');
        assert.ok(found, 'the refinery-scratch check is reported');
        return { report, scratch: found };
      };
      const registered = () =>
        git(['worktree', 'list', '--porcelain'], clone)
          .split('\n')
          .filter((line) => line.startsWith('worktree '))
          .map((line) => line.slice('worktree '.length));

      const healthy = await doctor();
      assert.equal(healthy.scratch.status, 'pass', healthy.scratch.message);
      assert.match(
        healthy.scratch.message,
        /3 Refinery scratch worktree\(s\), none stale \(gate_parallelism = 3\)/,
      );

      // Fewer slots now; work-1 deleted by hand; someone edits a tracked file in work-2.
      t.configure({ extra: refineryToml(1) });
      rmSync(work1, { recursive: true, force: true });
      const tracked = git(['ls-files'], work2).split('\n')[0]!;
      writeFileSync(join(work2, tracked), 'edited by hand\n');
      const stale = await doctor();
      assert.equal(stale.scratch.status, 'warn');
      assert.match(stale.scratch.message, /2 stale Refinery scratch worktree/);
      assert.match(stale.scratch.message, /work-1: its directory is gone .*\[fix: prune\]/);
      assert.match(stale.scratch.message, /work-2: slot 2 is unused \(gate_parallelism = 1\)/);
      assert.ok(stale.scratch.message.includes(`uncommitted changes to tracked files (${tracked})`));
      assert.match(stale.scratch.message, /work-2: .*\[kept: it has uncommitted changes/);
      assert.match(stale.scratch.hint ?? '', /--fix/);
      const records = stale.report.checks.find((c) => c.id === 'rig:app:worktrees');
      assert.equal(records?.status, 'pass', 'a scratch record is reported once, by refinery-scratch');

      const fixed = await doctor('--fix');
      assert.match(fixed.scratch.fixed ?? '', /pruned 1 stale registration\(s\) \(work-1\)/);
      assert.equal(fixed.scratch.status, 'warn', 'work-2 is still reported');
      assert.doesNotMatch(fixed.scratch.message, /work-1/);
      assert.ok(!registered().some((path) => path.endsWith('/work-1')), 'work-1 pruned');
      assert.equal(readFileSync(join(work2, tracked), 'utf8'), 'edited by hand\n', 'the edit is kept');

      // While a Refinery holds the rig's lock, --fix touches nothing.
      git(['checkout', '--', tracked], work2);
      const lock = join(t.town, '.gt', 'locks', 'refinery-app.lock');
      writeFileSync(lock, String(process.pid));
      try {
        const busy = await doctor('--fix');
        assert.equal(busy.scratch.status, 'warn');
        assert.match(busy.scratch.hint ?? '', /The Refinery is running/);
        assert.match(busy.scratch.fixError ?? '', /the Refinery of rig app is running: nothing was removed/);
        assert.ok(existsSync(join(work2, '.git')), 'kept while the Refinery runs');
      } finally {
        unlinkSync(lock);
      }

      // A commit made in the scratch worktree is on no ref: kept.
      git(['commit', '--quiet', '--allow-empty', '-m', 'mine'], work2);
      const mine = await doctor('--fix');
      assert.equal(mine.scratch.status, 'warn');
      assert.match(
        mine.scratch.message,
        /work-2: .*\[kept: its HEAD [0-9a-f]{12} is on no ref and is not a Refinery merge/,
      );
      assert.ok(existsSync(join(work2, '.git')));
      git(['checkout', '--quiet', '--detach', 'HEAD~1'], work2);

      // A merge in progress, as a killed Refinery leaves it, of a commit a ref of the bare repo holds: removed.
      git(['fetch', '--quiet', 'origin'], t.dev);
      git(['checkout', '--quiet', '-B', 'side', 'origin/main'], t.dev);
      writeFileSync(join(t.dev, 'side.txt'), 'side\n');
      git(['add', 'side.txt'], t.dev);
      git(['commit', '--quiet', '-m', 'side'], t.dev);
      git(['push', '--quiet', 'origin', 'HEAD:refs/heads/polecat/side/x'], t.dev);
      const side = git(['rev-parse', 'HEAD'], t.dev);
      git(['fetch', '--quiet', 'origin'], clone);
      git(['merge', '--quiet', '--no-ff', '--no-commit', side], work2);
      assert.ok(existsSync(join(clone, '.git', 'worktrees', 'work-2', 'MERGE_HEAD')), 'a merge in progress');
      const merging = await doctor();
      assert.match(
        merging.scratch.message,
        /work-2: .*a merge in progress \(MERGE_HEAD [0-9a-f]{12}\).*\[fix: remove\]/,
      );
      const removed = await doctor('--fix');
      assert.match(removed.scratch.fixed ?? '', /removed 1 unused worktree\(s\) \(work-2\)/);
      assert.equal(removed.scratch.status, 'pass', removed.scratch.message);
      assert.ok(!existsSync(work2));
      assert.deepEqual(
        registered().map((path) => path.split('/').pop()),
        ['refinery', 'work'],
        'the clone and slot 0 remain',
      );
      assert.equal(git(['rev-parse', 'refs/heads/polecat/side/x'], t.bare), side, 'no commit lost');
      assert.equal(t.main(), mainBefore);
    } finally {
      t.cleanup();
    }
  });
});
