/**
 * The Refinery's pure planning (docs/refinery.md): queue order, adaptive batch size and the bisection of a
 * red batch. No I/O, no clock: every function is a function of its arguments, so the controller can
 * recompute the next step from persisted facts after a crash and the unit tests can enumerate cases.
 *
 * A batch is an ordered list of n merge requests m1..mn (conflicting ones already dropped). Prefix k is
 * the candidate commit main + m1..mk (prefix 0 is main itself, green by induction: main only ever moves
 * to a commit that passed the gate). The gate is run on prefixes; an observation is (k, verdict).
 */

export interface QueueItem {
  id: number;
  /** Bead priority: 0 is the most urgent. */
  priority: number;
  /** Enqueue time (ms); older first among equal priorities. */
  createdAt: number;
}

/** Priority first (0 = most urgent), then age, then id: a total order, so the plan is deterministic. */
export function orderQueue<T extends QueueItem>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => a.priority - b.priority || a.createdAt - b.createdAt || a.id - b.id);
}

export interface BatchBounds {
  min: number;
  max: number;
}

/**
 * Estimated failure rate from the rig's recent gate verdicts (true = the MR was rejected by the gate as a
 * culprit). A prior of 2 failures in 20 keeps a short history from swinging the size wildly: the first
 * culprits of a run must not halve the batch for the many innocents still queued behind them.
 */
export function estimatedFailureRate(recent: readonly boolean[]): number {
  const failures = recent.filter(Boolean).length;
  return (failures + 2) / (recent.length + 20);
}

/**
 * Batch size from the failure rate f. With binary bisection a batch of b costs about 1/b gate runs per MR
 * when green plus f·(log2 b + 1) per MR for the culprits it contains; the minimum is near b = ln2 / f:
 * big batches when branches are healthy, small ones when many fail. Clamped to the configured bounds.
 */
export function adaptiveBatchSize(recent: readonly boolean[], bounds: BatchBounds): number {
  return batchSizeFor(estimatedFailureRate(recent), bounds);
}

/** The batch size for failure rate f: ln 2 / f, clamped to the bounds (see `adaptiveBatchSize`). */
export function batchSizeFor(failureRate: number, bounds: BatchBounds): number {
  const min = Math.max(1, Math.floor(bounds.min));
  const max = Math.max(min, Math.floor(bounds.max));
  const ideal = Math.round(Math.LN2 / Math.max(failureRate, 1e-6));
  return Math.min(max, Math.max(min, ideal));
}

/**
 * The failure rate of the MRs next in line: the rig's rate f, lowered for an MR that already passed the
 * gate inside some candidate (a passing prefix, on any base — typically an innocent of a bisected batch,
 * sent back to be retested on the new main), which counts `CLEARED_RISK` × f. Batch size, stacking and
 * siblings use it, so a queue of retests is batched like the healthy work it mostly is.
 */
export function queueFailureRate(failureRate: number, cleared: readonly boolean[]): number {
  if (cleared.length === 0) return failureRate;
  const sum = cleared.reduce((acc, c) => acc + (c ? failureRate * CLEARED_RISK : failureRate), 0);
  return sum / cleared.length;
}

export const CLEARED_RISK = 0.5;

/** The first `size` items in queue order. */
export function selectBatch<T extends QueueItem>(ready: readonly T[], size: number): T[] {
  return orderQueue(ready).slice(0, Math.max(0, size));
}

export type Verdict = 'pass' | 'fail' | 'error';

export interface Observation {
  /** Prefix length tested (1..n). */
  prefix: number;
  verdict: Verdict;
}

/**
 * How a single red run is confirmed before anyone is rejected ("retry once, for flakes"):
 *  - 'first': the red batch is re-run at once, then bisected (the textbook order);
 *  - 'confirm' (default): bisect at once; the culprit is rejected only when at least two red runs contain
 *    it (the batch's and the isolating prefix's, which differ when the culprit is not the last MR) — else
 *    the isolating prefix is re-run once. Same protection, one gate run fewer per red batch in most cases.
 */
export type FlakePolicy = 'first' | 'confirm';

export type Step =
  | { kind: 'test'; prefix: number; reason: 'batch' | 'retry' | 'bisect' | 'confirm' }
  | {
      kind: 'decide';
      /** Land prefix `land` (0 = nothing): it passed the gate. */
      land: number;
      /** 1-based index of the culprit to reject, or null. */
      culprit: number | null;
      culpritReason: 'gate-failed' | 'gate-error' | null;
      /** 1-based indexes of MRs sent back to the queue untested-as-a-whole. */
      requeue: number[];
      /** A red run did not reproduce. */
      flaky: boolean;
      /**
       * An early landing (`earlyLanding`): the MRs after `land` are still undecided and continue as a new
       * batch on the landed commit, with these verdicts carried over. Absent for a final decision.
       */
      carried?: Observation[];
    };

function verdictsAt(obs: readonly Observation[], k: number): Verdict[] {
  return obs.filter((o) => o.prefix === k).map((o) => o.verdict);
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

/** lo: the longest prefix known green (0 = main); hi: the shortest prefix above it known red (n if none). */
function bisectionBounds(n: number, obs: readonly Observation[]): { lo: number; hi: number } {
  let lo = 0;
  for (const o of obs) if (o.verdict === 'pass' && o.prefix > lo) lo = o.prefix;
  let hi = n;
  for (const o of obs) if (o.verdict !== 'pass' && o.prefix > lo && o.prefix < hi) hi = o.prefix;
  return { lo, hi };
}

/**
 * The next step for a batch of n MRs given what the gate has said so far. A pass at a prefix wins over a
 * fail at the same prefix (the run that passed is the tested tree that lands; a fail that does not
 * reproduce is a flake). Binary search over prefixes finds the FIRST failing prefix: its last MR is the
 * culprit; everything before it lands (already tested green), everything after it is re-queued (it will be
 * re-tested on the new main; a second culprit is found by the next batch).
 */
export function nextStep(n: number, obs: readonly Observation[], policy: FlakePolicy = 'confirm'): Step {
  if (n < 1)
    return { kind: 'decide', land: 0, culprit: null, culpritReason: null, requeue: [], flaky: false };
  for (const o of obs) {
    if (!Number.isInteger(o.prefix) || o.prefix < 1 || o.prefix > n) {
      throw new RangeError(`observation prefix ${o.prefix} outside 1..${n}`);
    }
  }
  const atN = verdictsAt(obs, n);
  if (atN.length === 0) return { kind: 'test', prefix: n, reason: 'batch' };
  if (atN.includes('pass')) {
    return {
      kind: 'decide',
      land: n,
      culprit: null,
      culpritReason: null,
      requeue: [],
      flaky: obs.some((o) => o.verdict !== 'pass'),
    };
  }
  if (policy === 'first' && atN.length === 1 && obs.length === 1) {
    return { kind: 'test', prefix: n, reason: 'retry' };
  }
  const { lo, hi } = bisectionBounds(n, obs);
  if (hi - lo > 1) return { kind: 'test', prefix: Math.floor((lo + hi) / 2), reason: 'bisect' };
  const redRuns = obs.filter((o) => o.verdict !== 'pass' && o.prefix >= hi);
  const flaky = obs.some((o) => o.verdict !== 'pass' && o.prefix <= lo);
  if (redRuns.length < 2) return { kind: 'test', prefix: hi, reason: n === 1 ? 'retry' : 'confirm' };
  const atHi = verdictsAt(obs, hi);
  return {
    kind: 'decide',
    land: lo,
    culprit: hi,
    culpritReason: atHi.includes('error') && !atHi.includes('fail') ? 'gate-error' : 'gate-failed',
    requeue: range(hi + 1, n),
    flaky,
  };
}

/**
 * A red batch's tested-green prefix can land before its bisection ends, instead of waiting for the culprit.
 * The MRs after it continue as a new batch based on the landed commit. That batch's candidates have the
 * parent's trees (the same merges, in the same order, onto the same tree), so the red verdicts recorded
 * above the prefix still hold for them, shifted by the prefix; passes above it cannot exist (the longest
 * passing prefix is the one that lands). Null when the batch is decided or nothing of it passed yet.
 */
export function earlyLanding(
  n: number,
  obs: readonly Observation[],
  policy: FlakePolicy = 'confirm',
): Extract<Step, { kind: 'decide' }> | null {
  if (nextStep(n, obs, policy).kind === 'decide') return null;
  const { lo } = bisectionBounds(n, obs);
  if (lo === 0) return null;
  return {
    kind: 'decide',
    land: lo,
    culprit: null,
    culpritReason: null,
    requeue: [],
    flaky: obs.some((o) => o.verdict !== 'pass' && o.prefix <= lo),
    carried: obs
      .filter((o) => o.prefix > lo && o.verdict !== 'pass')
      .map((o) => ({ prefix: o.prefix - lo, verdict: o.verdict })),
  };
}

// ------------------------------------------------------------------ speculative parallel gate runs

/**
 * The prefixes of one batch to test at the same time, given `parallelism` gate slots: the planner's next
 * step, except during a bisection, where the open interval (lo, hi) is split into up to parallelism + 1
 * parts at once (an n-ary split: one round of parallel runs instead of ⌈log2⌉ rounds one after another).
 * Each extra probe costs about one gate run and saves about one round. Empty when the batch is decided.
 * With parallelism 1 this is exactly `[nextStep(...).prefix]`.
 */
export function probePrefixes(
  n: number,
  obs: readonly Observation[],
  parallelism: number,
  policy: FlakePolicy = 'confirm',
): Array<{ prefix: number; reason: Extract<Step, { kind: 'test' }>['reason'] }> {
  const step = nextStep(n, obs, policy);
  if (step.kind === 'decide') return [];
  const slots = Math.max(1, Math.floor(parallelism));
  if (step.reason !== 'bisect' || slots === 1) return [{ prefix: step.prefix, reason: step.reason }];
  const { lo, hi } = bisectionBounds(n, obs);
  const open = hi - lo - 1; // untested prefixes strictly between lo and hi
  const m = Math.min(slots, open);
  const points = new Set<number>();
  for (let i = 1; i <= m; i++) points.add(lo + Math.round((i * (hi - lo)) / (m + 1)));
  return [...points]
    .filter((k) => k > lo && k < hi)
    .sort((a, b) => a - b)
    .map((prefix) => ({ prefix, reason: 'bisect' as const }));
}

/**
 * How many batches to test at once as a dependent pipeline (Zuul): the head batch on main, the next one
 * stacked on the head's full candidate, and so on; a stacked batch's result counts only if every batch
 * beneath it lands whole. Batch j+1 is stacked only while the estimated probability that the batches
 * beneath it are all green, (1 − f)^(MRs beneath), is at least `minGreen`, so speculation is spent when
 * branches are healthy and not when they fail (the wasted runs would cost more than the rounds they save).
 * Never more than `parallelism` (1 = no speculation).
 */
export function speculationDepth(
  parallelism: number,
  failureRate: number,
  batchSize: number,
  minGreen = SPECULATION_MIN_GREEN,
): number {
  const slots = Math.max(1, Math.floor(parallelism));
  const f = Math.min(1, Math.max(0, failureRate));
  let depth = 1;
  while (depth < slots && (1 - f) ** (batchSize * depth) >= minGreen) depth++;
  return depth;
}

/**
 * The default confidence needed to stack a batch on an untested one (see `speculationDepth`): a speculative
 * run is wasted one time in three at most. At a 10% failure rate (b = 8) this stacks nothing: the red
 * batches' bisections already fill the spare slots, and wasted stacked runs would cost more than they save.
 */
export const SPECULATION_MIN_GREEN = 0.65;

/**
 * Whether to test a second batch of the following MRs beside the head batch, on the same main (a sibling),
 * with a slot that stacking leaves free. Stacking bets on the head landing; a sibling bets on it failing:
 * if the head is red, the sibling is a plain next batch tested one round early (it lands if green, or is
 * bisected beside the head if red); if both are green only one can land and the other's run is lost. So a
 * sibling pays when the head is more likely red than not (P ≥ 0.5) — but not when branches fail
 * wholesale (f > 0.15), where each red sibling is one more bisection on a base about to go stale.
 */
export function siblingWorthIt(failureRate: number, batchSize: number): boolean {
  const f = Math.min(1, Math.max(0, failureRate));
  return 1 - (1 - f) ** batchSize >= SIBLING_MIN_RED && f <= SIBLING_MAX_FAILURE;
}

export const SIBLING_MIN_RED = 0.5;
export const SIBLING_MAX_FAILURE = 0.15;

/** A compact, human-readable bisection path: "8✗ 4✓ 6✗ 5✓ ⇒ land 5, reject #6". */
export function bisectionPath(obs: readonly Observation[], step?: Step): string {
  const mark = (v: Verdict) => (v === 'pass' ? '✓' : v === 'fail' ? '✗' : '!');
  const parts = obs.map((o) => `${o.prefix}${mark(o.verdict)}`);
  if (step?.kind === 'decide') {
    const outcome = [`land ${step.land}`];
    if (step.culprit !== null) outcome.push(`reject #${step.culprit}`);
    if (step.carried) outcome.push('the rest continues on it');
    if (step.requeue.length > 0) outcome.push(`requeue ${step.requeue.length}`);
    parts.push(`⇒ ${outcome.join(', ')}`);
  }
  return parts.join(' ');
}

/**
 * Simulates the planner against a known set of culprits (1-based positions; prefix k fails iff it
 * contains one) and an optional flake oracle. Used by the unit tests and to reason about costs.
 */
export function simulateBatch(
  n: number,
  culprits: readonly number[],
  options: { policy?: FlakePolicy; flake?: (run: number, prefix: number) => boolean; maxRuns?: number } = {},
): { step: Extract<Step, { kind: 'decide' }>; runs: Observation[] } {
  const obs: Observation[] = [];
  const maxRuns = options.maxRuns ?? 64;
  for (let run = 0; run < maxRuns; run++) {
    const step = nextStep(n, obs, options.policy);
    if (step.kind === 'decide') return { step, runs: obs };
    const broken = culprits.some((c) => c <= step.prefix);
    const flaked = options.flake?.(run, step.prefix) ?? false;
    obs.push({ prefix: step.prefix, verdict: broken || flaked ? 'fail' : 'pass' });
  }
  throw new Error(`planner did not converge in ${maxRuns} runs`);
}
