import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeSandbox, type Sandbox } from '../helpers/gt';

/**
 * `gt demo`, the README's main job, run exactly as a user runs it (the real binary, a clean HOME): it must
 * exit 0 with every claim checked — all beads merged, main green and only ever at tested commits, the
 * test-breaking branch sent back and fixed, the hung worker recovered, dependencies respected.
 */
interface DemoJson {
  ok: boolean;
  town: string;
  kept: boolean;
  beads: { total: number; merged: number };
  gate_runs: number;
  recoveries: number;
  main: { sha: string; green: boolean };
  checks: Array<{ name: string; ok: boolean; detail: string }>;
}

describe('gt demo', () => {
  let sb: Sandbox;
  before(() => {
    sb = makeSandbox();
  });
  after(() => sb?.cleanup());

  test('runs the whole factory and every claim holds', async () => {
    const dir = join(sb.dir, 'demo');
    const r = await sb.gt(['demo', '--agents', '4', '--dir', dir, '--timeout', '8m', '--json']);
    const summary = JSON.parse(r.stdout) as DemoJson;
    assert.equal(
      r.code,
      0,
      `demo failed:\n${JSON.stringify(summary.checks, null, 2)}\n${r.stderr.slice(-4000)}`,
    );
    assert.equal(summary.ok, true);
    assert.equal(summary.beads.merged, 12);
    assert.equal(summary.main.green, true);
    assert.ok(summary.recoveries >= 1);
    assert.ok(summary.checks.length >= 7);
    for (const check of summary.checks) assert.ok(check.ok, `${check.name}: ${check.detail}`);
    assert.match(r.stderr, /merged/, 'progress was shown while it ran');
    assert.equal(existsSync(dir), false, 'the demo town is removed without --keep');
  });

  test('bad arguments are refused before anything is created', async () => {
    const zero = await sb.gt(['demo', '--agents', '0', '--json']);
    assert.equal(zero.code, 2);
    assert.equal(JSON.parse(zero.stderr.trim()).code, 'GT_E_USAGE');
    const busy = join(sb.dir, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'keep-me'), 'x');
    const taken = await sb.gt(['demo', '--dir', busy, '--json']);
    assert.equal(taken.code, 1);
    assert.equal(JSON.parse(taken.stderr.trim()).code, 'GT_E_INVALID_INPUT');
    assert.ok(existsSync(join(busy, 'keep-me')), 'nothing in it was touched');
  });
});
