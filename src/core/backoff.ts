/**
 * The Deacon's crash-loop breaker for the daemon's own controllers. Pure: given when a controller failed
 * recently, how long to wait before running it again and whether it is crash-looping ("broken").
 *
 * A failing controller is retried with exponential backoff (base, 2×base, 4×base, … capped). When it has
 * failed `tripAfter` times within `windowMs` the breaker trips: the controller waits `cooldownMs` before
 * its next attempt, and the trip is reported once (escalated) so a human hears about it.
 */
export interface BreakerPolicy {
  baseMs: number;
  maxMs: number;
  windowMs: number;
  tripAfter: number;
  cooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerPolicy = {
  baseMs: 1000,
  maxMs: 60_000,
  windowMs: 5 * 60_000,
  tripAfter: 5,
  cooldownMs: 5 * 60_000,
};

export interface BreakerDecision {
  state: 'backoff' | 'broken';
  delayMs: number;
  /** Failures inside the window (what the decision was based on). */
  recent: number;
}

/** Failure times inside the window, oldest first (what a supervisor keeps). */
export function recentFailures(failures: readonly number[], now: number, policy = DEFAULT_BREAKER): number[] {
  return failures.filter((t) => now - t < policy.windowMs).sort((a, b) => a - b);
}

export function afterFailure(
  failures: readonly number[],
  now: number,
  policy = DEFAULT_BREAKER,
): BreakerDecision {
  const recent = recentFailures(failures, now, policy).length;
  if (recent >= policy.tripAfter) return { state: 'broken', delayMs: policy.cooldownMs, recent };
  const exponent = Math.max(0, recent - 1);
  return { state: 'backoff', delayMs: Math.min(policy.maxMs, policy.baseMs * 2 ** exponent), recent };
}
