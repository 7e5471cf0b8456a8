import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setPaused } from '../../src/daemon/pause';
import { openLedger } from '../../src/ledger/open';
import { BeadStore } from '../../src/ledger/store';
import { createConvoy } from '../../src/services/convoy';
import { createEscalation } from '../../src/services/escalation';
import {
  dequeueBead,
  enqueueSling,
  listQueue,
  listQueueWithReasons,
  readDispatchState,
  removeQueued,
} from '../../src/services/sling-queue';
import { insertRigRow } from '../../src/town/rig-store';

// What the scheduler reads from the ledger (selection rules for convoy feeding, obsolete queue entries, caps)
// and the queue's own operations, against a real SQLite ledger and real config files.
const root = mkdtempSync(join(tmpdir(), 'gt-sling-queue-'));
after(() => rmSync(root, { recursive: true, force: true }));
writeFileSync(
  join(root, 'town.toml'),
  'name = "t"\n\n[scheduler]\nmax_polecats = 3\nmax_polecats_per_rig = 2\n',
);
mkdirSync(join(root, 'rigs', 'web'), { recursive: true });
writeFileSync(
  join(root, 'rigs', 'web', 'rig.toml'),
  'default_branch = "main"\nprefix = "web"\n\n[scheduler]\nmax_polecats = 1\n',
);
const db = openLedger(join(root, 'ledger.db'), { create: true });
after(() => db.close());
const store = new BeadStore(db, 'tester');
store.setConfig('issue_prefix', 'hq');
for (const [name, prefix] of [
  ['app', 'app'],
  ['web', 'web'],
]) {
  insertRigRow(db, {
    name: name!,
    prefix: prefix!,
    path: `rigs/${name}`,
    upstream: null,
    defaultBranch: 'main',
    experimental: true,
  });
}

const work = (title: string, extra: Parameters<BeadStore['create']>[0] = { title }) =>
  store.create({ rig: 'app', ...extra, title }).id;

describe('readDispatchState', () => {
  test('convoy feeding picks exactly the ready, unassigned, unqueued work beads of open convoys', () => {
    const ready = work('ready');
    const blocker = work('blocker');
    const blocked = work('blocked');
    store.addDependency(blocked, blocker);
    const assigned = work('assigned', { title: 'assigned', assignee: 'someone' });
    const epic = work('epic', { title: 'epic', issue_type: 'epic' });
    const noRig = store.create({ title: 'no rig' }).id;
    const queued = work('queued');
    const escalated = work('escalated');
    const hooked = work('hooked');
    const closed = work('closed');
    const notInConvoy = work('loose');
    const inClosedConvoy = work('in a closed convoy');
    createConvoy(store, 'Open', [
      ready,
      blocker,
      blocked,
      assigned,
      epic,
      noRig,
      queued,
      escalated,
      hooked,
      closed,
    ]);
    const closedConvoy = createConvoy(store, 'Closed', [inClosedConvoy]);
    db.prepare("UPDATE convoys SET status = 'closed', closed_at = 1 WHERE id = ?").run(closedConvoy.id);
    enqueueSling(store, { bead: queued, target: 'app', reason: 'test' });
    createEscalation(store, { severity: 'HIGH', summary: 'stuck', source: 'human', bead: escalated });
    const now = Date.now();
    db.prepare(
      "INSERT INTO agents (id, role, rig, name, state, hooked_bead, created_at, updated_at) VALUES ('app/nux', 'polecat', 'app', 'nux', 'done', ?, ?, ?)",
    ).run(hooked, now, now);
    store.close(closed, 'merged in abc');

    const state = readDispatchState(root, db);
    assert.deepEqual(
      state.input.convoy.map((c) => c.bead).sort(),
      [ready, blocker].sort(),
      'open, unblocked, unassigned, with a rig, work, not queued/hooked/escalated, in an open convoy',
    );
    assert.equal(notInConvoy.length > 0, true);
    store.close(blocker, 'merged in def');
    assert.ok(
      readDispatchState(root, db).input.convoy.some((c) => c.bead === blocked),
      'a bead becomes ready when its blocker closes',
    );
    dequeueBead(db, queued);
    db.prepare('DELETE FROM agents').run();
    db.prepare('DELETE FROM convoy_members').run();
  });

  test('caps, busy counts, parked rigs, the pause and busy named agents', () => {
    const now = Date.now();
    const a = work('held');
    const insert = db.prepare(
      'INSERT INTO agents (id, role, rig, name, state, hooked_bead, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    insert.run('app/nux', 'polecat', 'app', 'nux', 'working', a, now, now);
    insert.run('app/slit', 'polecat', 'app', 'slit', 'stalled', null, now, now);
    insert.run('app/ace', 'polecat', 'app', 'ace', 'done', null, now, now);
    insert.run('web/nux', 'polecat', 'web', 'nux', 'starting', null, now, now);
    insert.run('app/alice', 'crew', 'app', 'alice', 'idle', null, now, now);
    db.prepare("UPDATE rigs SET parked = 1 WHERE name = 'web'").run();
    let state = readDispatchState(root, db);
    assert.equal(state.input.townCap, 3);
    assert.equal(state.input.townBusy, 3, 'starting, working and stalled are busy; done is not');
    assert.deepEqual(state.input.rigs.app, { cap: 2, parked: false, busy: 2 }, 'town max_polecats_per_rig');
    assert.deepEqual(state.input.rigs.web, { cap: 1, parked: true, busy: 1 }, "the rig's own cap wins");
    assert.equal(state.input.paused, false);
    assert.ok(state.input.occupiedAgents.has('app/nux') && state.input.occupiedAgents.has('web/nux'));
    assert.ok(!state.input.occupiedAgents.has('app/ace') && !state.input.occupiedAgents.has('app/alice'));
    store.write(() => setPaused(db, 'tester'));
    state = readDispatchState(root, db);
    assert.equal(state.input.paused, true);
    db.prepare("DELETE FROM config WHERE key = 'dispatch.paused'").run();
    db.prepare("UPDATE rigs SET parked = 0 WHERE name = 'web'").run();
    db.prepare('DELETE FROM agents').run();
  });

  test('queued targets: slot use, named agents, backoff, obsolete entries', () => {
    const now = Date.now();
    db.prepare(
      "INSERT INTO agents (id, role, rig, name, state, created_at, updated_at) VALUES ('app/bob', 'crew', 'app', 'bob', 'idle', ?, ?)",
    ).run(now, now);
    const toRig = work('to rig');
    const toPolecat = work('to polecat');
    const toCrew = work('to crew');
    const toCrewShort = work('to crew by name');
    const toMayor = work('to mayor');
    const gone = work('closed since');
    enqueueSling(store, { bead: toRig, target: 'app', reason: 'full' });
    enqueueSling(store, { bead: toPolecat, target: 'app/nux', reason: 'full' });
    enqueueSling(store, { bead: toCrew, target: 'app/crew/alice', reason: 'paused' });
    enqueueSling(store, { bead: toCrewShort, target: 'app/bob', reason: 'paused' });
    enqueueSling(store, { bead: toMayor, target: 'mayor', reason: 'paused' });
    enqueueSling(store, { bead: gone, target: 'app', reason: 'full' });
    store.close(gone, 'done by hand');
    db.prepare('UPDATE sling_queue SET attempts = 2 WHERE bead_id = ?').run(toRig);
    db.prepare(
      "INSERT INTO activity (at, kind, actor, bead) VALUES (?, 'dispatch-failed', 'scheduler', ?)",
    ).run(now, toRig);

    const state = readDispatchState(root, db, now);
    const byBead = new Map(state.input.queued.map((q) => [q.bead, q]));
    assert.deepEqual(
      [toRig, toPolecat, toCrew, toCrewShort, toMayor].map((b) => {
        const q = byBead.get(b)!;
        return [q.rig, q.agent, q.usesSlot];
      }),
      [
        ['app', null, true],
        ['app', 'app/nux', true],
        ['app', 'app/alice', false],
        ['app', 'app/bob', false],
        [null, 'mayor', false],
      ],
    );
    assert.equal(byBead.get(toRig)!.notBefore, now + 10_000, 'backoff after the second failure: 10 s');
    assert.equal(byBead.get(toPolecat)!.notBefore, 0);
    assert.deepEqual(
      state.obsolete.map((o) => [o.bead, o.why]),
      [[gone, 'it is closed']],
    );
    assert.equal(byBead.has(gone), false);

    const reasons = new Map(listQueueWithReasons(root, db).map((e) => [e.bead, e.why]));
    assert.equal(reasons.get(toRig), 'backoff');
    assert.equal(reasons.get(toPolecat), 'next');
    assert.equal(reasons.get(gone), 'obsolete: it is closed');
    for (const b of [toRig, toPolecat, toCrew, toCrewShort, toMayor, gone]) dequeueBead(db, b);
    db.prepare('DELETE FROM agents').run();
  });
});

describe('the queue', () => {
  test('dispatch order is bead priority then queue age; re-queueing keeps the place', () => {
    const low = work('low', { title: 'low', priority: 3 });
    const high = work('high', { title: 'high', priority: 0 });
    const mid = work('mid', { title: 'mid', priority: 2 });
    const first = enqueueSling(store, { bead: low, target: 'app', reason: 'full' });
    assert.equal(first.position, 1);
    assert.equal(first.created, true);
    assert.equal(enqueueSling(store, { bead: high, target: 'app', reason: 'full' }).position, 1);
    assert.equal(enqueueSling(store, { bead: mid, target: 'app', reason: 'full' }).position, 2);
    const again = enqueueSling(store, { bead: low, target: 'app/nux', agent: 'sim', reason: 'full' });
    assert.equal(again.created, false);
    assert.equal(again.id, first.id);
    const list = listQueue(db);
    assert.deepEqual(
      list.map((e) => [e.position, e.bead]),
      [
        [1, high],
        [2, mid],
        [3, low],
      ],
    );
    assert.equal(list[2]!.target, 'app/nux', 'the latest target is kept');
    assert.equal(list[2]!.agent, 'sim');
    assert.equal(list[2]!.requested_by, 'tester');
    const kinds = db.prepare("SELECT count(*) AS n FROM activity WHERE kind = 'sling-queued'").get() as {
      n: number;
    };
    assert.ok(kinds.n >= 4);

    assert.deepEqual(
      removeQueued(store, [String(list[0]!.id), mid]).removed,
      [high, mid],
      'by entry number or id',
    );
    assert.throws(() => removeQueued(store, [high]), { code: 'GT_E_NOT_FOUND' });
    assert.equal(store.get(high)!.status, 'open', 'the bead stays as it was');
    assert.equal(dequeueBead(db, low), true);
    assert.equal(dequeueBead(db, low), false);
  });
});
