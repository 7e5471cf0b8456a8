import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bd } from '../helpers/bd';
import { makeTown, type Sandbox } from '../helpers/gt';

/**
 * Issue 6: `bd create` inside a rig's folder (or with GT_RIG) gives the bead the rig's prefix and rig;
 * at town level it uses the town prefix; --rig / --prefix always win. list/ready never filter implicitly.
 * The real `node bin/bd.js` in a real town (`gt install`, two `gt rig add` from local repos).
 */
interface Bead {
  id: string;
  rig: string | null;
  title: string;
}

describe('bd create: the default rig', () => {
  let sandbox: Sandbox & { town: string };
  let town: string;
  let webPrefix: string;

  const create = (
    title: string,
    cwd: string,
    extra: string[] = [],
    env: Record<string, string> = {},
  ): Bead => {
    const r = bd(['create', title, '--json', ...extra], { cwd, env: { HOME: sandbox.env.HOME, ...env } });
    assert.equal(r.status, 0, `bd create in ${cwd} failed: ${r.stderr}`);
    const bead = JSON.parse(r.stdout) as Bead;
    return { ...bead, rig: bead.rig ?? null }; // the beads JSON format omits empty fields
  };
  const list = (args: string[], cwd: string): Bead[] => {
    const r = bd([...args, '--json'], { cwd });
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as Bead[]).map((b) => ({ ...b, rig: b.rig ?? null }));
  };

  before(async () => {
    sandbox = await makeTown({ rig: true });
    town = sandbox.town;
    const web = sandbox.makeRepo('web-src', { 'README.md': '# web\n' });
    const added = await sandbox.gtJson<{ prefix: string }>(['rig', 'add', 'web', web], { cwd: town });
    webPrefix = added.prefix;
    assert.notEqual(webPrefix, 'app');
    // A polecat checkout as sling makes it: a worktree of the rig's bare repo under rigs/app/polecats/.
    sandbox.git(
      ['worktree', 'add', '--quiet', '-b', 'polecat/nux/x', join(town, 'rigs/app/polecats/nux'), 'main'],
      join(town, 'rigs/app/repo.git'),
    );
  });
  after(() => sandbox.cleanup());

  test('at town level (root, the Mayor home) beads get the town prefix and no rig', () => {
    const root = create('town-level note', town);
    assert.match(root.id, /^town-/);
    assert.equal(root.rig, null);
    const mayor = create('from the mayor home', join(town, 'mayor'));
    assert.match(mayor.id, /^town-/);
    assert.equal(mayor.rig, null);
  });

  test("inside a rig's folder, its clones and polecat checkouts, beads get the rig's prefix and rig", () => {
    for (const dir of ['rigs/app', 'rigs/app/refinery', 'rigs/app/polecats/nux']) {
      const bead = create(`made in ${dir}`, join(town, dir));
      assert.match(bead.id, /^app-/, dir);
      assert.equal(bead.rig, 'app', dir);
    }
    const deep = join(town, 'rigs/app/polecats/nux/src/deep');
    mkdirSync(deep, { recursive: true });
    assert.equal(create('deep inside', deep).rig, 'app');
    const web = create('web work', join(town, 'rigs/web/refinery'));
    assert.equal(web.rig, 'web');
    assert.ok(web.id.startsWith(`${webPrefix}-`), web.id);
  });

  test('human output names the rig', () => {
    const r = bd(['create', 'shown rig'], { cwd: join(town, 'rigs/app') });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^✓ Created app-\S+ — shown rig\n.*Rig: app$/m);
  });

  test('GT_RIG sets the rig anywhere in the town and wins over the folder', () => {
    const fromRoot = create('env rig', town, [], { GT_RIG: 'web' });
    assert.equal(fromRoot.rig, 'web');
    const inApp = create('env beats folder', join(town, 'rigs/app'), [], { GT_RIG: 'web' });
    assert.equal(inApp.rig, 'web');
    assert.ok(inApp.id.startsWith(`${webPrefix}-`));
  });

  test('an unknown GT_RIG is refused with a hint; --rig or --prefix bypass it', () => {
    const r = bd(['create', 'nowhere', '--json'], { cwd: town, env: { GT_RIG: 'nope' } });
    assert.equal(r.status, 1);
    const err = JSON.parse(r.stderr.trim());
    assert.equal(err.code, 'GT_E_RIG_NOT_FOUND');
    assert.match(err.hint, /--rig/);
    assert.equal(create('explicit', town, ['--rig', 'app'], { GT_RIG: 'nope' }).rig, 'app');
  });

  test('--rig and --prefix override the folder', () => {
    const other = create('for web', join(town, 'rigs/app'), ['--rig', 'web']);
    assert.equal(other.rig, 'web');
    assert.ok(other.id.startsWith(`${webPrefix}-`));
    const prefixed = create('own prefix', join(town, 'rigs/app'), ['--prefix', 'zz']);
    assert.match(prefixed.id, /^zz-/);
    assert.equal(prefixed.rig, null);
    const r = bd(['create', 'bad rig', '--rig', 'nope', '--json'], { cwd: join(town, 'rigs/app') });
    assert.equal(JSON.parse(r.stderr.trim()).code, 'GT_E_RIG_NOT_FOUND');
  });

  test('a child keeps its parent id and gets the rig of the folder', () => {
    const epic = create('town epic', town, ['-t', 'epic']);
    const child = create('rig part', join(town, 'rigs/app'), ['--parent', epic.id]);
    assert.equal(child.id, `${epic.id}.1`);
    assert.equal(child.rig, 'app');
  });

  test('GT_TOWN through a symlink still finds the rig of the real folder', () => {
    const link = join(sandbox.dir, 'town-link');
    symlinkSync(town, link);
    const bead = create('via link', join(link, 'rigs/app'), [], { GT_TOWN: link });
    assert.equal(bead.rig, 'app');
    const top = create('via link at top', join(sandbox.dir, 'home'), [], { GT_TOWN: link });
    assert.equal(top.rig, null);
  });

  test('list and ready do not filter by the folder; --rig filters', () => {
    const inApp = join(town, 'rigs/app');
    const all = list(['list', '-n', '0'], inApp);
    assert.ok(all.some((b) => b.rig === null));
    assert.ok(all.some((b) => b.rig === 'web'));
    const ready = list(['ready', '-n', '1000'], inApp);
    assert.ok(ready.some((b) => b.rig === 'web'));
    assert.ok(ready.some((b) => b.rig === null));
    const onlyApp = list(['list', '--rig', 'app', '-n', '0'], town);
    assert.ok(onlyApp.length > 0);
    assert.ok(onlyApp.every((b) => b.rig === 'app'));
  });

  test('a standalone beads project ignores GT_RIG', () => {
    const dir = join(sandbox.dir, 'standalone');
    mkdirSync(dir);
    assert.equal(bd(['init', '--prefix', 'sa', '-q'], { cwd: dir }).status, 0);
    const bead = create('solo', dir, [], { GT_RIG: 'app' });
    assert.match(bead.id, /^sa-/);
    assert.equal(bead.rig, null);
  });
});
