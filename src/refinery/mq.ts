import { GtError } from '../core/errors';
import { prepared } from '../ledger/open';
import type { BeadStore } from '../ledger/store';
import { toRfc3339 } from '../ledger/time';
import {
  type GateRunRow,
  getMr,
  type MrRow,
  mrEvents,
  mrRuns,
  OPEN_MR_STATES,
  requireMr,
  transitionMr,
} from './ledger';

/** `gt mq …`: the merge queue seen and steered by a human. The Refinery owns every other transition. */
export interface MqItemJson {
  id: number;
  rig: string;
  bead_id: string;
  agent_id: string;
  branch: string;
  head_sha: string;
  state: string;
  rejected_reason: string | null;
  merged_sha: string | null;
  attempts: number;
  batch_id: number | null;
  priority: number;
  created_at: string;
  updated_at: string;
}

function toJson(row: MrRow & { priority?: number }): MqItemJson {
  return {
    id: row.id,
    rig: row.rig,
    bead_id: row.bead_id,
    agent_id: row.agent_id,
    branch: row.branch,
    head_sha: row.head_sha,
    state: row.state,
    rejected_reason: row.rejected_reason,
    merged_sha: row.merged_sha,
    attempts: row.attempts,
    batch_id: row.batch_id,
    priority: row.priority ?? 2,
    created_at: toRfc3339(row.created_at),
    updated_at: toRfc3339(row.updated_at),
  };
}

export function listQueue(store: BeadStore, options: { rig?: string; all?: boolean } = {}): MqItemJson[] {
  const where: string[] = [];
  const params: unknown[] = [];
  if (options.rig) {
    where.push('mr.rig = ?');
    params.push(options.rig);
  }
  if (!options.all) where.push(`mr.state IN (${OPEN_MR_STATES.map((s) => `'${s}'`).join(',')})`);
  return prepared<unknown[], MrRow & { priority: number }>(
    store.db,
    `SELECT mr.*, COALESCE(b.priority, 2) AS priority FROM merge_requests mr LEFT JOIN beads b ON b.id = mr.bead_id
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY mr.id`,
  )
    .all(...params)
    .map(toJson);
}

export interface MqShowJson extends MqItemJson {
  events: Array<{
    event: string;
    from: string | null;
    to: string | null;
    actor: string;
    detail: string | null;
    at: string;
  }>;
  runs: Array<{
    id: number;
    kind: string;
    batch_id: number | null;
    prefix: number | null;
    reason: string | null;
    candidate_sha: string;
    state: string;
    exit_code: number | null;
    error: string | null;
    log_path: string | null;
  }>;
}

export function parseMrId(input: string): number {
  const m = /^#?(\d{1,12})$/.exec(input.trim());
  if (!m) {
    throw new GtError('GT_E_INVALID_ID', `'${input}' is not a merge request id`, {
      hint: "merge request ids are numbers, see 'gt mq list'",
    });
  }
  return Number(m[1]);
}

export function showMr(store: BeadStore, id: number): MqShowJson {
  const row = requireMr(store.db, id);
  const priority =
    prepared<[string], { priority: number }>(store.db, 'SELECT priority FROM beads WHERE id = ?').get(
      row.bead_id,
    )?.priority ?? 2;
  return {
    ...toJson({ ...row, priority }),
    events: mrEvents(store.db, id).map((e) => ({
      event: e.event,
      from: e.from_state,
      to: e.to_state,
      actor: e.actor,
      detail: e.detail,
      at: toRfc3339(e.created_at),
    })),
    runs: mrRuns(store.db, id).map((r: GateRunRow) => ({
      id: r.id,
      kind: r.kind,
      batch_id: r.batch_id,
      prefix: r.prefix,
      reason: r.reason,
      candidate_sha: r.candidate_sha,
      state: r.state,
      exit_code: r.exit_code,
      error: r.error,
      log_path: r.log_path,
    })),
  };
}

/** Puts a rejected MR back in the queue (its branch head must still be the one recorded). */
export function retryMr(store: BeadStore, id: number, actor: string): MqItemJson {
  return store.write(() => {
    const row = requireMr(store.db, id);
    if (row.state !== 'rejected') {
      throw new GtError('GT_E_MR_STATE', `MR #${id} is ${row.state}; only a rejected MR can be retried`, {
        hint: 'a queued MR is already waiting for the Refinery',
      });
    }
    if (row.rejected_reason?.startsWith('superseded')) {
      throw new GtError('GT_E_MR_STATE', `MR #${id} was superseded by a newer MR of ${row.bead_id}`, {
        hint: "retry the newest MR of the bead (see 'gt mq list --all')",
      });
    }
    const newer = prepared<[string, number], { n: number }>(
      store.db,
      "SELECT count(*) AS n FROM merge_requests WHERE bead_id = ? AND id > ? AND state <> 'rejected'",
    ).get(row.bead_id, id)!.n;
    if (newer > 0) {
      throw new GtError('GT_E_MR_STATE', `${row.bead_id} has a newer merge request than #${id}`, {
        hint: "see 'gt mq list --all'",
      });
    }
    transitionMr(
      store.db,
      id,
      'rejected',
      'queued',
      'retry',
      `requeued by ${actor}`,
      { followup: null, batchId: null },
      actor,
    );
    if (store.get(row.bead_id)?.status !== 'closed') store.update(row.bead_id, { status: 'in_review' });
    return toJson(getMr(store.db, id)!);
  });
}

/** A human rejects (or cancels) a waiting MR. An MR being tested in a batch cannot be pulled out. */
export function rejectMr(
  store: BeadStore,
  id: number,
  actor: string,
  reason: 'rejected' | 'cancelled',
  note?: string,
): MqItemJson {
  return store.write(() => {
    const row = requireMr(store.db, id);
    if (row.state === 'testing') {
      throw new GtError('GT_E_MR_STATE', `MR #${id} is being tested in batch ${row.batch_id}`, {
        hint: 'wait for the batch to finish (gt mq show), then reject it if it was not merged',
      });
    }
    if (row.state === 'merged' || row.state === 'rejected') {
      throw new GtError('GT_E_MR_STATE', `MR #${id} is already ${row.state}`, { hint: "see 'gt mq show'" });
    }
    const detail = `${reason} by ${actor}${note ? `: ${note}` : ''}`;
    const ok = transitionMr(
      store.db,
      id,
      ['queued', 'sheriff', 'ready'],
      'rejected',
      'rejected',
      detail,
      { reason, followup: 'pending', batchId: null },
      actor,
    );
    if (!ok) {
      throw new GtError('GT_E_MR_STATE', `MR #${id} changed state meanwhile`, {
        hint: 'look again: gt mq show',
      });
    }
    return toJson(getMr(store.db, id)!);
  });
}
