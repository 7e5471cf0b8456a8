import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import {
  MR_STATES,
  POLECAT_STATES,
  SEVERITY_ORDER,
  type StatusConvoy,
  type StatusDaemon,
  type StatusEscalation,
  type StatusPolecat,
  type StatusRig,
  type TownStatus,
} from '../core/status-format';
import { oneLine, truncate } from '../core/text';
import { pauseState } from '../daemon/pause';
import { daemonHealth } from '../daemon/status-file';
import { type Db, prepared } from '../ledger/open';
import { toRfc3339, toRfc3339OrNull } from '../ledger/time';
import { TOWN_CONFIG_FILE } from '../town/paths';

/**
 * `gt status` (docs/daemon-status.md): the town on one screen, from ledger queries (one read snapshot) and
 * two small files (the daemon's pid and heartbeat). Never tmux, git or a child process: it answers in tens
 * of milliseconds with a full fleet. Ledger text is hostile and is stripped here.
 */
const clean = (text: string, max = 200) => truncate(oneLine(text), max);

/**
 * Mirrors of SCALE_PRESETS / DEFAULT_MAX_POLECATS (src/town/config.ts) and BUSY_STATES
 * (src/services/polecats.ts). Importing those modules loads the zod schemas, a quarter of gt status's
 * start-up; test/unit/status-format.test.ts checks that the copies agree.
 */
export const STATUS_SCALE_PRESETS: Readonly<Record<string, number>> = { small: 2, medium: 10, large: 30 };
export const STATUS_DEFAULT_MAX_POLECATS = 4;
export const STATUS_BUSY_STATES = ['starting', 'working', 'stalled'] as const;

/** The town's name and polecat cap from town.toml, read without the schema (gt doctor validates it). */
export function townSettings(root: string): {
  name: string;
  maxPolecats: number | null;
  warning: string | null;
} {
  try {
    const parsed = parseToml(readFileSync(join(root, TOWN_CONFIG_FILE), 'utf8')) as {
      name?: unknown;
      scheduler?: { max_polecats?: unknown; scale?: unknown };
    };
    const s = parsed.scheduler ?? {};
    const cap =
      typeof s.max_polecats === 'number'
        ? s.max_polecats
        : typeof s.scale === 'string'
          ? (STATUS_SCALE_PRESETS[s.scale] ?? null)
          : STATUS_DEFAULT_MAX_POLECATS;
    return {
      name: typeof parsed.name === 'string' && parsed.name ? parsed.name : basename(root),
      maxPolecats: cap,
      warning: null,
    };
  } catch (error) {
    return {
      name: basename(root),
      maxPolecats: null,
      warning: `town.toml: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

interface AgentStatusRow {
  id: string;
  rig: string;
  state: string;
  health: string | null;
  hooked_bead: string | null;
  last_activity_at: number | null;
}

function daemonStatus(root: string, now: number): StatusDaemon {
  const h = daemonHealth(root, now);
  const deacon = h.controllers.find((c) => c.name === 'deacon');
  return {
    health: h.health,
    pid: h.pid,
    started_at: h.started_at,
    heartbeat_at: h.heartbeat_at,
    heartbeat_age_ms: h.heartbeat_age_ms,
    controllers: h.controllers.map((c) => ({
      name: c.name,
      state: c.state,
      ticks: c.ticks,
      failures: c.failures,
      last_tick_at: c.last_tick_at,
      last_error: c.last_error ? clean(c.last_error, 500) : null,
    })),
    deacon: deacon
      ? {
          state: deacon.state,
          last_tick_at: deacon.last_tick_at,
          last_tick_age_ms: deacon.last_tick_at ? now - Date.parse(deacon.last_tick_at) : null,
        }
      : null,
  };
}

function zeroes(keys: readonly string[]): Record<string, number> {
  return Object.fromEntries(keys.map((k) => [k, 0]));
}

function rigStatuses(db: Db): StatusRig[] {
  const rigs = prepared<[], { name: string; parked: number }>(
    db,
    'SELECT name, parked FROM rigs ORDER BY name',
  ).all();
  const agents = prepared<[], AgentStatusRow>(
    db,
    `SELECT id, rig, state, health, hooked_bead, last_activity_at FROM agents
       WHERE role = 'polecat' AND rig IS NOT NULL ORDER BY rig, name`,
  ).all();
  const mrCounts = prepared<[], { rig: string; state: string; n: number }>(
    db,
    'SELECT rig, state, count(*) AS n FROM merge_requests GROUP BY rig, state',
  ).all();
  const batches = prepared<[], { rig: string; n: number }>(
    db,
    "SELECT rig, count(*) AS n FROM mq_batches WHERE state IN ('active','landing') GROUP BY rig",
  ).all();
  return rigs.map((rig) => {
    const mine = agents.filter((a) => a.rig === rig.name);
    const byState = zeroes(POLECAT_STATES);
    const byHealth: Record<string, number> = {};
    const listed: StatusPolecat[] = [];
    for (const a of mine) {
      byState[a.state] = (byState[a.state] ?? 0) + 1;
      if (a.health) {
        const h = clean(a.health, 30);
        byHealth[h] = (byHealth[h] ?? 0) + 1;
      }
      listed.push({
        id: clean(a.id, 120),
        state: a.state,
        health: a.health ? clean(a.health, 30) : null,
        hooked_bead: a.hooked_bead,
        last_activity_at: toRfc3339OrNull(a.last_activity_at),
      });
    }
    const mq = zeroes(MR_STATES);
    for (const c of mrCounts) if (c.rig === rig.name) mq[c.state] = c.n;
    return {
      name: rig.name,
      parked: rig.parked === 1,
      polecats: { total: mine.length, by_state: byState, by_health: byHealth, agents: listed },
      merge_queue: {
        by_state: mq,
        open: (mq.queued ?? 0) + (mq.sheriff ?? 0) + (mq.ready ?? 0) + (mq.testing ?? 0),
        open_batches: batches.find((b) => b.rig === rig.name)?.n ?? 0,
      },
    };
  });
}

function convoyStatus(db: Db): TownStatus['convoys'] {
  const open = prepared<[], StatusConvoy>(
    db,
    `SELECT c.id, b.title AS name,
            (SELECT count(*) FROM convoy_members m WHERE m.convoy_id = c.id) AS total,
            (SELECT count(*) FROM convoy_members m JOIN beads mb ON mb.id = m.bead_id
               WHERE m.convoy_id = c.id AND mb.status = 'closed') AS merged
       FROM convoys c JOIN beads b ON b.id = c.id
      WHERE c.status = 'open' ORDER BY c.created_at, c.id`,
  )
    .all()
    .map((c) => ({ ...c, name: clean(c.name) }));
  const landed =
    prepared<[], number>(db, "SELECT count(*) FROM convoys WHERE status = 'landed'").pluck().get() ?? 0;
  return { open, landed };
}

function escalationStatus(db: Db): TownStatus['escalations'] {
  const rows = prepared<[], Omit<StatusEscalation, 'created_at'> & { created_at: number }>(
    db,
    `SELECT id, severity, status, summary, source_agent, created_at, reescalations FROM escalations
      WHERE status <> 'closed'
      ORDER BY CASE severity WHEN 'CRITICAL' THEN 0 WHEN 'HIGH' THEN 1 ELSE 2 END, created_at, id`,
  ).all();
  const bySeverity = zeroes(SEVERITY_ORDER);
  for (const r of rows) bySeverity[r.severity] = (bySeverity[r.severity] ?? 0) + 1;
  return {
    open: rows.length,
    unacked: rows.filter((r) => r.status === 'open').length,
    by_severity: bySeverity,
    items: rows.map((r) => ({
      ...r,
      summary: clean(r.summary),
      source_agent: clean(r.source_agent, 100),
      created_at: toRfc3339(r.created_at),
    })),
  };
}

export function townStatus(root: string, db: Db, now = Date.now()): TownStatus {
  const settings = townSettings(root);
  const warnings = settings.warning ? [settings.warning] : [];
  const name = settings.name;
  const cap = settings.maxPolecats;
  const daemon = daemonStatus(root, now);
  return db.transaction(() => {
    const pause = pauseState(db);
    const busyMarks = STATUS_BUSY_STATES.map(() => '?').join(',');
    const busy =
      prepared<string[], number>(
        db,
        `SELECT count(*) FROM agents WHERE role = 'polecat' AND state IN (${busyMarks})`,
      )
        .pluck()
        .get(...STATUS_BUSY_STATES) ?? 0;
    const queued = prepared<[], number>(db, 'SELECT count(*) FROM sling_queue').pluck().get() ?? 0;
    return {
      town: { name: clean(name, 100), root },
      generated_at: toRfc3339(now),
      daemon,
      dispatch: { paused: pause.paused, since: pause.since, by: pause.by ? clean(pause.by, 100) : null },
      capacity: { max_polecats: cap, busy },
      sling_queue: { length: queued },
      rigs: rigStatuses(db),
      convoys: convoyStatus(db),
      escalations: escalationStatus(db),
      warnings,
    };
  })();
}
