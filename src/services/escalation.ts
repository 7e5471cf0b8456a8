import { validateTitle } from '../core/bead';
import { GtError } from '../core/errors';
import { oneLine } from '../core/text';
import { type Db, prepared } from '../ledger/open';
import type { BeadStore } from '../ledger/store';
import { nowMs, toRfc3339, toRfc3339OrNull } from '../ledger/time';
import { sendMail, validateBody } from './mail';
import { type NotifyConfig, type NotifyOutcome, runNotify } from './notify';

/**
 * Escalations: a blocker raised with a severity, tracked until closed. Each is a bead of type 'escalation'
 * in the town prefix (priority 0/1/2 for CRITICAL/HIGH/MEDIUM) plus an `escalations` row (migration 4).
 * Creating one mails the Mayor and the human in one thread, in the same transaction, and then runs the
 * town's [notify] command (best effort) with the escalation as JSON on stdin.
 * Re-escalating stale ones is the Deacon's job; the `reescalations` column is its counter.
 */
export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM'] as const;
export type Severity = (typeof SEVERITIES)[number];
const PRIORITY: Record<Severity, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2 };
/** Where every escalation goes. The Mayor triages; the human is always told. */
export const ESCALATION_ROUTE = ['mayor', 'human'] as const;

interface EscalationRow {
  id: string;
  severity: Severity;
  summary: string;
  details: string;
  source_agent: string;
  bead_id: string | null;
  status: 'open' | 'acked' | 'closed';
  routed_to: string;
  thread_id: number | null;
  created_at: number;
  acked_at: number | null;
  acked_by: string | null;
  closed_at: number | null;
  closed_by: string | null;
  close_reason: string | null;
  reescalations: number;
}

export interface EscalationJson {
  id: string;
  severity: Severity;
  summary: string;
  details: string;
  source_agent: string;
  bead_id: string | null;
  status: 'open' | 'acked' | 'closed';
  routed_to: string[];
  thread_id: number | null;
  created_at: string;
  acked_at: string | null;
  acked_by: string | null;
  closed_at: string | null;
  closed_by: string | null;
  close_reason: string | null;
  reescalations: number;
}

function toJson(row: EscalationRow): EscalationJson {
  return {
    ...row,
    routed_to: JSON.parse(row.routed_to) as string[],
    created_at: toRfc3339(row.created_at),
    acked_at: toRfc3339OrNull(row.acked_at),
    closed_at: toRfc3339OrNull(row.closed_at),
  };
}

export function parseSeverity(input: string): Severity {
  const upper = input.trim().toUpperCase();
  if ((SEVERITIES as readonly string[]).includes(upper)) return upper as Severity;
  throw new GtError('GT_E_INVALID_SEVERITY', `'${oneLine(input)}' is not a severity`, {
    hint: 'use -s CRITICAL (work is stopped), HIGH (blocked, needs a decision soon) or MEDIUM',
  });
}

export interface CreateEscalationInput {
  severity: string;
  summary: string;
  details?: string;
  source: string;
  bead?: string;
}

export function createEscalation(store: BeadStore, input: CreateEscalationInput): EscalationJson {
  const severity = parseSeverity(input.severity);
  if (input.summary.trim().length === 0) {
    throw new GtError('GT_E_INVALID_INPUT', 'say what is wrong: the escalation summary is empty', {
      hint: 'gt escalate -s HIGH "tests need a database I cannot start"',
    });
  }
  const summary = validateTitle(input.summary);
  const details = validateBody(input.details ?? '');
  return store.write(() => {
    const beadId = input.bead ? store.require(input.bead).id : null;
    const now = nowMs();
    const bead = store.create({
      title: summary,
      description: details,
      issue_type: 'escalation',
      priority: PRIORITY[severity],
      prefix: store.defaultPrefix(),
    });
    prepared(
      store.db,
      `INSERT INTO escalations (id, severity, summary, details, source_agent, bead_id, routed_to, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(bead.id, severity, summary, details, input.source, beadId, JSON.stringify(ESCALATION_ROUTE), now);
    const subject = [...`[${severity}] ${oneLine(summary)}`].slice(0, 200).join('');
    const body = [
      `Escalation ${bead.id} (${severity}) from ${input.source}${beadId ? ` about ${beadId}` : ''}.`,
      '',
      summary,
      ...(details ? ['', details] : []),
      '',
      `Acknowledge: gt escalate ack ${bead.id}    Close: gt escalate close ${bead.id}`,
    ].join('\n');
    let threadId: number | undefined;
    for (const to of ESCALATION_ROUTE) {
      const sent = sendMail(store, {
        from: input.source,
        to,
        subject,
        body: truncateBytes(body),
        kind: 'escalation',
        ...(threadId !== undefined ? { threadId } : {}),
      });
      threadId = sent.thread_id;
    }
    prepared(store.db, 'UPDATE escalations SET thread_id = ? WHERE id = ?').run(threadId ?? null, bead.id);
    return getEscalation(store.db, bead.id);
  });
}

function truncateBytes(text: string): string {
  // The body adds a few lines to details (≤ 64 KiB); keep it under the mail limit.
  let out = text;
  while (Buffer.byteLength(out, 'utf8') > 64 * 1024) out = out.slice(0, out.length - 1024);
  return out;
}

export function notifyEscalation(
  root: string,
  notify: NotifyConfig,
  escalation: EscalationJson,
): Promise<NotifyOutcome> {
  return runNotify(root, notify, { event: 'escalation.created', ...escalation });
}

function getEscalation(db: Db, id: string): EscalationJson {
  return toJson(prepared<[string], EscalationRow>(db, 'SELECT * FROM escalations WHERE id = ?').get(id)!);
}

export function resolveEscalation(store: BeadStore, input: string): string {
  let id: string | undefined;
  try {
    id = store.resolver.resolve(input);
  } catch (error) {
    if (!(error instanceof GtError) || error.code !== 'GT_E_NOT_FOUND') throw error;
  }
  if (id && prepared<[string], string>(store.db, 'SELECT id FROM escalations WHERE id = ?').pluck().get(id)) {
    return id;
  }
  throw new GtError(
    'GT_E_ESCALATION_NOT_FOUND',
    id ? `${id} is a bead but not an escalation` : `no escalation matches '${oneLine(input)}'`,
    { hint: "list escalations with 'gt escalate list --all'" },
  );
}

export function showEscalation(store: BeadStore, input: string): EscalationJson {
  return getEscalation(store.db, resolveEscalation(store, input));
}

export function listEscalations(store: BeadStore, options: { all?: boolean } = {}): EscalationJson[] {
  const where = options.all ? '' : " WHERE status <> 'closed'";
  return prepared<[], EscalationRow>(
    store.db,
    `SELECT * FROM escalations${where}
       ORDER BY CASE severity WHEN 'CRITICAL' THEN 0 WHEN 'HIGH' THEN 1 ELSE 2 END, created_at, id`,
  )
    .all()
    .map(toJson);
}

/** Acknowledge: someone is on it. Idempotent; a closed escalation cannot be acknowledged. */
export function ackEscalation(store: BeadStore, input: string, by: string): EscalationJson {
  return store.write(() => {
    const id = resolveEscalation(store, input);
    const row = getEscalation(store.db, id);
    if (row.status === 'closed') {
      throw new GtError('GT_E_ESCALATION_CLOSED', `escalation ${id} is already closed`, {
        hint: 'nothing to do',
      });
    }
    if (row.status === 'acked') return row;
    prepared(
      store.db,
      "UPDATE escalations SET status = 'acked', acked_at = ?, acked_by = ? WHERE id = ? AND status = 'open'",
    ).run(nowMs(), by, id);
    store.event(id, 'escalation_acked', { status: 'open' }, { status: 'acked', by });
    return getEscalation(store.db, id);
  });
}

export function closeEscalation(
  store: BeadStore,
  input: string,
  by: string,
  reason?: string,
): EscalationJson {
  return store.write(() => {
    const id = resolveEscalation(store, input);
    const row = getEscalation(store.db, id);
    if (row.status === 'closed') {
      throw new GtError('GT_E_ESCALATION_CLOSED', `escalation ${id} is already closed`, {
        hint: 'nothing to do',
      });
    }
    const now = nowMs();
    prepared(
      store.db,
      `UPDATE escalations SET status = 'closed', closed_at = ?, closed_by = ?, close_reason = ?,
         acked_at = coalesce(acked_at, ?), acked_by = coalesce(acked_by, ?) WHERE id = ?`,
    ).run(now, by, reason ?? null, now, by, id);
    const bead = store.get(id)!;
    if (bead.status !== 'closed') store.close(id, reason ?? `Escalation closed by ${by}`, true);
    return getEscalation(store.db, id);
  });
}
