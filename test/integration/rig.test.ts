import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { makeTown } from '../helpers/gt';

describe('gt rig', async () => {
  const sandbox = await makeTown();
  const { town, gt, git } = sandbox;
  after(() => sandbox.cleanup());
  const repo = sandbox.makeRepo('app-src', {
    'package.json': JSON.stringify({
      name: 'app',
      scripts: { test: 'node --test', typecheck: 'tsc --noEmit', lint: 'biome check .' },
    }),
    'package-lock.json': '{}',
  });
  sandbox.git(['checkout', '--quiet', '-b', 'develop'], repo);
  sandbox.git(['checkout', '--quiet', 'main'], repo);

  test('add clones a bare repo with a protected main, a Refinery clone, and detected gate commands', async () => {
    const result = await gt(['rig', 'add', 'app', repo], { cwd: town });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Added rig "app"/);
    assert.match(result.stdout, /gate\s+npm test\s+\[detected from package\.json scripts: test\]/);
    assert.match(result.stdout, /sheriff\s+npm run typecheck && npm run lint/);
    assert.match(result.stdout, /setup\s+npm ci/);
    assert.match(result.stderr, /cloning/, 'progress is shown on stderr');

    const rig = join(town, 'rigs', 'app');
    assert.equal(git(['rev-parse', '--is-bare-repository'], join(rig, 'repo.git')), 'true');
    assert.equal(git(['config', 'remote.upstream.url'], join(rig, 'repo.git')), repo);
    assert.equal(git(['symbolic-ref', '--short', 'HEAD'], join(rig, 'refinery')), 'main');
    assert.equal(git(['config', 'remote.origin.url'], join(rig, 'refinery')), join(rig, 'repo.git'));
    assert.ok(existsSync(join(rig, 'repo.git', 'hooks', 'pre-receive')));

    const toml = readFileSync(join(rig, 'rig.toml'), 'utf8');
    assert.match(toml, /^default_branch = "main"$/m);
    assert.match(toml, /^prefix = "app"$/m);
    assert.match(toml, /^experimental = false$/m);
    assert.match(toml, /\[commands\.gate\]\ncommand = "npm test"\ntimeout = "30m"/);

    const db = new Database(join(town, '.gt', 'ledger.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT * FROM rigs WHERE name = ?').get('app') as Record<string, unknown>;
      assert.equal(row.prefix, 'app');
      assert.equal(row.default_branch, 'main');
      assert.equal(row.path, join('rigs', 'app'));
      assert.ok(db.prepare('SELECT 1 FROM prefixes WHERE prefix = ?').get('app'));
    } finally {
      db.close();
    }
  });

  test('prefixes stay unique in the town; a taken name is refused', async () => {
    const again = await gt(['rig', 'add', 'app', repo], { cwd: town });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /GT_E_RIG_EXISTS/);
    const taken = await gt(['rig', 'add', 'other', repo, '--prefix', 'app'], { cwd: town });
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /prefix 'app' is already used/);
    assert.ok(!existsSync(join(town, 'rigs', 'other')), 'nothing left behind');
    // The town's own prefix is 'town': a rig named 'town' cannot be (reserved), but one deriving it is renamed.
    const derived = await sandbox.gtJson<{ prefix: string }>(
      ['rig', 'add', 'app_', repo, '--branch', 'develop'],
      {
        cwd: town,
      },
    );
    assert.notEqual(derived.prefix, 'app');
  });

  test('a missing branch or source fails cleanly', async () => {
    const noBranch = await gt(['rig', 'add', 'nob', repo, '--branch', 'nope'], { cwd: town });
    assert.equal(noBranch.code, 1);
    assert.match(noBranch.stderr, /has no branch 'nope'/);
    assert.ok(!existsSync(join(town, 'rigs', 'nob')));
    const noRepo = await gt(['rig', 'add', 'nor', join(sandbox.dir, 'missing')], { cwd: town });
    assert.equal(noRepo.code, 1);
    assert.match(noRepo.stderr, /does not exist/);
  });

  test('hostile names are refused with the rule they break, and touch nothing', async () => {
    const cases: Array<[string, RegExp]> = [
      ['../evil', /path separator/],
      ['a/b', /path separator/],
      ['x..y', /contains '\.\.'/],
      ['-rf', /starts with '-'/],
      ['.hidden', /starts with '\.'/],
      ['$(touch pwned)', /contains/],
      ['semi;colon', /contains ";"/],
      ['App', /upper-case/],
      ['a'.repeat(41), /limit is 40/],
      ['mayor', /reserved/],
      ['new\nline', /whitespace or a control character/],
    ];
    for (const [name, rule] of cases) {
      const result = await gt(['rig', 'add', '--', name, repo], { cwd: town });
      assert.equal(result.code, 1, `refused ${JSON.stringify(name)}`);
      assert.match(result.stderr, /GT_E_INVALID_NAME/, name);
      assert.match(result.stderr, rule, name);
    }
    assert.ok(!existsSync(join(town, 'pwned')) && !existsSync(join(town, 'rigs', 'pwned')));
    assert.deepEqual(readdirSync(join(town, 'rigs')).sort(), ['app', 'app_']);
    assert.ok(!existsSync(join(sandbox.dir, 'evil')));
  });

  test('list, show, park and unpark', async () => {
    const list = await sandbox.gtJson<Array<{ name: string; parked: boolean }>>(['rig', 'list'], {
      cwd: town,
    });
    assert.deepEqual(
      list.map((r) => r.name),
      ['app', 'app_'],
    );
    const show = await sandbox.gtJson<{ guardIntact: boolean; branches: string[]; defaultBranch: string }>(
      ['rig', 'show', 'app'],
      { cwd: town },
    );
    assert.equal(show.guardIntact, true);
    assert.equal(show.defaultBranch, 'main');
    assert.deepEqual(show.branches.sort(), ['develop', 'main']);
    assert.equal(
      (await sandbox.gtJson<{ parked: boolean }>(['rig', 'park', 'app'], { cwd: town })).parked,
      true,
    );
    assert.match((await gt(['rig', 'list'], { cwd: town })).stdout, /app .*\[parked\]/);
    assert.equal(
      (await sandbox.gtJson<{ parked: boolean }>(['rig', 'unpark', 'app'], { cwd: town })).parked,
      false,
    );
    const missing = await gt(['rig', 'show', 'nope'], { cwd: town });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /GT_E_RIG_NOT_FOUND/);
    assert.match(missing.stderr, /known rigs: app, app_/);
  });

  test('an experimental rig can never push upstream', async () => {
    const result = await sandbox.gtJson<{ experimental: boolean }>(
      ['rig', 'add', 'sandbox', repo, '--experimental'],
      {
        cwd: town,
      },
    );
    assert.equal(result.experimental, true);
    const bare = join(town, 'rigs', 'sandbox', 'repo.git');
    assert.match(readFileSync(join(town, 'rigs', 'sandbox', 'rig.toml'), 'utf8'), /^experimental = true$/m);
    const before = git(['rev-parse', 'main'], repo);
    const push = sandbox.gitRun(['push', 'upstream', 'main:refs/heads/from-sandbox'], bare);
    assert.notEqual(push.code, 0);
    assert.equal(sandbox.gitRun(['rev-parse', '--verify', '--quiet', 'from-sandbox'], repo).code, 1);
    assert.equal(git(['rev-parse', 'main'], repo), before);
  });

  test('remove refuses unmerged work, and --force keeps it', async () => {
    const rig = join(town, 'rigs', 'app');
    // A polecat branch with a commit that is not on main, pushed to the rig's bare repo.
    const work = join(sandbox.dir, 'work');
    git(['clone', '--quiet', join(rig, 'repo.git'), work], sandbox.dir);
    git(['checkout', '--quiet', '-b', 'polecat/nux/app-1'], work);
    git(['commit', '--quiet', '--allow-empty', '-m', 'unmerged work'], work);
    git(['push', '--quiet', 'origin', 'polecat/nux/app-1'], work);

    const refused = await gt(['rig', 'remove', 'app'], { cwd: town });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /GT_E_UNMERGED_WORK/);
    assert.match(refused.stderr, /polecat\/nux\/app-1 has commits not on main/);
    assert.ok(existsSync(rig));

    const forced = await sandbox.gtJson<{ keptAt: string }>(['rig', 'remove', 'app', '--force'], {
      cwd: town,
    });
    assert.ok(!existsSync(rig));
    assert.ok(forced.keptAt.startsWith(join(town, '.gt', 'attic')));
    assert.equal(
      git(['log', '-1', '--format=%s', 'polecat/nux/app-1'], join(forced.keptAt, 'repo.git')),
      'unmerged work',
      'the unmerged branch survives in the kept bare repo',
    );
    const list = await sandbox.gtJson<Array<{ name: string }>>(['rig', 'list'], { cwd: town });
    assert.ok(!list.some((r) => r.name === 'app'));

    // A rig with nothing unmerged is simply removed.
    assert.equal((await gt(['rig', 'remove', 'sandbox'], { cwd: town })).code, 0);
    assert.ok(!existsSync(join(town, 'rigs', 'sandbox')));
  });
});
