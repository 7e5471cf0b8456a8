import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { defaultRig, type RigRow, rigForPath } from '../../src/workspace/rig-of';

describe('rig-of: the rig a command runs in', () => {
  let root: string;
  let elsewhere: string;
  let rigs: RigRow[];

  before(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'rigof-')));
    elsewhere = realpathSync(mkdtempSync(join(tmpdir(), 'rigof-ext-')));
    for (const dir of ['rigs/app/polecats/nux/src', 'rigs/app2/refinery', 'mayor']) {
      mkdirSync(join(root, dir), { recursive: true });
    }
    mkdirSync(join(elsewhere, 'ext', 'deep'), { recursive: true });
    rigs = [
      { name: 'app', prefix: 'app', path: 'rigs/app' },
      { name: 'app2', prefix: 'ap', path: 'rigs/app2' },
      { name: 'ext', prefix: 'ex', path: join(elsewhere, 'ext') },
    ];
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  });

  test('a folder under rigs/<rig>/ belongs to that rig, polecat checkouts included', () => {
    assert.equal(rigForPath(root, join(root, 'rigs/app'), rigs)?.name, 'app');
    assert.equal(rigForPath(root, join(root, 'rigs/app/polecats/nux/src'), rigs)?.name, 'app');
    assert.equal(rigForPath(root, join(root, 'rigs/app2/refinery'), rigs)?.name, 'app2');
  });

  test('a name prefix is not containment; town-level folders have no rig', () => {
    assert.equal(rigForPath(root, join(root, 'rigs/app2'), rigs)?.name, 'app2');
    assert.equal(rigForPath(root, root, rigs), null);
    assert.equal(rigForPath(root, join(root, 'mayor'), rigs), null);
    assert.equal(rigForPath(root, join(root, 'rigs'), rigs), null);
    assert.equal(rigForPath(root, tmpdir(), rigs), null);
  });

  test('the town root given through a symlink resolves; an absolute rig path outside the town is not used', () => {
    const link = `${root}-link`;
    symlinkSync(root, link);
    try {
      assert.equal(rigForPath(link, join(root, 'rigs/app/polecats/nux'), rigs)?.name, 'app');
      assert.equal(rigForPath(link, join(link, 'rigs/app2'), rigs)?.name, 'app2');
    } finally {
      rmSync(link);
    }
    assert.equal(rigForPath(root, join(elsewhere, 'ext/deep'), rigs), null);
  });

  test('GT_RIG wins over the folder; an unknown one is reported', () => {
    const here = join(root, 'rigs/app');
    assert.deepEqual(defaultRig(root, here, { GT_RIG: 'app2' }, rigs), { rig: rigs[1], source: 'GT_RIG' });
    assert.deepEqual(defaultRig(root, here, { GT_RIG: 'nope' }, rigs), { unknown: 'nope' });
    assert.deepEqual(defaultRig(root, here, { GT_RIG: '' }, rigs), { rig: rigs[0], source: 'cwd' });
    assert.equal(defaultRig(root, root, {}, rigs), null);
  });
});
