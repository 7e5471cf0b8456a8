import type { Bead } from '../core/bead';
import { validateTitle } from '../core/bead';
import { GtError } from '../core/errors';
import { oneLine } from '../core/text';
import { type Db, prepared } from '../ledger/open';
import type { BeadStore } from '../ledger/store';
import { nowMs, toRfc3339, toRfc3339OrNull } from '../ledger/time';
import { SYSTEM_SENDER, sendMail } from './mail';
import { type NotifyConfig, runNotify } from './notify';

/**
 * Convoys: a named group of beads, possibly across rigs, tracked until every bead is closed (DESIGN §2.2: a
 * bead closes only when its code is on main, so "closed" is "merged"). A convoy is a bead of type 'convoy'
 * in the town prefix plus a `convoys` state row and `convoy_members` rows (migration 4).
 *
 * Landing is owned by landConvoys/reconcileConvoys: one IMMEDIATE transaction flips status open → landed
 * by compare-and-swap, closes the convoy bead and mails the Mayor and the human, so a landing is recorded
 * and mailed exactly once however many reconcilers run. The [notify] command runs after the commit,
 * claimed by a second CAS (pending → running), so it runs at most once per landing.
 */
export type ConvoyStatus = 'open' | 'landed' | 'closed';

interface ConvoyRow {
  id: string;
  status: ConvoyStatus;
  created_at: number;
  created_by: string;
  landed_at: number | null;
  closed_at: number | null;
  notify_state: string;
  notify_started_at: number | null;
  notify_finished_at: number | null;
  notify_error: string | null;
}

interface ConvoySummaryRow extends ConvoyRow {
  name: string;
  total: number;
  merged: number;
}

export interface ConvoyMemberJson {
  id: string;
  title: string;
  rig: string | null;
  status: string;
  assignee: string | null;
  /** The agent whose hook holds the bead (agents.hooked_bead), if any. */
  polecat: string | null;
  /** The state of the bead's latest merge request (merge_requests, recorded by gt done), or null. */
  mr_state: string | null;
  added_at: string;
  added_by: string;
}

export interface ConvoyJson {
  id: string;
  name: string;
  status: ConvoyStatus;
  progress: { merged: number; total: number };
  /** Every member closed (a convoy with members that is still open lands at the next reconcile). */
  complete: boolean;
  created_at: string;
  created_by: string;
  landed_at: string | null;
  closed_at: string | null;
  notify: { state: string; started_at: string | null; finished_at: string | null; error: string | null };
  members?: ConvoyMemberJson[];
}

const SUMMARY_SQL = `
  SELECT c.*, b.title AS name,
         (SELECT count(*) FROM convoy_members m WHERE m.convoy_id = c.id) AS total,
         (SELECT count(*) FROM convoy_members m JOIN beads mb ON mb.id = m.bead_id
            WHERE m.convoy_id = c.id AND mb.status = 'closed') AS merged
    FROM convoys c JOIN beads b ON b.id = c.id`;

function summaryToJson(row: ConvoySummaryRow): ConvoyJson {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    progress: { merged: row.merged, total: row.total },
    complete: row.total > 0 && row.merged === row.total,
    created_at: toRfc3339(row.created_at),
    created_by: row.created_by,
    landed_at: toRfc3339OrNull(row.landed_at),
    closed_at: toRfc3339OrNull(row.closed_at),
    notify: {
      state: row.notify_state,
      started_at: toRfc3339OrNull(row.notify_started_at),
      finished_at: toRfc3339OrNull(row.notify_finished_at),
      error: row.notify_error,
    },
  };
}

/** A convoy by id (partial ids allowed) or by its exact name when that is unique. */
export function resolveConvoy(store: BeadStore, input: string): string {
  let id: string | undefined;
  try {
    id = store.resolver.resolve(input);
  } catch (error) {
    if (!(error instanceof GtError) || error.code !== 'GT_E_NOT_FOUND') throw error;
  }
  if (id && prepared<[string], string>(store.db, 'SELECT id FROM convoys WHERE id = ?').pluck().get(id)) {
    return id;
  }
  const byName = prepared<[string], string>(
    store.db,
    'SELECT c.id FROM convoys c JOIN beads b ON b.id = c.id WHERE b.title = ? ORDER BY c.created_at',
  )
    .pluck()
    .all(input);
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) {
    throw new GtError(
      'GT_E_AMBIGUOUS_ID',
      `several convoys are named '${oneLine(input)}': ${byName.join(', ')}`,
      {
        hint: 'use the convoy id',
      },
    );
  }
  throw new GtError(
    'GT_E_CONVOY_NOT_FOUND',
    id ? `${id} is a bead but not a convoy` : `no convoy matches '${oneLine(input)}'`,
    { hint: "list convoys with 'gt convoy list --all'" },
  );
}

function memberBead(store: BeadStore, input: string): Bead {
  const bead = store.require(input);
  if (bead.issue_type === 'convoy') {
    throw new GtError('GT_E_INVALID_INPUT', `${bead.id} is itself a convoy; convoys track work beads`, {
      hint: 'add the beads of that convoy instead',
    });
  }
  return bead;
}

function insertMembers(store: BeadStore, convoyId: string, beads: readonly Bead[], now: number): string[] {
  const added: string[] = [];
  const insert = prepared(
    store.db,
    `INSERT INTO convoy_members (convoy_id, bead_id, added_at, added_by) VALUES (?, ?, ?, ?)
       ON CONFLICT (convoy_id, bead_id) DO NOTHING`,
  );
  for (const bead of beads) {
    if (insert.run(convoyId, bead.id, now, store.actor).changes === 1) {
      added.push(bead.id);
      store.event(convoyId, 'convoy_member_added', null, { bead_id: bead.id });
    }
  }
  return added;
}

export function createConvoy(store: BeadStore, name: string, beadInputs: readonly string[] = []): ConvoyJson {
  const title = validateTitle(name);
  return store.write(() => {
    const beads = beadInputs.map((input) => memberBead(store, input));
    const now = nowMs();
    const bead = store.create({ title, issue_type: 'convoy', prefix: store.defaultPrefix() });
    prepared(store.db, 'INSERT INTO convoys (id, status, created_at, created_by) VALUES (?, ?, ?, ?)').run(
      bead.id,
      'open',
      now,
      store.actor,
    );
    insertMembers(store, bead.id, beads, now);
    return showConvoy(store, bead.id);
  });
}

export function addToConvoy(
  store: BeadStore,
  convoyInput: string,
  beadInputs: readonly string[],
): ConvoyJson & { added: string[] } {
  if (beadInputs.length === 0) {
    throw new GtError('GT_E_USAGE', 'name at least one bead to add', {
      hint: 'gt convoy add <convoy> <bead…>',
    });
  }
  return store.write(() => {
    const id = resolveConvoy(store, convoyInput);
    const row = convoyRow(store.db, id);
    if (row.status !== 'open') {
      throw new GtError('GT_E_CONVOY_CLOSED', `convoy ${id} is ${row.status}; it takes no more beads`, {
        hint: "create a new convoy with 'gt convoy create'",
      });
    }
    const beads = beadInputs.map((input) => memberBead(store, input));
    const added = insertMembers(store, id, beads, nowMs());
    return { ...showConvoy(store, id), added };
  });
}

function convoyRow(db: Db, id: string): ConvoyRow {
  return prepared<[string], ConvoyRow>(db, 'SELECT * FROM convoys WHERE id = ?').get(id)!;
}

export function listConvoys(store: BeadStore, options: { all?: boolean } = {}): ConvoyJson[] {
  const where = options.all ? '' : " WHERE c.status = 'open'";
  return prepared<[], ConvoySummaryRow>(store.db, `${SUMMARY_SQL}${where} ORDER BY c.created_at, c.id`)
    .all()
    .map(summaryToJson);
}

export function showConvoy(store: BeadStore, input: string): ConvoyJson {
  const id = resolveConvoy(store, input);
  const summary = prepared<[string], ConvoySummaryRow>(store.db, `${SUMMARY_SQL} WHERE c.id = ?`).get(id)!;
  const members = prepared<[string], Omit<ConvoyMemberJson, 'added_at'> & { added_at: number }>(
    store.db,
    `SELECT b.id, b.title, b.rig, b.status, b.assignee, a.id AS polecat, m.added_at, m.added_by,
            (SELECT r.state FROM merge_requests r WHERE r.bead_id = b.id ORDER BY r.id DESC LIMIT 1) AS mr_state
       FROM convoy_members m JOIN beads b ON b.id = m.bead_id LEFT JOIN agents a ON a.hooked_bead = b.id
       WHERE m.convoy_id = ? ORDER BY b.rig, b.priority, b.created_at, b.id`,
  ).all(id);
  return {
    ...summaryToJson(summary),
    members: members.map((m) => ({ ...m, added_at: toRfc3339(m.added_at) })),
  };
}

export function closeConvoy(store: BeadStore, input: string, reason?: string): ConvoyJson {
  return store.write(() => {
    const id = resolveConvoy(store, input);
    const row = convoyRow(store.db, id);
    if (row.status !== 'open') {
      throw new GtError('GT_E_CONVOY_CLOSED', `convoy ${id} is already ${row.status}`, {
        hint: 'nothing to do',
      });
    }
    const now = nowMs();
    prepared(
      store.db,
      "UPDATE convoys SET status = 'closed', closed_at = ? WHERE id = ? AND status = 'open'",
    ).run(now, id);
    const bead = store.get(id)!;
    if (bead.status !== 'closed') store.close(id, reason ?? 'Convoy closed by hand', true);
    return showConvoy(store, id);
  });
}

/** The open convoy tracking a bead, or a new "Work: <title>" convoy for it (for gt sling). */
export function ensureConvoyFor(
  store: BeadStore,
  beadInput: string,
): { convoy: ConvoyJson; created: boolean } {
  return store.write(() => {
    const bead = memberBead(store, beadInput);
    const existing = prepared<[string], string>(
      store.db,
      `SELECT c.id FROM convoy_members m JOIN convoys c ON c.id = m.convoy_id
         WHERE m.bead_id = ? AND c.status = 'open' ORDER BY c.created_at LIMIT 1`,
    )
      .pluck()
      .get(bead.id);
    if (existing) return { convoy: showConvoy(store, existing), created: false };
    const title = [...`Work: ${oneLine(bead.title)}`].slice(0, 500).join('');
    return { convoy: createConvoy(store, title, [bead.id]), created: true };
  });
}

// ---- landing ---------------------------------------------------------------------------------

export interface LandedConvoy {
  id: string;
  name: string;
  landed_at: string;
  members: Array<{ id: string; title: string; rig: string | null }>;
  mail: number[];
}

export interface ReconcileOptions {
  /** Only convoys containing these beads (onBeadsClosed); default: every open convoy. */
  beads?: readonly string[];
  /** The town's [notify] command; null or absent: none. */
  notify?: NotifyConfig | null;
  /** Town root (the notify command's working directory). */
  root?: string;
}

export interface NotifyResult {
  id: string;
  ok: boolean;
  error: string | null;
}

export interface ReconcileResult {
  landed: LandedConvoy[];
  notified: NotifyResult[];
}

/**
 * Lands every open convoy whose members are all closed, in one transaction: CAS open → landed, close the
 * convoy bead, mail the Mayor and the human. Returns only the convoys this call landed (never the same one
 * twice across calls or processes). Synchronous: the Refinery can call it inside its own work.
 */
export function landConvoys(
  store: BeadStore,
  options: Pick<ReconcileOptions, 'beads' | 'notify'> = {},
): LandedConvoy[] {
  return store.write(() => {
    const byBead = prepared<[string], string>(
      store.db,
      `SELECT c.id FROM convoy_members m JOIN convoys c ON c.id = m.convoy_id
         WHERE m.bead_id = ? AND c.status = 'open'`,
    ).pluck();
    const ids = options.beads
      ? [...new Set(options.beads.flatMap((bead) => byBead.all(bead)))]
      : prepared<[], string>(store.db, "SELECT id FROM convoys WHERE status = 'open' ORDER BY created_at")
          .pluck()
          .all();
    const landed: LandedConvoy[] = [];
    for (const id of ids) {
      const counts = prepared<[string], { total: number; open: number }>(
        store.db,
        `SELECT count(*) AS total, coalesce(sum(b.status <> 'closed'), 0) AS open
           FROM convoy_members m JOIN beads b ON b.id = m.bead_id WHERE m.convoy_id = ?`,
      ).get(id)!;
      if (counts.total === 0 || counts.open > 0) continue;
      const now = nowMs();
      const changed = prepared(
        store.db,
        `UPDATE convoys SET status = 'landed', landed_at = ?, notify_state = ? WHERE id = ? AND status = 'open'`,
      ).run(now, options.notify ? 'pending' : 'none', id).changes;
      if (changed !== 1) continue;
      const bead = store.get(id)!;
      if (bead.status !== 'closed') store.close(id, `Landed: all ${counts.total} beads closed`, true);
      store.event(id, 'convoy_landed', { status: 'open' }, { status: 'landed', beads: counts.total });
      const members = prepared<[string], { id: string; title: string; rig: string | null }>(
        store.db,
        `SELECT b.id, b.title, b.rig FROM convoy_members m JOIN beads b ON b.id = m.bead_id
           WHERE m.convoy_id = ? ORDER BY b.rig, b.id`,
      ).all(id);
      const subject = [...`Convoy landed: ${oneLine(bead.title)}`].slice(0, 200).join('');
      const body = [
        `Convoy ${id} has landed: all ${counts.total} tracked beads are closed (merged).`,
        '',
        ...members.map((m) => `- ${m.id}${m.rig ? ` [${m.rig}]` : ''} ${m.title}`),
      ].join('\n');
      const mail: number[] = [];
      for (const to of ['mayor', 'human']) {
        mail.push(...sendMail(store, { from: SYSTEM_SENDER, to, subject, body, kind: 'convoy_landed' }).ids);
      }
      landed.push({ id, name: bead.title, landed_at: toRfc3339(now), members, mail });
    }
    return landed;
  });
}

/** Runs the notify command of every landing still 'pending' (claimed by CAS: at most once each). */
export async function runPendingConvoyNotifications(
  store: BeadStore,
  root: string,
  notify: NotifyConfig,
): Promise<NotifyResult[]> {
  const pending = prepared<[], string>(store.db, "SELECT id FROM convoys WHERE notify_state = 'pending'")
    .pluck()
    .all();
  const results: NotifyResult[] = [];
  for (const id of pending) {
    const claimed = store.write(
      () =>
        prepared(
          store.db,
          "UPDATE convoys SET notify_state = 'running', notify_started_at = ? WHERE id = ? AND notify_state = 'pending'",
        ).run(nowMs(), id).changes === 1,
    );
    if (!claimed) continue;
    const detail = showConvoy(store, id);
    const outcome = await runNotify(root, notify, {
      event: 'convoy.landed',
      id,
      name: detail.name,
      landed_at: detail.landed_at,
      progress: detail.progress,
      beads: (detail.members ?? []).map((m) => ({ id: m.id, title: m.title, rig: m.rig, status: m.status })),
    });
    store.write(() =>
      prepared(
        store.db,
        'UPDATE convoys SET notify_state = ?, notify_finished_at = ?, notify_error = ? WHERE id = ?',
      ).run(outcome.ok ? 'sent' : 'failed', nowMs(), outcome.error, id),
    );
    results.push({ id, ...outcome });
  }
  return results;
}

/** Lands what is ready and runs pending notifications. Safe to call repeatedly and concurrently. */
export async function reconcileConvoys(
  store: BeadStore,
  options: ReconcileOptions = {},
): Promise<ReconcileResult> {
  const landed = landConvoys(store, options);
  const notified =
    options.notify && options.root
      ? await runPendingConvoyNotifications(store, options.root, options.notify)
      : [];
  return { landed, notified };
}

/** For the Refinery/daemon after it closes beads: lands the convoys those beads complete. */
export function onBeadsClosed(
  store: BeadStore,
  beadIds: readonly string[],
  options: Omit<ReconcileOptions, 'beads'> = {},
): Promise<ReconcileResult> {
  return reconcileConvoys(store, { ...options, beads: beadIds });
}
