import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { refineryPushEnv } from '../../src/town/secret';
import { makeTown } from '../helpers/gt';

describe('protected main: only the Refinery writes the default branch', async () => {
  const sandbox = await makeTown({ rig: true });
  const { town, git, gitRun } = sandbox;
  after(() => sandbox.cleanup());
  const rig = join(town, 'rigs', 'app');
  const bare = join(rig, 'repo.git');
  const refinery = join(rig, 'refinery');
  const mainOf = () => git(['rev-parse', 'refs/heads/main'], bare);

  // A polecat-style checkout: a clone of the rig's bare repo plus a linked worktree of it.
  const clone = join(sandbox.dir, 'polecat-clone');
  git(['clone', '--quiet', bare, clone], sandbox.dir);
  const worktree = join(sandbox.dir, 'polecat-wt');
  git(['worktree', 'add', '--quiet', '-b', 'polecat/nux/app-1', worktree, 'origin/main'], clone);

  test('a plain git push to main from a worktree is refused', () => {
    const before = mainOf();
    git(['commit', '--quiet', '--allow-empty', '-m', 'sneaky'], worktree);
    const push = gitRun(['push', 'origin', 'HEAD:main'], worktree);
    assert.notEqual(push.code, 0);
    assert.match(
      push.stderr,
      /gt: refusing to update refs\/heads\/main: only the Refinery may write the default branch/,
    );
    assert.match(push.stderr, /pre-receive hook declined/);
    assert.equal(mainOf(), before);
  });

  test('--no-verify, a forged token and a force push are refused too', () => {
    const before = mainOf();
    assert.notEqual(gitRun(['push', '--no-verify', 'origin', 'HEAD:main'], worktree).code, 0);
    assert.notEqual(
      gitRun(['push', '--force', 'origin', 'HEAD:main'], worktree, { GT_REFINERY_TOKEN: 'f'.repeat(64) })
        .code,
      0,
    );
    assert.notEqual(gitRun(['push', 'origin', ':main'], worktree).code, 0);
    assert.equal(mainOf(), before);
  });

  test('a global core.hooksPath cannot switch the guard off', () => {
    const hooks = join(sandbox.dir, 'empty-hooks');
    mkdirSync(hooks, { recursive: true });
    const globalConfig = join(sandbox.dir, 'hooks-gitconfig');
    writeFileSync(
      globalConfig,
      `[user]\n\tname = T\n\temail = t@example.invalid\n[core]\n\thooksPath = ${hooks}\n`,
    );
    const push = gitRun(['push', 'origin', 'HEAD:main'], worktree, { GIT_CONFIG_GLOBAL: globalConfig });
    assert.notEqual(push.code, 0);
    assert.match(push.stderr, /only the Refinery may write/);
  });

  test("the Refinery's credentialed push fast-forwards main", () => {
    git(['fetch', '--quiet', 'origin'], refinery);
    git(['merge', '--quiet', '--ff-only', 'origin/main'], refinery);
    git(['commit', '--quiet', '--allow-empty', '-m', 'tested batch'], refinery);
    const tested = git(['rev-parse', 'HEAD'], refinery);
    const push = gitRun(['push', 'origin', 'HEAD:main'], refinery, refineryPushEnv(town));
    assert.equal(push.code, 0, push.stderr);
    assert.equal(mainOf(), tested);
  });

  test('even the Refinery only moves main forwards and never deletes it', () => {
    const before = mainOf();
    const env = refineryPushEnv(town);
    const rewind = gitRun(['push', '--force', 'origin', `${before}~1:refs/heads/main`], refinery, env);
    assert.notEqual(rewind.code, 0);
    assert.match(rewind.stderr, /non-fast-forward/);
    const del = gitRun(['push', 'origin', ':main'], refinery, env);
    assert.notEqual(del.code, 0);
    assert.equal(mainOf(), before);
  });

  test('polecat branches holding unmerged commits cannot be deleted; merged ones can', () => {
    assert.equal(gitRun(['push', '--quiet', 'origin', 'polecat/nux/app-1'], worktree).code, 0);
    const del = gitRun(['push', 'origin', ':polecat/nux/app-1'], worktree);
    assert.notEqual(del.code, 0);
    assert.match(
      del.stderr,
      /refusing to delete refs\/heads\/polecat\/nux\/app-1: it holds commits that are not on main/,
    );
    assert.ok(git(['rev-parse', 'refs/heads/polecat/nux/app-1'], bare));

    git(['push', '--quiet', 'origin', 'origin/main:refs/heads/polecat/done/app-2'], worktree);
    assert.equal(gitRun(['push', 'origin', ':polecat/done/app-2'], worktree).code, 0);
  });
});
