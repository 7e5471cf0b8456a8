import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { makeSandbox, makeTown } from '../helpers/gt';

describe('gt install', () => {
  const sandbox = makeSandbox();
  after(() => sandbox.cleanup());

  test('creates config, ledger, the Mayor home, folders and a private Refinery credential', async () => {
    const town = join(sandbox.dir, 'mytown');
    const result = await sandbox.gtJson<{ root: string; name: string; prefix: string }>(['install', town]);
    assert.equal(result.root, town);
    assert.equal(result.name, 'mytown');
    assert.equal(result.prefix, 'mytown');
    for (const path of [
      'town.toml',
      'mayor/AGENTS.md',
      'rigs',
      'logs',
      '.gt/ledger.db',
      '.gt/locks',
      '.gt/run',
    ]) {
      assert.ok(existsSync(join(town, path)), `${path} exists`);
    }
    const toml = readFileSync(join(town, 'town.toml'), 'utf8');
    assert.match(toml, /^name = "mytown"$/m);
    assert.match(toml, /\[roles\.polecat\]/);
    assert.match(toml, /max_polecats = 4/);
    assert.match(toml, /^# /m, 'defaults come with comments');
    assert.equal(statSync(join(town, '.gt/refinery.secret')).mode & 0o777, 0o600);
    const db = new Database(join(town, '.gt/ledger.db'), { readonly: true });
    try {
      const prefix = db.prepare("SELECT value FROM config WHERE key = 'issue_prefix'").get() as {
        value: string;
      };
      assert.equal(prefix.value, 'mytown');
      assert.ok(db.prepare('SELECT 1 FROM prefixes WHERE prefix = ?').get('mytown'));
    } finally {
      db.close();
    }
    // A fresh town is healthy.
    const doctor = await sandbox.gt(['doctor'], { cwd: town });
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
  });

  test('refuses an existing town and a non-empty directory unless --force', async () => {
    const town = join(sandbox.dir, 'twice');
    assert.equal((await sandbox.gt(['install', town])).code, 0);
    const again = await sandbox.gt(['install', town]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /GT_E_TOWN_EXISTS/);
    assert.match(again.stderr, /already a town/);

    const busy = join(sandbox.dir, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'notes.txt'), 'mine');
    const refused = await sandbox.gt(['install', busy]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /GT_E_DIR_NOT_EMPTY/);
    assert.match(refused.stderr, /--force/);
    assert.ok(!existsSync(join(busy, 'town.toml')));
    const forced = await sandbox.gt(['install', busy, '--force', '--prefix', 'hq']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(readFileSync(join(busy, 'notes.txt'), 'utf8'), 'mine');
  });

  test('--git makes the town a repository that ignores runtime state', async () => {
    const town = join(sandbox.dir, 'gittown');
    assert.equal((await sandbox.gt(['install', town, '--git'])).code, 0);
    assert.match(readFileSync(join(town, '.gitignore'), 'utf8'), /^\.gt\/$/m);
    assert.equal(sandbox.git(['log', '--format=%s'], town), 'Create Gas Town');
    writeFileSync(join(town, '.gt', 'run', 'x.pid'), '1');
    assert.equal(sandbox.git(['status', '--porcelain'], town), '', 'runtime state is ignored');
  });

  test('refuses a bad prefix', async () => {
    const result = await sandbox.gt(['install', join(sandbox.dir, 'p'), '--prefix', 'Bad Prefix']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /invalid bead id prefix/);
    assert.ok(!existsSync(join(sandbox.dir, 'p', 'town.toml')));
  });
});

describe('town discovery and configuration', async () => {
  const sandbox = await makeTown();
  const { town, gt } = sandbox;
  after(() => sandbox.cleanup());
  const tomlPath = join(town, 'town.toml');
  const original = readFileSync(tomlPath, 'utf8');

  test('commands find the town from a subdirectory or GT_TOWN, and say so when there is none', async () => {
    assert.equal((await gt(['config', 'get', 'name'], { cwd: join(town, 'rigs') })).stdout.trim(), 'town');
    assert.equal(
      (await gt(['config', 'get', 'name'], { cwd: sandbox.dir, env: { GT_TOWN: town } })).stdout.trim(),
      'town',
    );
    const none = await gt(['rig', 'list'], { cwd: join(sandbox.dir, 'home') });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /GT_E_NO_TOWN/);
    assert.match(none.stderr, /gt install/);
  });

  test('config get shows defaults; set validates, writes atomically and keeps comments', async () => {
    assert.equal((await gt(['config', 'get', 'scheduler.max_polecats'], { cwd: town })).stdout.trim(), '4');
    const set = await gt(['config', 'set', 'scheduler.max_polecats', '9'], { cwd: town });
    assert.equal(set.code, 0, set.stderr);
    const after1 = readFileSync(tomlPath, 'utf8');
    assert.match(after1, /^max_polecats = 9$/m);
    assert.match(after1, /# At most this many polecats work at once/, 'comments kept');
    assert.equal((await gt(['config', 'get', 'scheduler.max_polecats'], { cwd: town })).stdout.trim(), '9');

    const bad = await gt(['config', 'set', 'scheduler.max_polecats', 'lots'], { cwd: town });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /town\.toml: scheduler\.max_polecats: expected number/);
    assert.match(bad.stderr, /max_polecats = 4/, 'shows an example');
    assert.equal(readFileSync(tomlPath, 'utf8'), after1, 'file untouched on error');

    const unknown = await gt(['config', 'set', 'scheduler.max_polcats', '3'], { cwd: town });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown key 'scheduler\.max_polcats'/);
    assert.match(unknown.stderr, /max_polecats/);

    const added = await gt(['config', 'set', 'roles.mayor.model', '"opus"'], { cwd: town });
    assert.equal(added.code, 0, added.stderr);
    assert.equal(
      JSON.parse((await gt(['config', 'get', 'roles.mayor', '--json'], { cwd: town })).stdout).value.model,
      'opus',
    );
    writeFileSync(tomlPath, original);
  });

  test('config errors name the file, the key, what is wrong and an example', async () => {
    writeFileSync(
      tomlPath,
      `${original.replace('max_polecats = 4', 'max_polecats = "four"')}\n[scheduler2]\nx = 1\n`,
    );
    const result = await gt(['rig', 'add', 'app', sandbox.dir], { cwd: town });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /GT_E_CONFIG/);
    assert.match(
      result.stderr,
      new RegExp(
        `${tomlPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: scheduler\\.max_polecats: expected number, received string`,
      ),
    );
    assert.match(result.stderr, /e\.g\. \[scheduler\]/);
    assert.match(
      result.stderr,
      /scheduler2: unknown key \(known keys: name, ledger, agents, roles, scheduler, witness, daemon, budget, notify\)/,
    );

    writeFileSync(tomlPath, 'name = "x"\n[budget\ndaily_usd = 1\n');
    const syntax = await gt(['doctor'], { cwd: town });
    assert.equal(syntax.code, 1);
    assert.match(syntax.stdout, /fail\s+town-config/);
    assert.match(syntax.stdout, /town\.toml:2: \(syntax\): invalid TOML at line 2/);
    writeFileSync(tomlPath, original);
    assert.equal((await gt(['doctor'], { cwd: town })).code, 0);
  });
});
