import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { git, runGit, withRepoLock } from '../../src/git/git';

test('operations on one repo run one at a time, in order; other repos are not held up', async () => {
  const order: string[] = [];
  const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const a1 = withRepoLock('/repo/a', async () => {
    order.push('a1 start');
    await delay(30);
    order.push('a1 end');
  });
  const a2 = withRepoLock('/repo/a/', async () => {
    order.push('a2 start');
    throw new Error('boom');
  });
  const b1 = withRepoLock('/repo/b', async () => {
    order.push('b1');
  });
  const a3 = withRepoLock('/repo/a', async () => order.push('a3'));
  await Promise.allSettled([a1, a2, b1, a3]);
  await assert.rejects(a2, /boom/);
  assert.deepEqual(
    order.filter((step) => step.startsWith('a')),
    ['a1 start', 'a1 end', 'a2 start', 'a3'],
  );
  assert.ok(order.indexOf('b1') < order.indexOf('a1 end'), 'b did not wait for a');
});

test('arguments are passed as data, never through a shell', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gtg-'));
  try {
    await git(['init', '--quiet'], { cwd: dir });
    const hostile = '$(touch pwned); `id`';
    await git(['config', 'gt.test', hostile], { cwd: dir });
    assert.equal(await git(['config', '--get', 'gt.test'], { cwd: dir }), hostile);
    const failed = await runGit(['rev-parse', '--verify', 'no-such-ref'], { cwd: dir });
    assert.notEqual(failed.code, 0);
    await assert.rejects(git(['rev-parse', '--verify', 'no-such-ref'], { cwd: dir }), /GT_E_GIT|failed in/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
