import { existsSync, statSync } from 'node:fs';
import { NON_WORK_TYPES } from '../core/bead';
import {
  type ConvoyCandidate,
  type DispatchInput,
  orderQueued,
  planDispatch,
  type QueuedCandidate,
  type RigState,
  retryDelayMs,
  targetRig,
} from '../core/dispatch';
import { GtError } from '../core/errors';
import { recordActivity } from '../daemon/activity';
import { pauseState } from '../daemon/pause';
import { type Db, prepared } from '../ledger/open';
import type { BeadStore } from '../ledger/store';
import { nowMs, toRfc3339 } from '../ledger/time';
import {
  loadRigConfigFile,
  loadTownConfig,
  maxPolecats,
  type RigConfig,
  type TownConfig,
  townConfigPath,
} from '../town/config';
import { rigLayout } from '../town/layout';
import { BUSY_STATES } from './polecats';

/**
 * The sling queue (ledger table sling_queue, migration 7): slings that found the town or the rig full, or
 * the town paused, wait here with their target, agent and model; the scheduler dispatches them in order
 * (docs/daemon-scheduler.md). This module owns the rows and reads everything the dispatch decision needs.
 */
export interface QueueRow {
  id: number;
  bead_id: string;
  target: string;
  agent: string | null;
  model: string | null;
  requested_by: string;
  created_at: number;
  attempts: number;
  last_error: string | null;
}

export interface QueuedSling {
  id: number;
  bead: string;
  target: string;
  /** 1-based place in dispatch order (bead priority, then queue age). */
  position: number;
  /** Why it was queued (the refusal's message). */
  reason: string;
  /** False when the bead was already queued (its entry keeps its age; target, agent and model are updated). */
  created: boolean;
}

export interface QueueEntryJson {
  id: number;
  /** Why it waits, as the scheduler sees it now: 'next' (goes at the next tick), a WaitReason, or 'obsolete'. */
  why?: string;
  position: number;
  bead: string;
  title: string;
  priority: number;
  status: string;
  target: string;
  agent: string | null;
  model: string | null;
  requested_by: string;
  queued_at: string;
  attempts: number;
  last_error: string | null;
}

/** Queues a sling (or refreshes the bead's existing entry). Records activity 'sling-queued'. */
export function enqueueSling(
  store: BeadStore,
  request: { bead: string; target: string; agent?: string; model?: string; reason: string },
): QueuedSling {
  const db = store.db;
  return store.write(() => {
    const existing = prepared<[string], QueueRow>(db, 'SELECT * FROM sling_queue WHERE bead_id = ?').get(
      request.bead,
    );
    let id: number;
    if (existing) {
      prepared(db, 'UPDATE sling_queue SET target = ?, agent = ?, model = ? WHERE id = ?').run(
        request.target,
        request.agent ?? null,
        request.model ?? null,
        existing.id,
      );
      id = existing.id;
    } else {
      id = Number(
        prepared(
          db,
          'INSERT INTO sling_queue (bead_id, target, agent, model, requested_by, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        ).run(
          request.bead,
          request.target,
          request.agent ?? null,
          request.model ?? null,
          store.actor,
          nowMs(),
        ).lastInsertRowid,
      );
    }
    recordActivity(db, {
      kind: 'sling-queued',
      actor: store.actor,
      rig: targetRig(request.target),
      bead: request.bead,
      detail: `→ ${request.target}: ${request.reason}`,
    });
    return {
      id,
      bead: request.bead,
      target: request.target,
      position: queuePosition(db, request.bead) ?? 0,
      reason: request.reason,
      created: !existing,
    };
  });
}

function queueRows(db: Db): Array<QueueRow & { priority: number; title: string; status: string }> {
  return prepared<[], QueueRow & { priority: number; title: string; status: string }>(
    db,
    `SELECT q.*, b.priority, b.title, b.status FROM sling_queue q JOIN beads b ON b.id = q.bead_id`,
  ).all();
}

function ordered<T extends QueueRow & { priority: number }>(rows: readonly T[]): T[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return orderQueued(
    rows.map((r) => ({
      id: r.id,
      bead: r.bead_id,
      priority: r.priority,
      queuedAt: r.created_at,
      target: r.target,
      rig: null,
      agent: null,
      usesSlot: false,
      notBefore: 0,
    })),
  ).map((q) => byId.get(q.id)!);
}

/** The bead's 1-based place in dispatch order, or null when it is not queued. */
export function queuePosition(db: Db, bead: string): number | null {
  const index = ordered(queueRows(db)).findIndex((r) => r.bead_id === bead);
  return index === -1 ? null : index + 1;
}

/** The queue in dispatch order. */
export function listQueue(db: Db): QueueEntryJson[] {
  return ordered(queueRows(db)).map((r, i) => ({
    id: r.id,
    position: i + 1,
    bead: r.bead_id,
    title: r.title,
    priority: r.priority,
    status: r.status,
    target: r.target,
    agent: r.agent,
    model: r.model,
    requested_by: r.requested_by,
    queued_at: toRfc3339(r.created_at),
    attempts: r.attempts,
    last_error: r.last_error,
  }));
}

export function queueEntry(db: Db, id: number): QueueRow | undefined {
  return prepared<[number], QueueRow>(db, 'SELECT * FROM sling_queue WHERE id = ?').get(id);
}

/** Drops the bead's entry, if any (a sling of it succeeded). Returns whether there was one. */
export function dequeueBead(db: Db, bead: string): boolean {
  return prepared(db, 'DELETE FROM sling_queue WHERE bead_id = ?').run(bead).changes > 0;
}

/** `gt queue remove <bead…>`: the entries go; the beads stay as they are (open). */
export function removeQueued(store: BeadStore, inputs: readonly string[]): { removed: string[] } {
  const db = store.db;
  return store.write(() => {
    const removed: string[] = [];
    for (const input of inputs) {
      const bead = store.get(input)?.id ?? resolveQueued(db, input);
      if (!bead || !dequeueBead(db, bead)) {
        throw new GtError('GT_E_NOT_FOUND', `${input} is not in the sling queue`, {
          hint: "see 'gt queue' for what is queued",
        });
      }
      recordActivity(db, { kind: 'queue-removed', actor: store.actor, bead, detail: 'removed by hand' });
      removed.push(bead);
    }
    return { removed };
  });
}

/** A queue entry named by its id number or a unique bead-id prefix. */
function resolveQueued(db: Db, input: string): string | undefined {
  if (/^\d+$/.test(input)) return queueEntry(db, Number(input))?.bead_id;
  const rows = prepared<[string], string>(db, "SELECT bead_id FROM sling_queue WHERE bead_id LIKE ? || '%'")
    .pluck()
    .all(input);
  return rows.length === 1 ? rows[0] : undefined;
}

/** The queue with, for each entry, why it waits (the scheduler's view; budget not consulted). */
export function listQueueWithReasons(root: string, db: Db): QueueEntryJson[] {
  const state = readDispatchState(root, db);
  const plan = planDispatch({ ...state.input, budget: new Map() });
  const why = new Map<string, string>();
  for (const d of plan.dispatch) why.set(d.bead, 'next');
  for (const w of plan.waiting) if (w.source === 'queue') why.set(w.bead, w.why);
  for (const o of state.obsolete) why.set(o.bead, `obsolete: ${o.why}`);
  return listQueue(db).map((e) => ({ ...e, why: why.get(e.bead) ?? 'unknown' }));
}

// ---- what the scheduler decides from -------------------------------------------------------------

/** Configuration files parsed once per change (the scheduler reads them on every tick). */
const configCache = new Map<string, { key: string; value: unknown }>();

function cachedConfig<T>(file: string, load: () => T): T | undefined {
  let key: string;
  try {
    const st = statSync(file);
    key = `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    return undefined;
  }
  const hit = configCache.get(file);
  if (hit && hit.key === key) return hit.value as T;
  const value = load();
  configCache.set(file, { key, value });
  return value;
}

function townConfig(root: string): TownConfig {
  return cachedConfig(townConfigPath(root), () => loadTownConfig(root)) ?? loadTownConfig(root);
}

/** A broken rig.toml must not stop dispatch to the other rigs: that rig's slings fail and say why. */
function rigConfig(root: string, rig: string): RigConfig | undefined {
  const file = rigLayout(root, rig).config;
  try {
    return existsSync(file) ? cachedConfig(file, () => loadRigConfigFile(file)) : undefined;
  } catch {
    return undefined;
  }
}

/** Queue entries that no longer need dispatching: the bead is closed, submitted or on someone's hook. */
export interface ObsoleteEntry {
  id: number;
  bead: string;
  why: string;
}

export interface DispatchState {
  input: Omit<DispatchInput, 'budget'>;
  obsolete: ObsoleteEntry[];
  queue: Map<number, QueueRow>;
}

const BUSY = BUSY_STATES.map((s) => `'${s}'`).join(',');
/** Containers and coordination beads are never fed to a polecat. */
const NOT_FED = [...NON_WORK_TYPES, 'epic', 'milestone'];

/** Everything planDispatch needs, read from the ledger and the config files (no budget verdicts). */
export function readDispatchState(root: string, db: Db, now = nowMs()): DispatchState {
  const config = townConfig(root);
  const rigs: Record<string, RigState> = {};
  const busyByRig = new Map(
    prepared<[], { rig: string | null; n: number }>(
      db,
      `SELECT rig, count(*) AS n FROM agents WHERE role = 'polecat' AND state IN (${BUSY}) GROUP BY rig`,
    )
      .all()
      .map((r) => [r.rig, r.n]),
  );
  let townBusy = 0;
  for (const n of busyByRig.values()) townBusy += n;
  for (const row of prepared<[], { name: string; parked: number }>(
    db,
    'SELECT name, parked FROM rigs',
  ).all()) {
    rigs[row.name] = {
      cap:
        rigConfig(root, row.name)?.scheduler?.max_polecats ?? config.scheduler.max_polecats_per_rig ?? null,
      parked: row.parked === 1,
      busy: busyByRig.get(row.name) ?? 0,
    };
  }

  const roles = new Map(
    prepared<[], { id: string; role: string }>(db, 'SELECT id, role FROM agents')
      .all()
      .map((r) => [r.id, r.role]),
  );
  const occupiedAgents = new Set(
    prepared<[], string>(
      db,
      `SELECT a.id FROM agents a LEFT JOIN beads b ON b.id = a.hooked_bead
        WHERE (a.hooked_bead IS NOT NULL AND (b.status IS NULL OR b.status <> 'closed'))
           OR (a.role = 'polecat' AND a.state IN ('starting','working'))`,
    )
      .pluck()
      .all(),
  );

  const queue = new Map<number, QueueRow>();
  const queued: QueuedCandidate[] = [];
  const obsolete: ObsoleteEntry[] = [];
  const rows = prepared<
    [],
    QueueRow & { priority: number; status: string; holder: string | null; failed_at: number | null }
  >(
    db,
    `SELECT q.*, b.priority, b.status,
            (SELECT a.id FROM agents a WHERE a.hooked_bead = q.bead_id) AS holder,
            (SELECT max(at) FROM activity WHERE kind = 'dispatch-failed' AND bead = q.bead_id) AS failed_at
       FROM sling_queue q JOIN beads b ON b.id = q.bead_id`,
  ).all();
  for (const row of rows) {
    queue.set(row.id, row);
    if (row.holder || ['closed', 'in_review', 'hooked', 'in_progress'].includes(row.status)) {
      obsolete.push({
        id: row.id,
        bead: row.bead_id,
        why: row.holder ? `it is on the hook of ${row.holder}` : `it is ${row.status}`,
      });
      continue;
    }
    const parts = row.target.split('/');
    const crew = parts.length === 3;
    const agent =
      row.target === 'mayor' ? 'mayor' : parts.length === 1 ? null : `${parts[0]}/${parts.at(-1)}`;
    const usesSlot = row.target !== 'mayor' && !crew && (agent === null || roles.get(agent) !== 'crew');
    queued.push({
      id: row.id,
      bead: row.bead_id,
      priority: row.priority,
      queuedAt: row.created_at,
      target: row.target,
      rig: targetRig(row.target),
      agent,
      usesSlot,
      notBefore: row.attempts > 0 && row.failed_at ? row.failed_at + retryDelayMs(row.attempts) : 0,
    });
  }

  const feedConvoys = config.scheduler.feed_convoys;
  const convoy: ConvoyCandidate[] = feedConvoys
    ? prepared<unknown[], { id: string; priority: number; created_at: number; rig: string }>(
        db,
        `SELECT DISTINCT b.id, b.priority, b.created_at, b.rig
           FROM convoy_members m
           JOIN convoys c ON c.id = m.convoy_id AND c.status = 'open'
           JOIN beads b ON b.id = m.bead_id
          WHERE b.status = 'open' AND b.is_blocked = 0 AND b.assignee IS NULL AND b.rig IS NOT NULL
            AND (b.defer_until IS NULL OR b.defer_until <= ?)
            AND b.issue_type NOT IN (${NOT_FED.map(() => '?').join(',')})
            AND NOT EXISTS (SELECT 1 FROM sling_queue q WHERE q.bead_id = b.id)
            AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.hooked_bead = b.id)
            AND NOT EXISTS (SELECT 1 FROM escalations e WHERE e.bead_id = b.id AND e.status <> 'closed')`,
      )
        .all(now, ...NOT_FED)
        .map((r) => ({ bead: r.id, priority: r.priority, createdAt: r.created_at, rig: r.rig }))
    : [];

  return {
    input: {
      now,
      paused: pauseState(db).paused,
      feedConvoys,
      townCap: maxPolecats(config),
      townBusy,
      rigs,
      queued,
      convoy,
      occupiedAgents,
    },
    obsolete,
    queue,
  };
}
