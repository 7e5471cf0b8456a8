import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bd, bdJson, initLedger } from '../helpers/bd';

type Json = Record<string, unknown>;

describe('bd: the core work loop through the real binary', () => {
  let dir: string;
  let cleanup: () => void;
  const run = (args: string[], env: Record<string, string> = {}) => bd(args, { cwd: dir, env });
  const json = <T = Json[]>(args: string[], env: Record<string, string> = {}) =>
    bdJson<T>(args, { cwd: dir, env });
  const create = (...args: string[]) => json<Json>(['create', ...args]).id as string;

  before(() => {
    ({ dir, cleanup } = initLedger('tb'));
  });
  after(() => cleanup());

  it('creates beads with beads-compatible JSON', () => {
    const bead = json<Json>([
      'create',
      'Add login',
      '-d',
      'OAuth please',
      '-t',
      'feature',
      '-p',
      'P1',
      '-l',
      'auth,web',
    ]);
    assert.match(String(bead.id), /^tb-[0-9a-z]{3}$/);
    assert.equal(bead.title, 'Add login');
    assert.equal(bead.description, 'OAuth please');
    assert.equal(bead.issue_type, 'feature');
    assert.equal(bead.priority, 1);
    assert.equal(bead.status, 'open');
    assert.deepEqual(bead.labels, ['auth', 'web']);
    assert.match(String(bead.created_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal(bead.dependency_count, 0);

    const shown = json(['show', String(bead.id)]);
    assert.ok(Array.isArray(shown), 'show --json returns an array, as beads does');
    assert.equal(shown[0]!.id, bead.id);
  });

  it('orders ready work by priority then age and hides blocked beads', () => {
    const low = create('Low priority', '-p', '3');
    const first = create('First P1', '-p', '1');
    const second = create('Second P1', '-p', '1');
    const waiting = create('Waits on first', '-p', '0', '--deps', first);
    const ready = json(['ready', '-n', '0']).map((b) => b.id);
    assert.ok(!ready.includes(waiting), 'blocked bead is not ready');
    assert.ok(ready.indexOf(first) < ready.indexOf(second), 'older first within a priority');
    assert.ok(ready.indexOf(second) < ready.indexOf(low), 'priority before age');

    const blocked = json(['blocked']);
    const entry = blocked.find((b) => b.id === waiting);
    assert.ok(entry);
    assert.deepEqual(entry.blocked_by, [first]);

    assert.equal(run(['close', first, '-r', 'done']).status, 0);
    assert.ok(
      json(['ready', '-n', '0']).some((b) => b.id === waiting),
      'closing the blocker releases it',
    );
  });

  it('blocks the children of a blocked parent, transitively', () => {
    const gate = create('Gate');
    const epic = create('Epic', '-t', 'epic', '--deps', gate);
    const child = json<Json>(['create', 'Child', '--parent', epic]);
    assert.equal(child.id, `${epic}.1`);
    const grandchild = json<Json>(['create', 'Grandchild', '--parent', String(child.id)]);
    assert.equal(grandchild.id, `${epic}.1.1`);
    let ready = json(['ready', '-n', '0']).map((b) => b.id);
    assert.ok(!ready.includes(child.id) && !ready.includes(grandchild.id));

    run(['close', gate]);
    ready = json(['ready', '-n', '0']).map((b) => b.id);
    assert.ok(ready.includes(child.id) && ready.includes(grandchild.id));

    // Re-opening the gate blocks the whole subtree again.
    run(['reopen', gate]);
    ready = json(['ready', '-n', '0']).map((b) => b.id);
    assert.ok(!ready.includes(grandchild.id));
    assert.ok(json(['ready', '--parent', epic]).length === 0);
  });

  it('refuses cycles and names them, and refuses self-dependencies', () => {
    const a = create('A');
    const b = create('B', '--deps', a);
    const c = create('C', '--deps', b);
    const cycle = run(['dep', 'add', a, c, '--json']);
    assert.equal(cycle.status, 1);
    const error = JSON.parse(cycle.stderr);
    assert.equal(error.code, 'GT_E_CYCLE');
    assert.match(error.error, new RegExp(`${a} → ${c} → ${b} → ${a}`));
    const self = run(['dep', 'add', a, a]);
    assert.equal(self.status, 1);
    assert.match(self.stderr, /GT_E_SELF_DEPENDENCY/);
    // A non-blocking edge in the other direction is fine.
    assert.equal(run(['dep', 'add', a, c, '-t', 'related']).status, 0);
    const tree = json(['dep', 'tree', c]);
    assert.deepEqual(
      tree.map((n) => [n.id, n.depth]),
      [
        [c, 0],
        [b, 1],
        [a, 2],
        [c, 3],
      ],
    );
  });

  it('refuses to close a bead with open blockers unless forced', () => {
    const blocker = create('Blocker');
    const bead = create('Blocked', '--deps', blocker);
    const refused = run(['close', bead]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /GT_E_BLOCKED.*blocked by open beads/);
    assert.equal(json<Json[]>(['show', bead])[0]!.status, 'open');
    const viaUpdate = run(['update', bead, '--status', 'closed']);
    assert.equal(viaUpdate.status, 1, 'update --status closed goes through the same guard');
    assert.equal(run(['close', bead, '--force', '-r', 'obsolete']).status, 0);
    const closed = json<Json[]>(['show', bead])[0]!;
    assert.equal(closed.status, 'closed');
    assert.equal(closed.close_reason, 'obsolete');
    assert.ok(closed.closed_at);
  });

  it('claims atomically and idempotently', () => {
    const bead = create('Claim me');
    const claimed = json(['update', bead, '--claim'], { BD_ACTOR: 'alice' })[0]!;
    assert.equal(claimed.assignee, 'alice');
    assert.equal(claimed.status, 'in_progress');
    assert.ok(claimed.started_at);
    assert.equal(run(['update', bead, '--claim'], { BD_ACTOR: 'alice' }).status, 0, 'same actor: idempotent');
    const other = run(['update', bead, '--claim', '--json'], { BD_ACTOR: 'bob' });
    assert.equal(other.status, 1);
    assert.equal(JSON.parse(other.stderr).code, 'GT_E_ALREADY_CLAIMED');
    // GT_AGENT is the fallback identity.
    const viaAgent = create('Agent claim');
    assert.equal(json(['update', viaAgent, '--claim'], { GT_AGENT: 'rig/nux' })[0]!.assignee, 'rig/nux');
  });

  it('resolves partial ids and refuses ambiguous ones', () => {
    const id = create('Partial');
    const suffix = id.slice('tb-'.length);
    assert.equal(json(['show', suffix])[0]!.id, id);
    const ambiguous = run(['show', 'tb-', '--json']);
    assert.equal(ambiguous.status, 1);
    assert.equal(JSON.parse(ambiguous.stderr).code, 'GT_E_AMBIGUOUS_ID');
    const missing = run(['show', 'tb-zzzzzz', '--json']);
    assert.equal(JSON.parse(missing.stderr).code, 'GT_E_NOT_FOUND');
  });

  it('keeps labels, comments, search, stats and an event trail', () => {
    const id = create('Searchable needle', '-d', 'haystack text');
    assert.equal(run(['label', 'add', id, 'area:x']).status, 0);
    assert.deepEqual(json<string[]>(['label', 'list', id]), ['area:x']);
    assert.equal(run(['label', 'remove', id, 'nope']).status, 1, 'removing a missing label is not silent');
    assert.equal(run(['comment', id, 'first', 'note'], { BD_ACTOR: 'carol' }).status, 0);
    const comments = json(['comments', id]);
    assert.equal(comments[0]!.text, 'first note');
    assert.equal(comments[0]!.author, 'carol');
    assert.deepEqual(
      json(['search', 'needle']).map((b) => b.id),
      [id],
    );
    assert.deepEqual(
      json(['search', 'haystack']).map((b) => b.id),
      [id],
    );
    json(['update', id, '--priority', '0', '--title', 'Renamed needle'], { BD_ACTOR: 'dave' });
    const history = json(['history', id]);
    const types = history.map((e) => e.event_type);
    assert.deepEqual(types.slice(0, 1), ['created']);
    assert.ok(types.includes('label_added') && types.includes('commented') && types.includes('updated'));
    const update = history.find((e) => e.event_type === 'updated')!;
    assert.equal(update.actor, 'dave');
    assert.deepEqual(update.new_value, { title: 'Renamed needle', priority: 0 });
    const stats = json<{ summary: Record<string, number> }>(['stats']).summary;
    assert.ok(
      (stats.total_issues ?? 0) > 0 && (stats.ready_issues ?? 0) > 0 && (stats.closed_issues ?? 0) > 0,
    );
  });

  it('strips terminal escapes from hostile titles in human output but keeps them as data', () => {
    const hostile = 'evil \u001b]0;pwned\u0007 \u001b[31mred\u001b[0m $(touch x); rm -rf ~';
    const id = create(hostile);
    const text = run(['show', id]).stdout;
    assert.ok(!text.includes('\u001b'), 'no escape sequences reach the terminal');
    assert.match(text, /\$\(touch x\); rm -rf ~/);
    assert.equal(json(['show', id])[0]!.title, hostile);
  });
});
