import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { mergeInProgress } from '../../src/git/merge-state';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@t',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@t',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();

test('mergeInProgress: a conflicted merge in a linked worktree and in a main checkout', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gt-merge-state-'));
  try {
    const repo = join(dir, 'repo');
    git(dir, 'init', '--quiet', '-b', 'main', repo);
    writeFileSync(join(repo, 'f'), 'base\n');
    git(repo, 'add', 'f');
    git(repo, 'commit', '--quiet', '-m', 'base');
    git(repo, 'checkout', '--quiet', '-b', 'other');
    writeFileSync(join(repo, 'f'), 'other\n');
    git(repo, 'commit', '--quiet', '-am', 'other');
    git(repo, 'checkout', '--quiet', 'main');
    writeFileSync(join(repo, 'f'), 'main\n');
    git(repo, 'commit', '--quiet', '-am', 'main');
    const work = join(dir, 'work');
    git(repo, 'worktree', 'add', '--quiet', '--detach', work, 'main');
    assert.equal(mergeInProgress(work), false);
    assert.equal(mergeInProgress(repo), false);
    assert.throws(() => git(work, 'merge', 'other'));
    assert.equal(mergeInProgress(work), true, 'linked worktree mid-merge');
    assert.equal(mergeInProgress(repo), false, 'the main checkout is not merging');
    git(work, 'merge', '--abort');
    assert.equal(mergeInProgress(work), false);
    assert.throws(() => git(repo, 'merge', 'other'));
    assert.equal(mergeInProgress(repo), true, 'main checkout mid-merge');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
