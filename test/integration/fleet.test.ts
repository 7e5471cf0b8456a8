import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type DaemonTown, makeDaemonTown } from '../helpers/daemon-town';
import { createFleet, earlyStarts, landingsTested, mainIsGreen, mergedCount } from '../helpers/fleet';
import { until } from '../helpers/wait';

/**
 * Scale (issue 8): 30 sim polecats on 60 beads (20 chains of 3) under the daemon — the scheduler feeds the
 * convoy, never more than 30 work at once, dependents start only after their blockers merge, and every
 * bead lands with main green and every landing tested.
 */
describe('a fleet of 30 sim polecats on 60 beads', () => {
  let t: DaemonTown;
  before(async () => {
    t = await makeDaemonTown({ maxPolecats: 30, rigToml: '\n[refinery]\nbatch_max = 16\n' });
  });
  after(() => t?.cleanup());

  test('all 60 land, main green, capacity and dependencies respected', async () => {
    // Each bead works for 12 s, so the fleet really overlaps (dispatch is quicker than the work).
    const fleet = await createFleet(t, 20, 3, 12);
    await t.up();
    let peak = 0;
    const busy = t.ledger.prepare(
      "SELECT count(*) AS n FROM agents WHERE role = 'polecat' AND state IN ('starting','working','stalled')",
    );
    await until(
      'all 60 beads merged',
      async () => {
        peak = Math.max(peak, (busy.get() as { n: number }).n);
        return mergedCount(t, fleet.ids) === fleet.ids.length;
      },
      12 * 60_000,
    );
    assert.ok(peak <= 30, `never more than 30 working (peak ${peak})`);
    assert.ok(peak >= 10, `the fleet really ran in parallel (peak ${peak})`);
    assert.deepEqual(earlyStarts(t, fleet.deps), []);
    const landed = landingsTested(t);
    assert.ok(landed.ok, landed.detail);
    assert.ok(mainIsGreen(t), 'the test suite passes on main');
    const convoy = t.ledger.prepare('SELECT status FROM convoys WHERE id = ?').get(fleet.convoy) as {
      status: string;
    };
    assert.equal(convoy.status, 'landed');
    await t.down(true);
  });
});
