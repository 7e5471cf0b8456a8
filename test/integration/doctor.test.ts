import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { makeSandbox, makeTown } from '../helpers/gt';

interface Report {
  ok: boolean;
  checks: Array<{ id: string; status: string; message: string; fixed?: string }>;
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
