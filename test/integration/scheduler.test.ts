import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { featureSteps, simBlock } from '../../src/demo/sample-project';
import { type DaemonTown, makeDaemonTown } from '../helpers/daemon-town';
import { earlyStarts, landingsTested, mainIsGreen, mergedCount } from '../helpers/fleet';
import { until } from '../helpers/wait';

/**
 * The scheduler (issue 8) under the real daemon: the town cap with queued slings, convoy feeding as
 * blockers merge, parked rigs, and a failed dispatch kept and retried. Sim polecats, the sample project's
 * real test suite as the gate.
 */
const BUSY =
  "SELECT count(*) AS n FROM agents WHERE role = 'polecat' AND state IN ('starting','working','stalled')";
const LONG = 4 * 60_000;

/** A bead whose sim writes its own module and test, works a little, and submits. */
async function featureBead(t: DaemonTown, name: string): Promise<string> {
  const steps = [...featureSteps({ name, body: 's.toUpperCase()', cases: [['ab', 'AB']] }, `Add ${name}`)];
  return t.createBead(`Add ${name}`, simBlock([...steps, 'sleep 1s', 'done']));
}

interface ActivityRow {
  kind: string;
  bead: string | null;
  detail: string;
}

function activity(t: DaemonTown, kind: string): ActivityRow[] {
  return t.ledger
    .prepare('SELECT kind, bead, detail FROM activity WHERE kind = ? ORDER BY id')
    .all(kind) as ActivityRow[];
}

function hooked(t: DaemonTown, ids: readonly string[]): string[] {
  const list = ids.map(() => '?').join(',');
  return (
    t.ledger.prepare(`SELECT bead_id FROM agent_history WHERE bead_id IN (${list})`).all(...ids) as Array<{
      bead_id: string;
    }>
  ).map((r) => r.bead_id);
}

/** Waits until the scheduler has run `n` more ticks (so "nothing happened" is a real observation). */
async function schedulerTicks(t: DaemonTown, n: number): Promise<void> {
  const ticks = async () => {
    const s = await t.gtOk(['daemon', 'status']);
    return (
      (s.controllers as Array<{ name: string; ticks: number }>).find((c) => c.name === 'scheduler')?.ticks ??
      0
    );
  };
  const start = await ticks();
  await until(`${n} scheduler ticks`, async () => (await ticks()) >= start + n, 60_000);
}

describe('the scheduler', () => {
  const towns: DaemonTown[] = [];
  afterEach(async () => {
    const t = towns.pop();
    if (t) {
      await t.down(true).catch(() => {});
      t.cleanup();
    }
  });
  after(() => {
    for (const t of towns) t.cleanup();
  });

  test('max_polecats = 2, five slings: two work, three queue, all land, never more than two busy', async () => {
    const t = await makeDaemonTown({ maxPolecats: 2 });
    towns.push(t);
    const ids: string[] = [];
    for (const name of ['alpha', 'bravo', 'charlie', 'delta', 'echo']) ids.push(await featureBead(t, name));
    const extra = await featureBead(t, 'foxtrot');

    // No daemon yet: the sling itself queues what does not fit.
    const slung = await t.gtOk(['sling', ...ids, 'app']);
    const statuses = (
      slung.results as Array<{ bead: string; status: string; queued?: { position: number } }>
    ).map((r) => [r.bead, r.status, r.queued?.position ?? null]);
    assert.deepEqual(statuses, [
      [ids[0], 'slung', null],
      [ids[1], 'slung', null],
      [ids[2], 'queued', 1],
      [ids[3], 'queued', 2],
      [ids[4], 'queued', 3],
    ]);
    const queuedBead = t.ledger.prepare('SELECT status, assignee FROM beads WHERE id = ?').get(ids[2]) as {
      status: string;
      assignee: string | null;
    };
    assert.deepEqual(queuedBead, { status: 'open', assignee: null }, 'a queued bead stays open, not hooked');

    // --no-queue restores the refusal; gt queue lists and removes.
    const refused = await t.gt(['sling', extra, 'app', '--no-queue', '--json'], { cwd: t.town });
    assert.equal(refused.code, 1);
    assert.equal(JSON.parse(refused.stderr).code, 'GT_E_CAPACITY');
    const again = await t.gtOk(['sling', extra, 'app']);
    assert.equal(again.results[0].status, 'queued');
    assert.equal(again.results[0].queued.position, 4);
    const list = await t.gtOk(['queue']);
    assert.deepEqual(
      (list.entries as Array<{ bead: string }>).map((e) => e.bead),
      [ids[2], ids[3], ids[4], extra],
    );
    assert.deepEqual(
      (list.entries as Array<{ why: string }>).map((e) => e.why),
      ['town-cap', 'town-cap', 'town-cap', 'town-cap'],
      'each entry says why it waits',
    );
    await t.gtOk(['queue', 'remove', extra]);
    assert.equal((await t.gtOk(['queue', 'list'])).entries.length, 3);
    const missing = await t.gt(['queue', 'remove', extra], { cwd: t.town });
    assert.equal(missing.code, 1, 'removing what is not queued is refused');

    await t.up();
    const busy = t.ledger.prepare(BUSY);
    let peak = 0;
    await until(
      'all five merged',
      async () => {
        peak = Math.max(peak, (busy.get() as { n: number }).n);
        return mergedCount(t, ids) === ids.length;
      },
      LONG,
    );
    assert.ok(peak <= 2, `never more than 2 polecats busy (peak ${peak})`);
    assert.equal(peak, 2, 'the cap was used');
    assert.equal((await t.gtOk(['queue'])).entries.length, 0, 'the queue drained');
    assert.deepEqual(
      activity(t, 'dispatch')
        .map((a) => a.bead)
        .sort(),
      [ids[2], ids[3], ids[4]].sort(),
      'the scheduler dispatched exactly the three queued slings',
    );
    assert.equal(hooked(t, [extra]).length, 0, 'the removed entry was not dispatched');
    const landed = landingsTested(t);
    assert.ok(landed.ok, landed.detail);
    assert.ok(mainIsGreen(t), 'the test suite passes on main');
  });

  test('a parked rig gets nothing; unparked, the convoy feeds A, then B and C only after A merged', async () => {
    const t = await makeDaemonTown({ maxPolecats: 4 });
    towns.push(t);
    const a = await featureBead(t, 'base');
    const b = await featureBead(t, 'left');
    const c = await featureBead(t, 'right');
    for (const dependent of [b, c]) {
      const r = await t.bd(['dep', 'add', dependent, a]);
      assert.equal(r.code, 0, r.stderr);
    }
    await t.gtOk(['rig', 'park', 'app']);
    await t.gtOk(['convoy', 'create', 'Chain', a, b, c]);
    await t.up();
    await schedulerTicks(t, 2);
    assert.deepEqual(hooked(t, [a, b, c]), [], 'nothing dispatched to a parked rig');

    await t.gtOk(['rig', 'unpark', 'app']);
    await until('A dispatched', async () => hooked(t, [a]).length > 0, 60_000);
    assert.deepEqual(hooked(t, [b, c]), [], 'B and C wait for A');
    await until('all three merged', async () => mergedCount(t, [a, b, c]) === 3, LONG);
    assert.deepEqual(
      earlyStarts(t, [
        { bead: b, blocker: a },
        { bead: c, blocker: a },
      ]),
      [],
      'B and C were hooked only after A merged',
    );
    const fed = activity(t, 'dispatch');
    assert.deepEqual(fed.map((r) => r.bead).sort(), [a, b, c].sort());
    assert.ok(fed.every((r) => r.detail.startsWith('convoy bead')));
    const landedConvoy = t.ledger.prepare(
      "SELECT c.status FROM convoys c JOIN beads b ON b.id = c.id WHERE b.title = 'Chain' AND c.status = 'landed'",
    );
    await until('the convoy landed', async () => landedConvoy.get() !== undefined, 30_000);
    assert.ok(mainIsGreen(t));
  });

  test('a dispatch that fails is recorded and kept, and goes once it can', async () => {
    const t = await makeDaemonTown({ maxPolecats: 2 });
    towns.push(t);
    const a = await featureBead(t, 'gamma');
    await t.gtOk(['convoy', 'create', 'Faulty', a]);
    // Every sling the daemon makes fails at the session step (and is rolled back).
    await t.gtOk(['up'], { GT_FAULT: 'sling:session' });
    await until(
      'the failure recorded',
      async () => activity(t, 'dispatch-failed').length > 0 && (await t.gtOk(['queue'])).entries.length === 1,
      60_000,
    );
    const entry = (await t.gtOk(['queue'])).entries[0];
    assert.equal(entry.bead, a);
    assert.ok(entry.attempts >= 1);
    assert.match(entry.last_error, /GT_E_IO: fault injected at sling:session/);
    const bead = t.ledger.prepare('SELECT status, assignee FROM beads WHERE id = ?').get(a) as {
      status: string;
      assignee: string | null;
    };
    assert.deepEqual(bead, { status: 'open', assignee: null }, 'rolled back: still open');

    // A daemon without the fault: the kept entry is dispatched (its backoff is at most seconds here).
    await t.down();
    await t.up();
    await until('merged', async () => mergedCount(t, [a]) === 1, LONG);
    assert.equal((await t.gtOk(['queue'])).entries.length, 0);
    assert.ok(activity(t, 'dispatch').some((r) => r.bead === a));
  });
});
