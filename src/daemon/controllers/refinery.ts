import { isGtError } from '../../core/errors';
import { prepared } from '../../ledger/open';
import { BeadStore } from '../../ledger/store';
import { type PassSummary, Refinery } from '../../refinery/controller';
import { REFINERY_ACTOR } from '../../refinery/ledger';
import type { Controller, DaemonContext } from '../controller';

/** Work the Refinery could do now, in one indexed query: open MRs, open batches, follow-ups owed. */
function refineryHasWork(ctx: DaemonContext, rig: string): boolean {
  const row = prepared<[string, string, string], { n: number }>(
    ctx.store.db,
    `SELECT (SELECT count(*) FROM merge_requests WHERE rig = ? AND (state IN ('queued','sheriff','ready','testing')
               OR followup = 'pending'))
          + (SELECT count(*) FROM mq_batches WHERE rig = ? AND state IN ('active','landing'))
          + (SELECT count(*) FROM gate_runs WHERE rig = ? AND state = 'running') AS n`,
  ).get(rig, rig, rig);
  return (row?.n ?? 0) > 0;
}

function passChanged(s: PassSummary): boolean {
  return (
    s.recovered.length > 0 ||
    s.sheriff.passed.length + s.sheriff.rejected.length > 0 ||
    s.batches.length > 0 ||
    s.followups > 0
  );
}

/**
 * The rig's Refinery as a daemon controller: when woken and there is queue work, passes until idle. The
 * first tick after a (re)start always runs a pass, so whatever a killed daemon left in flight is settled.
 */
export function refineryController(ctx: DaemonContext, rig: string): Controller {
  const name = `refinery:${rig}`;
  const refinery = new Refinery({
    root: ctx.root,
    store: new BeadStore(ctx.store.db, REFINERY_ACTOR),
    rig,
    env: ctx.env,
    log: (line) => ctx.log.info({ controller: name }, line),
  });
  let started = false;
  return {
    name,
    intervalMs: 30_000,
    async tick() {
      if (started && !refineryHasWork(ctx, rig)) return false;
      started = true;
      let changed = false;
      for (let i = 0; i < 1000; i++) {
        let s: PassSummary;
        try {
          s = await refinery.pass();
        } catch (error) {
          // Someone runs `gt refinery run` by hand: not a failure of ours; the next wake tries again.
          if (isGtError(error) && error.code === 'GT_E_REFINERY_BUSY') return changed;
          throw error;
        }
        if (passChanged(s)) {
          changed = true;
          for (const b of s.batches) {
            ctx.log.info(
              {
                controller: name,
                batch: b.id,
                landed: b.landed,
                rejected: b.rejected,
                gate_runs: b.gateRuns,
              },
              `batch ${b.id}: ${b.outcome || b.path}`,
            );
          }
        }
        if (s.idle) break;
      }
      return changed;
    },
  };
}
