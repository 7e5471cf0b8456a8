import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { CrewJson } from '../../src/services/crew';
import { makeTown, type Sandbox, townBd } from '../helpers/gt';
import { until } from '../helpers/wait';

/**
 * Crew end to end (issue 6): `gt crew add|list|remove` and `gt sling <bead> <rig>/<crew-name>` through the
 * real `node bin/gt.js`, real git, real tmux on the town's socket, the sim agent as the crew member's
 * model. Requires `npm run build` first.
 */
const SLOW = 90_000;

interface SlingJson {
  results: Array<{
    bead: string;
    agent: string;
    status: string;
    polecat: string | null;
    crew?: string;
    branch: string | null;
    worktree: string | null;
    session: { name: string; preset: string; model: string | null; started: boolean } | null;
  }>;
}

describe('crew: gt crew add|list|remove, gt sling <bead> <rig>/<crew>', () => {
  let sb: Sandbox & { town: string };
  let town: string;
  let bare: string;
  let ledger: Database.Database;

  const { createBead } = townBd(
    () => town,
    () => sb.env,
  );
  const beadRow = (id: string) =>
    ledger.prepare('SELECT status, assignee FROM beads WHERE id = ?').get(id) as {
      status: string;
      assignee: string | null;
    };
  const gtOk = async <T>(args: string[]): Promise<T> => {
    const r = await sb.gt([...args, '--json'], { cwd: town });
    assert.equal(r.code, 0, `gt ${args.join(' ')} failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const gtFails = async (args: string[], code: string) => {
    const r = await sb.gt([...args, '--json'], { cwd: town });
    assert.notEqual(r.code, 0, `gt ${args.join(' ')} should fail: ${r.stdout}`);
    const err = JSON.parse(r.stderr.trim().split('\n').pop()!) as {
      code: string;
      error: string;
      hint?: string;
    };
    assert.equal(err.code, code, r.stderr);
    return err;
  };
  const crewList = () => gtOk<CrewJson[]>(['crew', 'list']);
  const agentRow = (id: string) =>
    ledger.prepare('SELECT * FROM agents WHERE id = ?').get(id) as
      | (CrewJson & { role: string; hooked_bead: string | null })
      | undefined;
  const currentBranch = (dir: string) => sb.git(['symbolic-ref', '--short', 'HEAD'], dir);

  before(async () => {
    sb = await makeTown({ rig: true });
    town = sb.town;
    bare = join(town, 'rigs', 'app', 'repo.git');
    ledger = new Database(join(town, '.gt', 'ledger.db'), { readonly: true, fileMustExist: true });
  });
  after(() => {
    ledger?.close();
    sb?.cleanup();
  });

  test('gt crew add makes a workspace like a polecat checkout and a crew record', async () => {
    const added = await gtOk<CrewJson & { base_sha: string }>([
      'crew',
      'add',
      'app',
      'alice',
      '--agent',
      'sim',
      '--model',
      'sim-crew',
    ]);
    const dir = join(town, 'rigs', 'app', 'crew', 'alice');
    assert.equal(added.id, 'app/alice');
    assert.equal(added.state, 'idle');
    assert.equal(added.worktree, dir);
    assert.equal(added.branch, 'crew/alice/home');
    assert.equal(added.agent, 'sim');
    assert.equal(added.model, 'sim-crew');
    assert.equal(added.base_sha, sb.git(['rev-parse', 'refs/heads/main'], bare));
    // A clone of the rig's bare repo on its home branch, no local main, the backstop hooks.
    assert.equal(currentBranch(dir), 'crew/alice/home');
    assert.equal(
      sb.git(['for-each-ref', '--format=%(refname)', 'refs/heads/'], dir),
      'refs/heads/crew/alice/home',
    );
    assert.equal(sb.git(['remote', 'get-url', 'origin'], dir), bare);
    const hooksPath = sb.git(['config', '--get', 'core.hooksPath'], dir);
    assert.ok(existsSync(join(hooksPath, 'pre-commit')), `backstop hooks installed: ${hooksPath}`);
    // The backstops refuse making (or moving) main in the workspace, even by hand.
    const makeMain = sb.gitRun(['checkout', '-q', '-b', 'main'], dir);
    assert.notEqual(makeMain.code, 0, 'creating a local main is refused');
    assert.match(makeMain.stderr, /only the Refinery moves main/);
    assert.equal(currentBranch(dir), 'crew/alice/home');
    assert.equal(agentRow('app/alice')?.role, 'crew');

    const agents = await gtOk<Array<{ id: string; role: string }>>(['agents']);
    assert.deepEqual(
      agents.filter((a) => a.id === 'app/alice').map((a) => a.role),
      ['crew'],
    );
    const list = await crewList();
    assert.deepEqual(
      list.map((c) => [c.id, c.state, c.branch]),
      [['app/alice', 'idle', 'crew/alice/home']],
    );
    const text = await sb.gt(['crew', 'list'], { cwd: town });
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^app\/alice\s+idle\s+-\s+crew\/alice\/home/m);
  });

  test('gt crew add refuses bad input and leaves nothing behind', async () => {
    await gtFails(['crew', 'add', 'app', 'alice'], 'GT_E_INVALID_INPUT');
    await gtFails(['crew', 'add', 'app', 'Bad/Name'], 'GT_E_INVALID_NAME');
    await gtFails(['crew', 'add', 'app', 'mayor'], 'GT_E_INVALID_NAME');
    await gtFails(['crew', 'add', 'nope', 'bob'], 'GT_E_RIG_NOT_FOUND');
    await gtFails(['crew', 'add', 'app', 'bob', '--agent', 'no-such-agent'], 'GT_E_UNKNOWN_AGENT');
    assert.equal(existsSync(join(town, 'rigs', 'app', 'crew', 'bob')), false);
    assert.equal(agentRow('app/bob'), undefined);
    await gtFails(['crew', 'remove', 'app', 'bob'], 'GT_E_NOT_FOUND');
  });

  test('sling to <rig>/<crew>: the crew member works the bead on crew/<name>/<bead> and submits it', {
    timeout: SLOW * 2,
  }, async () => {
    const id = await createBead('Crew task');
    const out = await gtOk<SlingJson>(['sling', id, 'app/alice']);
    const r = out.results[0]!;
    assert.equal(r.status, 'slung');
    assert.equal(r.agent, 'app/alice');
    assert.equal(r.crew, 'alice');
    assert.equal(r.polecat, null, 'no polecat was allocated');
    assert.equal(r.branch, `crew/alice/${id}`);
    assert.equal(r.worktree, join(town, 'rigs', 'app', 'crew', 'alice'));
    assert.equal(r.session?.started, true);
    assert.equal(r.session?.name, 'gt-app-crew-alice');
    assert.equal(r.session?.preset, 'sim', "the crew member's own agent");
    assert.equal(r.session?.model, 'sim-crew');
    assert.equal(
      (ledger.prepare("SELECT count(*) AS n FROM agents WHERE role = 'polecat'").get() as { n: number }).n,
      0,
    );

    // The sim's default work: a commit on the bead branch, then gt done → MR queued, bead in review.
    const mr = await until(
      'the crew MR',
      async () =>
        ledger.prepare('SELECT * FROM merge_requests WHERE bead_id = ?').get(id) as
          | { agent_id: string; branch: string; state: string; head_sha: string }
          | undefined,
      SLOW,
    );
    assert.equal(mr.agent_id, 'app/alice');
    assert.equal(mr.branch, `crew/alice/${id}`);
    assert.equal(mr.state, 'queued');
    assert.equal(
      sb.git(['rev-parse', `refs/heads/crew/alice/${id}`], bare),
      mr.head_sha,
      'pushed to the rig',
    );
    assert.equal(beadRow(id).status, 'in_review');
    assert.equal(beadRow(id).assignee, 'app/alice');
    const row = await until(
      'alice to be done',
      async () => {
        const a = agentRow('app/alice');
        return a?.state === 'done' && a;
      },
      SLOW,
    );
    assert.equal(row.hooked_bead, id);
    assert.equal(row.branch, `crew/alice/${id}`);

    // More work while the bead is in review is refused (the crew member holds it until the merge).
    const other = await createBead('More crew work');
    await gtFails(['sling', other, 'app/alice'], 'GT_E_AGENT_BUSY');
    assert.equal(beadRow(other).status, 'open');
    // …and a crew member with work on its hook cannot be removed.
    await gtFails(['crew', 'remove', 'app', 'alice'], 'GT_E_AGENT_BUSY');
    assert.ok(existsSync(join(town, 'rigs', 'app', 'crew', 'alice')));
  });

  test('targets: a rig allocates a polecat, never a crew member; <rig>/crew/<name> must exist; names are shared', {
    timeout: SLOW,
  }, async () => {
    await gtOk(['crew', 'add', 'app', 'carol']);
    const id = await createBead('Polecat task');
    const out = await gtOk<SlingJson>(['sling', id, 'app', '--no-start']);
    const polecat = out.results[0]!;
    assert.equal(polecat.polecat, 'nux');
    assert.equal(polecat.agent, 'app/nux');
    assert.equal(polecat.branch, `polecat/nux/${id}`);
    assert.equal(agentRow('app/carol')?.hooked_bead, null);

    const other = await createBead('Needs a crew member');
    const missing = await gtFails(['sling', other, 'app/crew/bob'], 'GT_E_NOT_FOUND');
    assert.match(missing.hint ?? '', /gt crew add app bob/);
    await gtFails(['sling', other, 'app/crew/nux'], 'GT_E_NOT_FOUND');
    await gtFails(['crew', 'add', 'app', 'nux'], 'GT_E_INVALID_INPUT');
    assert.equal(beadRow(other).status, 'open');

    // The explicit crew form reaches carol too; --no-start hooks and switches the branch, no session.
    const slung = await gtOk<SlingJson>(['sling', other, 'app/crew/carol', '--no-start']);
    assert.equal(slung.results[0]?.agent, 'app/carol');
    assert.equal(slung.results[0]?.session, null);
    assert.equal(currentBranch(join(town, 'rigs', 'app', 'crew', 'carol')), `crew/carol/${other}`);
    const hook = await gtOk<{ agent: string; role: string; bead: { id: string } | null; branch: string }>([
      'hook',
      'app/carol',
    ]);
    assert.equal(hook.bead?.id, other);
    assert.equal(hook.role, 'crew');
    assert.equal(hook.branch, `crew/carol/${other}`);
    assert.equal(agentRow('app/carol')?.state, 'stopped');
    assert.equal(beadRow(other).status, 'hooked');
  });

  test('a dirty crew workspace refuses the sling and everything is rolled back', async () => {
    await gtOk(['crew', 'add', 'app', 'dave']);
    const dir = join(town, 'rigs', 'app', 'crew', 'dave');
    writeFileSync(join(dir, 'package.json'), `${readFileSync(join(dir, 'package.json'), 'utf8')}\n`);
    const id = await createBead('Dirty');
    const err = await gtFails(['sling', id, 'app/dave', '--no-start'], 'GT_E_DIRTY_WORKTREE');
    assert.match(err.error, /package\.json/);
    assert.equal(beadRow(id).status, 'open');
    assert.equal(beadRow(id).assignee, null);
    assert.equal(agentRow('app/dave')?.hooked_bead, null);
    assert.equal(agentRow('app/dave')?.state, 'idle');
    assert.equal(currentBranch(dir), 'crew/dave/home');
    assert.equal(sb.gitRun(['rev-parse', '--verify', '--quiet', `refs/heads/crew/dave/${id}`], dir).code, 1);
    // Nor can dave be removed while it holds uncommitted changes.
    await gtFails(['crew', 'remove', 'app', 'dave'], 'GT_E_UNMERGED_WORK');
    sb.git(['checkout', '--', 'package.json'], dir);
  });

  test('gt crew remove refuses unmerged commits, then removes a clean crew member', async () => {
    await gtOk(['crew', 'add', 'app', 'erin']);
    const dir = join(town, 'rigs', 'app', 'crew', 'erin');
    writeFileSync(join(dir, 'notes.md'), 'my own work\n');
    sb.git(['add', 'notes.md'], dir);
    sb.git(['commit', '-qm', 'erin: notes'], dir);
    const err = await gtFails(['crew', 'remove', 'app', 'erin'], 'GT_E_UNMERGED_WORK');
    assert.match(err.error, /crew\/erin\/home/);
    assert.ok(existsSync(join(dir, 'notes.md')), 'the work is kept');
    assert.equal(agentRow('app/erin')?.role, 'crew');

    const removed = await gtOk<{ id: string; workspace_removed: boolean }>(['crew', 'remove', 'app', 'dave']);
    assert.equal(removed.id, 'app/dave');
    assert.equal(removed.workspace_removed, true);
    assert.equal(existsSync(join(town, 'rigs', 'app', 'crew', 'dave')), false);
    assert.equal(agentRow('app/dave'), undefined);
    assert.deepEqual(
      (await crewList()).map((c) => c.id),
      ['app/alice', 'app/carol', 'app/erin'],
    );
  });
});
