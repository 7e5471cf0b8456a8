import { type Dispatch, planWithBudget } from '../../core/dispatch';
import { isGtError } from '../../core/errors';
import { prepared } from '../../ledger/open';
import { BeadStore } from '../../ledger/store';
import { checkBudget } from '../../services/budget';
import { slingBeads } from '../../services/sling';
import { dequeueBead, type QueueRow, readDispatchState } from '../../services/sling-queue';
import { loadTownConfig } from '../../town/config';
import { parseDuration } from '../../town/duration';
import { recordActivity } from '../activity';
import type { Controller, DaemonContext } from '../controller';

/**
 * The scheduler (town-wide): owns dispatch. Each tick reads the caps, what is busy, the sling queue and the
 * ready beads of open convoys, plans with the pure planDispatch (src/core/dispatch.ts) and slings in-process.
 * It is woken by every ledger change, so capacity freed by `gt done` or a blocker merged by the Refinery
 * is used within seconds. Nothing is kept in memory: the queue and the activity trail are the state.
 *
 *   success   the queue entry goes, activity 'dispatch'
 *   failure   the entry stays (a convoy bead gets one) with attempts + 1 and last_error, activity
 *             'dispatch-failed'; retried after a backoff (5 s doubling to 5 min), never dropped
 *   refused   by the budget: skipped, activity 'dispatch-refused' (once per reason per daemon run)
 *   obsolete  a queued bead that is closed, submitted or on a hook: entry dropped, 'dispatch-dropped'
 */
const ACTOR = 'scheduler';
/** Slings run at once (each clones a checkout and starts a session; per-rig steps are serialised by sling). */
const CONCURRENCY = 4;
/**
 * Errors that only mean "not now" or "someone else took it" (a race with a hand-made sling, a pause): no
 * attempt is counted; the next tick sees the new state (a bead on someone's hook drops its queue entry).
 */
const NOT_NOW = new Set(['GT_E_CAPACITY', 'GT_E_PAUSED', 'GT_E_ALREADY_HOOKED']);

export function schedulerIntervalMs(root: string): number {
  try {
    return parseDuration(loadTownConfig(root).scheduler.poll_interval) ?? 5000;
  } catch {
    return 5000;
  }
}

export interface TickReport {
  dispatched: string[];
  failed: string[];
  refused: string[];
  dropped: string[];
}

export function schedulerController(ctx: DaemonContext): Controller {
  const store = new BeadStore(ctx.store.db, ACTOR);
  const db = store.db;
  const log = (fields: Record<string, unknown>, msg: string) =>
    ctx.log.info({ controller: 'scheduler', ...fields }, msg);
  const refusedSeen = new Map<string, string>();

  async function dispatchOne(d: Dispatch, entry: QueueRow | undefined, report: TickReport): Promise<void> {
    try {
      const outcome = await slingBeads({ root: ctx.root, store }, [d.bead], d.target, {
        agent: entry?.agent ?? undefined,
        model: entry?.model ?? undefined,
      });
      const result = outcome.results[0]!;
      store.write(() => {
        dequeueBead(db, d.bead);
        recordActivity(db, {
          kind: 'dispatch',
          actor: ACTOR,
          rig: result.rig,
          agent: result.agent,
          bead: d.bead,
          detail: `${d.source === 'queue' ? 'queued sling' : 'convoy bead'} → ${result.agent}${result.status === 'already-hooked' ? ' (already hooked)' : ''}`,
        });
      });
      report.dispatched.push(d.bead);
      log({ bead: d.bead, agent: result.agent, source: d.source }, `dispatched ${d.bead} → ${result.agent}`);
    } catch (error) {
      const code = isGtError(error) ? error.code : 'GT_E_INTERNAL';
      const message = error instanceof Error ? error.message : String(error);
      if (NOT_NOW.has(code)) {
        // A race with a hand-made sling or a pause: the candidate simply waits for the next tick.
        log({ bead: d.bead, code }, `not dispatched now: ${message}`);
        return;
      }
      // Recorded, kept and retried: a convoy bead gets a queue entry so the failure shows in gt queue.
      store.write(() => {
        const queued = prepared<[string], number>(db, 'SELECT id FROM sling_queue WHERE bead_id = ?')
          .pluck()
          .get(d.bead);
        if (queued === undefined && store.get(d.bead)) {
          prepared(
            db,
            'INSERT INTO sling_queue (bead_id, target, requested_by, created_at) VALUES (?, ?, ?, ?)',
          ).run(d.bead, d.target, ACTOR, Date.now());
        }
        prepared(db, 'UPDATE sling_queue SET attempts = attempts + 1, last_error = ? WHERE bead_id = ?').run(
          `${code}: ${message}`.slice(0, 2000),
          d.bead,
        );
        recordActivity(db, {
          kind: 'dispatch-failed',
          actor: ACTOR,
          rig: d.rig,
          bead: d.bead,
          detail: `→ ${d.target}: ${code}: ${message}`,
        });
      });
      report.failed.push(d.bead);
      ctx.log.warn(
        { controller: 'scheduler', bead: d.bead, code, err: message },
        `dispatch of ${d.bead} failed`,
      );
    }
  }

  return {
    name: 'scheduler',
    intervalMs: schedulerIntervalMs(ctx.root),
    async tick() {
      const report: TickReport = { dispatched: [], failed: [], refused: [], dropped: [] };
      const state = readDispatchState(ctx.root, db);
      if (state.obsolete.length > 0) {
        store.write(() => {
          for (const o of state.obsolete) {
            prepared(db, 'DELETE FROM sling_queue WHERE id = ?').run(o.id);
            recordActivity(db, {
              kind: 'dispatch-dropped',
              actor: ACTOR,
              bead: o.bead,
              detail: `no longer waits: ${o.why}`,
            });
            report.dropped.push(o.bead);
          }
        });
      }
      const plan = planWithBudget(state.input, (d) =>
        checkBudget(ctx.root, db, { bead: d.bead, rig: d.rig }),
      );
      for (const r of plan.refused) {
        if (refusedSeen.get(r.bead) === r.reason) continue;
        refusedSeen.set(r.bead, r.reason);
        store.write(() => {
          recordActivity(db, {
            kind: 'dispatch-refused',
            actor: ACTOR,
            bead: r.bead,
            detail: `budget: ${r.reason}`,
          });
        });
        report.refused.push(r.bead);
      }
      // Workers pull from one shared list: at most CONCURRENCY slings in flight.
      const pending = [...plan.dispatch];
      const worker = async () => {
        for (let d = pending.shift(); d; d = pending.shift()) {
          await dispatchOne(d, d.queueId === null ? undefined : state.queue.get(d.queueId), report);
        }
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, pending.length) }, worker));
      return (
        report.dispatched.length + report.failed.length + report.refused.length + report.dropped.length > 0
      );
    },
  };
}
