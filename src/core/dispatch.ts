/**
 * The scheduler's decision (docs/daemon-scheduler.md), pure: given the caps, what is busy, the queued
 * slings, the ready beads of open convoys, parked rigs, the pause flag and the budget verdicts known so
 * far, which dispatches to do now and in what order. The scheduler controller does the I/O around it.
 *
 * Order: queued slings first (an explicit `gt sling` waited for room), by bead priority then queue age;
 * then convoy beads by priority then bead age. A candidate that does not fit (its rig's cap, the town's
 * cap, its named agent busy, a retry backoff, a budget refusal) is skipped and the next one is tried, so a
 * full rig never holds up work for another rig.
 */

export type BudgetVerdict = { allowed: true } | { allowed: false; reason: string };

export interface QueuedCandidate {
  /** sling_queue.id */
  id: number;
  bead: string;
  priority: number;
  /** When it was queued (ms): the age order within a priority. */
  queuedAt: number;
  /** The sling target as given: a rig, `<rig>/<name>`, or `mayor`. */
  target: string;
  /** The rig the target is in (null for the Mayor). */
  rig: string | null;
  /** The agent the target names (`<rig>/<name>`, `mayor`), or null for "any polecat of the rig". */
  agent: string | null;
  /** Whether it takes a polecat slot (rig and polecat targets; crew and the Mayor do not). */
  usesSlot: boolean;
  /** No attempt before this time (ms): the backoff after a failed dispatch. */
  notBefore: number;
}

export interface ConvoyCandidate {
  bead: string;
  priority: number;
  createdAt: number;
  rig: string;
}

export interface RigState {
  /** The rig's own cap (rig.toml, else town max_polecats_per_rig); null = only the town cap. */
  cap: number | null;
  parked: boolean;
  /** Polecats of the rig in a busy state (starting, working, stalled). */
  busy: number;
}

export interface DispatchInput {
  now: number;
  paused: boolean;
  feedConvoys: boolean;
  townCap: number;
  /** Busy polecats in the whole town (rigs not listed below included). */
  townBusy: number;
  rigs: Readonly<Record<string, RigState>>;
  queued: readonly QueuedCandidate[];
  convoy: readonly ConvoyCandidate[];
  /** Agents that hold other work (a named target among them has to wait). */
  occupiedAgents: ReadonlySet<string>;
  /** Budget verdicts by bead; a bead without one is treated as allowed. */
  budget: ReadonlyMap<string, BudgetVerdict>;
}

export interface Dispatch {
  bead: string;
  target: string;
  rig: string | null;
  source: 'queue' | 'convoy';
  /** The queue entry this dispatch drains, or null for a convoy bead. */
  queueId: number | null;
  usesSlot: boolean;
}

export type WaitReason = 'paused' | 'parked' | 'town-cap' | 'rig-cap' | 'agent-busy' | 'backoff' | 'budget';

export interface DispatchPlan {
  dispatch: Dispatch[];
  /** Candidates that fitted but the budget refused (they take no slot; the scheduler records them). */
  refused: Array<{ bead: string; reason: string }>;
  /** Everything else, with the first reason it cannot go now. */
  waiting: Array<{ bead: string; source: 'queue' | 'convoy'; why: WaitReason }>;
}

/** Priority (0 first), then age, then a stable key. */
function byPriorityThenAge<T>(key: (item: T) => [number, number, string | number]) {
  return (a: T, b: T): number => {
    const [pa, ta, ia] = key(a);
    const [pb, tb, ib] = key(b);
    if (pa !== pb) return pa - pb;
    if (ta !== tb) return ta - tb;
    return ia < ib ? -1 : ia > ib ? 1 : 0;
  };
}

export function orderQueued(queued: readonly QueuedCandidate[]): QueuedCandidate[] {
  return [...queued].sort(byPriorityThenAge((q) => [q.priority, q.queuedAt, q.id]));
}

export function orderConvoy(convoy: readonly ConvoyCandidate[]): ConvoyCandidate[] {
  return [...convoy].sort(byPriorityThenAge((c) => [c.priority, c.createdAt, c.bead]));
}

export function planDispatch(input: DispatchInput): DispatchPlan {
  const plan: DispatchPlan = { dispatch: [], refused: [], waiting: [] };
  const queued = orderQueued(input.queued);
  const queuedBeads = new Set(queued.map((q) => q.bead));
  const seen = new Set<string>();
  const convoy = input.feedConvoys
    ? orderConvoy(input.convoy).filter((c) => {
        if (queuedBeads.has(c.bead) || seen.has(c.bead)) return false; // the queue entry speaks for it
        seen.add(c.bead);
        return true;
      })
    : [];
  type Candidate = Dispatch & { agent: string | null; notBefore: number };
  const candidates: Candidate[] = [
    ...queued.map((q) => ({
      bead: q.bead,
      target: q.target,
      rig: q.rig,
      source: 'queue' as const,
      queueId: q.id,
      usesSlot: q.usesSlot,
      agent: q.agent,
      notBefore: q.notBefore,
    })),
    ...convoy.map((c) => ({
      bead: c.bead,
      target: c.rig,
      rig: c.rig,
      source: 'convoy' as const,
      queueId: null,
      usesSlot: true,
      agent: null,
      notBefore: 0,
    })),
  ];

  let townBusy = input.townBusy;
  const rigBusy = new Map(Object.entries(input.rigs).map(([name, r]) => [name, r.busy]));
  const claimedAgents = new Set<string>();
  for (const c of candidates) {
    const wait = (why: WaitReason) => plan.waiting.push({ bead: c.bead, source: c.source, why });
    if (input.paused) {
      wait('paused');
      continue;
    }
    const rig = c.rig === null ? undefined : input.rigs[c.rig];
    if (rig?.parked) {
      wait('parked');
      continue;
    }
    if (c.notBefore > input.now) {
      wait('backoff');
      continue;
    }
    if (c.agent !== null && (input.occupiedAgents.has(c.agent) || claimedAgents.has(c.agent))) {
      wait('agent-busy');
      continue;
    }
    if (c.usesSlot) {
      if (townBusy >= input.townCap) {
        wait('town-cap');
        continue;
      }
      if (rig && rig.cap !== null && (rigBusy.get(c.rig!) ?? 0) >= rig.cap) {
        wait('rig-cap');
        continue;
      }
    }
    const verdict = input.budget.get(c.bead);
    if (verdict && !verdict.allowed) {
      plan.refused.push({ bead: c.bead, reason: verdict.reason });
      wait('budget');
      continue;
    }
    if (c.usesSlot) {
      townBusy++;
      if (c.rig !== null) rigBusy.set(c.rig, (rigBusy.get(c.rig) ?? 0) + 1);
    }
    if (c.agent !== null) claimedAgents.add(c.agent);
    plan.dispatch.push({
      bead: c.bead,
      target: c.target,
      rig: c.rig,
      source: c.source,
      queueId: c.queueId,
      usesSlot: c.usesSlot,
    });
  }
  return plan;
}

/**
 * Plans with budget verdicts fetched only for the candidates that would be dispatched: a refusal frees the
 * slot for the next candidate, whose verdict is fetched in turn. `check` is called at most once per bead.
 */
export function planWithBudget(
  input: Omit<DispatchInput, 'budget'>,
  check: (d: Dispatch) => BudgetVerdict,
): DispatchPlan {
  const verdicts = new Map<string, BudgetVerdict>();
  for (;;) {
    const plan = planDispatch({ ...input, budget: verdicts });
    const unchecked = plan.dispatch.filter((d) => !verdicts.has(d.bead));
    if (unchecked.length === 0) return plan;
    for (const d of unchecked) verdicts.set(d.bead, check(d));
  }
}

/** Wait before retrying a failed dispatch: 5 s, 10 s, 20 s, … at most 5 minutes. */
export function retryDelayMs(attempts: number): number {
  if (attempts <= 0) return 0;
  return Math.min(5 * 60_000, 5000 * 2 ** Math.min(attempts - 1, 16));
}

/** The rig a sling target names (`app`, `app/nux`, `app/crew/alice`), or null for the Mayor. */
export function targetRig(target: string): string | null {
  if (target === 'mayor') return null;
  return target.split('/')[0] ?? null;
}
