/**
 * The Deacon's re-escalation rule (docs/daemon-status.md). Pure: given an escalation's state and the time,
 * whether to raise it again and to what severity.
 *
 * An escalation still `open` (nobody acknowledged it) `afterMs` after it was raised — or after its last
 * re-escalation — is raised again one step higher: MEDIUM → HIGH → CRITICAL, and CRITICAL stays CRITICAL
 * (it keeps being re-sent each period until someone acknowledges it). Measuring from the last
 * re-escalation, not from creation, means a daemon that was down for hours sends one reminder, not a
 * burst.
 */
export type EscalationSeverity = 'CRITICAL' | 'HIGH' | 'MEDIUM';

const RISE: Record<EscalationSeverity, EscalationSeverity> = {
  MEDIUM: 'HIGH',
  HIGH: 'CRITICAL',
  CRITICAL: 'CRITICAL',
};

/** The bead priority that goes with a severity (as createEscalation sets it). */
export const SEVERITY_PRIORITY: Record<EscalationSeverity, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2 };

export function raisedSeverity(severity: EscalationSeverity): EscalationSeverity {
  return RISE[severity];
}

export interface EscalationClock {
  severity: EscalationSeverity;
  status: 'open' | 'acked' | 'closed';
  /** ms: when it was raised. */
  created_at: number;
  /** ms: when the Deacon last raised it again, or null if never. */
  last_reescalated_at: number | null;
  reescalations: number;
}

export type ReescalationDecision =
  | { due: false; reason: 'not-open' | 'disabled' | 'not-yet'; next_at: number | null }
  | { due: true; from: EscalationSeverity; to: EscalationSeverity; reescalations: number };

export function decideReescalation(e: EscalationClock, now: number, afterMs: number): ReescalationDecision {
  if (e.status !== 'open') return { due: false, reason: 'not-open', next_at: null };
  if (!(afterMs > 0)) return { due: false, reason: 'disabled', next_at: null };
  const since = Math.max(e.created_at, e.last_reescalated_at ?? e.created_at);
  const nextAt = since + afterMs;
  if (now < nextAt) return { due: false, reason: 'not-yet', next_at: nextAt };
  return { due: true, from: e.severity, to: raisedSeverity(e.severity), reescalations: e.reescalations + 1 };
}
