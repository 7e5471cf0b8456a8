import type { BudgetVerdict } from '../core/dispatch';
import type { Db } from '../ledger/open';

/**
 * The budget hook point (docs/daemon-scheduler.md): asked by the scheduler before each dispatch it is
 * about to make. A refusal skips that candidate (it keeps its place and is asked again on a later tick)
 * and is recorded as activity 'dispatch-refused'.
 *
 * TODAY IT ALLOWS EVERYTHING: metering spend against `[budget]` (daily_usd, per-rig and per-bead limits)
 * belongs to the cost issue, which fills this function in. Keep it cheap — it runs on scheduler ticks.
 */
export interface BudgetRequest {
  bead: string;
  /** The rig the work would run in (null for the Mayor). */
  rig: string | null;
}

export type { BudgetVerdict };

export function checkBudget(_root: string, _db: Db, _request: BudgetRequest): BudgetVerdict {
  return { allowed: true };
}
