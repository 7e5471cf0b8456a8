import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runGate } from '../../src/refinery/gate-runner';

/**
 * A gate must judge the candidate, not inherit the context of whatever runs gt. This file itself runs
 * under node:test, which puts NODE_TEST_CONTEXT in the environment: a gate `node --test` that inherited it
 * would report to us and exit 0 although its test fails.
 */
test('a failing node --test gate is red even when gt itself runs under node:test', async () => {
  assert.ok(process.env.NODE_TEST_CONTEXT, 'this test only means something under node --test');
  const dir = mkdtempSync(join(tmpdir(), 'gt-gate-env-'));
  try {
    mkdirSync(join(dir, 'test'));
    writeFileSync(
      join(dir, 'test', 'broken.test.js'),
      "require('node:test')('broken', () => { throw new Error('red'); });\n",
    );
    const result = await runGate({
      command: 'node --test',
      cwd: dir,
      timeoutMs: 60_000,
      logPath: join(dir, 'gate.log'),
    });
    assert.equal(result.verdict, 'fail', result.tail);
    assert.notEqual(result.exitCode, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
