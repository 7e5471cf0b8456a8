import { GtError } from '../core/errors';
import { type Db, prepared } from '../ledger/open';
import { nowMs, toRfc3339 } from '../ledger/time';

/**
 * The Refinery's ledger rows (migrations 5 and 6): merge requests, their event trail, batches and gate runs.
 * Every state change is a compare-and-swap on the current state (`WHERE state = ?`), so a concurrent
 * `gt mq cancel` or a second controller can never be overwritten silently.
 */
export const MR_STATES = ['queued', 'sheriff', 'ready', 'testing', 'merged', 'rejected'] as const;
export type MrState = (typeof MR_STATES)[number];
export const OPEN_MR_STATES: readonly MrState[] = ['queued', 'sheriff', 'ready', 'testing'];

export const REJECT_REASONS = [
  'sheriff-failed',
  'gate-failed',
  'conflict',
  'gate-error',
  'superseded',
  'cancelled',
  'rejected',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];
/** Rejections that count as a rework attempt of the bead (a verdict on the code). */
export const REWORK_REASONS: readonly string[] = [
  'sheriff-failed',
  'gate-failed',
  'conflict',
  'gate-error',
  'rejected',
];

export const REFINERY_ACTOR = 'refinery';

export interface MrRow {
  id: number;
  rig: string;
  bead_id: string;
  agent_id: string;
  branch: string;
  head_sha: string;
  base_sha: string;
  state: MrState;
  rejected_reason: string | null;
  merged_sha: string | null;
  attempts: number;
  batch_id: number | null;
  followup: 'pending' | 'done' | null;
  created_at: number;
  updated_at: number;
}

export interface QueuedMr extends MrRow {
  priority: number;
}

export interface MrEventRow {
  id: number;
  mr_id: number;
  event: string;
  from_state: string | null;
  to_state: string | null;
  actor: string;
  detail: string | null;
  created_at: number;
}

export interface BatchRow {
  id: number;
  rig: string;
  state: 'active' | 'landing' | 'done' | 'abandoned';
  base_sha: string;
  members: string;
  trees: string;
  commit_time: number;
  landing_sha: string | null;
  landing_prefix: number | null;
  path: string;
  outcome: string | null;
  /** The batch this one continues after an early landing of its green prefix (migration 8). */
  parent_id: number | null;
  /** JSON list of the parent's red verdicts carried over, shifted: [{prefix, verdict}]. */
  inherited: string;
  created_at: number;
  updated_at: number;
}

export interface GateRunRow {
  id: number;
  rig: string;
  kind: 'sheriff' | 'gate';
  batch_id: number | null;
  mr_id: number | null;
  prefix: number | null;
  reason: string | null;
  base_sha: string;
  candidate_sha: string;
  state: 'running' | 'pass' | 'fail' | 'error' | 'aborted';
  exit_code: number | null;
  error: string | null;
  pid: number | null;
  log_path: string | null;
  log_tail: string | null;
  started_at: number;
  finished_at: number | null;
}

export function getMr(db: Db, id: number): MrRow | undefined {
  return prepared<[number], MrRow>(db, 'SELECT * FROM merge_requests WHERE id = ?').get(id);
}

export function requireMr(db: Db, id: number): MrRow {
  const row = getMr(db, id);
  if (!row) {
    throw new GtError('GT_E_MR_NOT_FOUND', `no merge request #${id}`, { hint: "see 'gt mq list --all'" });
  }
  return row;
}

export function mrsInState(db: Db, rig: string, states: readonly MrState[]): QueuedMr[] {
  const marks = states.map(() => '?').join(',');
  return prepared<unknown[], QueuedMr>(
    db,
    `SELECT mr.*, COALESCE(b.priority, 2) AS priority FROM merge_requests mr LEFT JOIN beads b ON b.id = mr.bead_id
       WHERE mr.rig = ? AND mr.state IN (${marks}) ORDER BY mr.id`,
  ).all(rig, ...states);
}

export function addMrEvent(
  db: Db,
  mrId: number,
  event: string,
  from: string | null,
  to: string | null,
  detail: string | null,
  actor = REFINERY_ACTOR,
): void {
  prepared(
    db,
    `INSERT INTO mr_events (mr_id, event, from_state, to_state, actor, detail, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(mrId, event, from, to, actor, detail, nowMs());
}

/** CAS transition; returns false (and changes nothing) when the MR is no longer in `from`. */
export function transitionMr(
  db: Db,
  id: number,
  from: MrState | readonly MrState[],
  to: MrState,
  event: string,
  detail: string | null,
  extra: {
    reason?: string;
    mergedSha?: string;
    batchId?: number | null;
    followup?: 'pending' | null;
    attempt?: boolean;
  } = {},
  actor = REFINERY_ACTOR,
): boolean {
  const froms = typeof from === 'string' ? [from] : from;
  const current = getMr(db, id);
  if (!current || !froms.includes(current.state)) return false;
  const sets = ['state = ?', 'updated_at = ?'];
  const params: unknown[] = [to, nowMs()];
  sets.push('rejected_reason = ?');
  params.push(to === 'rejected' ? (extra.reason ?? 'rejected') : null);
  if (extra.mergedSha !== undefined) {
    sets.push('merged_sha = ?');
    params.push(extra.mergedSha);
  }
  if (extra.batchId !== undefined) {
    sets.push('batch_id = ?');
    params.push(extra.batchId);
  }
  if (extra.followup !== undefined) {
    sets.push('followup = ?');
    params.push(extra.followup);
  }
  if (extra.attempt) sets.push('attempts = attempts + 1');
  const r = prepared(db, `UPDATE merge_requests SET ${sets.join(', ')} WHERE id = ? AND state = ?`).run(
    ...params,
    id,
    current.state,
  );
  if (r.changes !== 1) return false;
  addMrEvent(db, id, event, current.state, to, detail, actor);
  return true;
}

export function mrEvents(db: Db, id: number): MrEventRow[] {
  return prepared<[number], MrEventRow>(db, 'SELECT * FROM mr_events WHERE mr_id = ? ORDER BY id').all(id);
}

export function getBatch(db: Db, id: number): BatchRow | undefined {
  return prepared<[number], BatchRow>(db, 'SELECT * FROM mq_batches WHERE id = ?').get(id);
}

export function openBatches(db: Db, rig: string): BatchRow[] {
  return prepared<[string], BatchRow>(
    db,
    "SELECT * FROM mq_batches WHERE rig = ? AND state IN ('active','landing') ORDER BY id",
  ).all(rig);
}

export function batchRuns(db: Db, batchId: number): GateRunRow[] {
  return prepared<[number], GateRunRow>(db, 'SELECT * FROM gate_runs WHERE batch_id = ? ORDER BY id').all(
    batchId,
  );
}

export function mrRuns(db: Db, mrId: number): GateRunRow[] {
  return prepared<[number, number], GateRunRow>(
    db,
    `SELECT g.* FROM gate_runs g WHERE g.mr_id = ? OR g.batch_id IN
       (SELECT b.id FROM mq_batches b, json_each(b.members) j WHERE j.value = ?) ORDER BY g.id`,
  ).all(mrId, mrId);
}

export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : toRfc3339(ms);
}
