import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GtError } from '../core/errors';
import type { Db } from '../ledger/open';
import { toRfc3339OrNull } from '../ledger/time';
import { type AgentRow, ensureAgentRow } from '../runtime/agent-rows';
import type { RuntimeKind } from '../runtime/config-schema';
import { withFileLock } from '../runtime/lock';
import { sessionName } from '../runtime/names';
import { providerFor, runtimeKind, townRuntimePaths } from '../runtime/town-runtime';
import { townLayout } from '../town/layout';
import { MAYOR_INSTRUCTIONS } from '../town/templates';
import { allocationFor, type StartedSession, startAgentSession, stopAgentSession } from './agent-sessions';

/**
 * The Mayor: the town-level planning agent (DESIGN §4.1). One per town: agent id `mayor`, role mayor,
 * session `gt-mayor` on the town's tmux socket, working directory `<town>/mayor` (its instruction file
 * is `AGENTS.md` there). Its agent and model come from `[roles.mayor]` (the strong model by default, see
 * runtime/allocation.ts). Start and stop go through agent-sessions.ts like every other agent; this module
 * adds what is Mayor-specific: idempotent start, a stop that keeps the record, and a status with uptime.
 */
export const MAYOR_ID = 'mayor';
const MAYOR_IDENTITY = { id: MAYOR_ID, role: 'mayor', rig: null, name: MAYOR_ID } as const;
const LOCK_TIMEOUT_MS = 120_000;

/**
 * running: the agent process is alive. exited: its session is still there but the agent ended (see
 * exit_code and `gt peek mayor`). stopped: no session. not-started: the town never had a Mayor session.
 */
export type MayorState = 'running' | 'exited' | 'stopped' | 'not-started';

export interface MayorStatus {
  agent: typeof MAYOR_ID;
  state: MayorState;
  running: boolean;
  session: string;
  session_exists: boolean;
  runtime: RuntimeKind;
  /** The agent preset and model of the recorded session (or of the next start when none was recorded). */
  preset: string | null;
  model: string | null;
  pid: number | null;
  exit_code: number | null;
  started_at: string | null;
  uptime_ms: number | null;
  restarts: number;
  /** The state recorded on the agent row (idle, working, stopped, …), null before the first start. */
  recorded_state: string | null;
  cwd: string;
  /** The town's tmux socket (`tmux -S <socket> attach -t gt-mayor`), null for a headless Mayor. */
  socket: string | null;
  /** What the next start would run, from town.toml `[roles.mayor]` (null when the config is invalid). */
  configured: { preset: string; model: string | null; runtime: RuntimeKind } | null;
  config_error?: string;
}

export interface MayorStartOptions {
  agent?: string;
  model?: string;
  runtime?: RuntimeKind;
  waitReady?: boolean;
  readyTimeoutMs?: number;
}

export interface MayorStartResult {
  started: boolean;
  already_running: boolean;
  status: MayorStatus;
  /** The start itself (session, pid, readiness), when this call started the Mayor. */
  start?: StartedSession;
  /** Notes for the person, e.g. flags that were ignored because the Mayor already runs. */
  notes: string[];
}

export interface MayorStopResult {
  agent: typeof MAYOR_ID;
  session: string;
  was_running: boolean;
  /** False when the town never had a Mayor: nothing was done. */
  existed: boolean;
  status: MayorStatus;
}

export function mayorRow(db: Db): AgentRow | undefined {
  return db.prepare('SELECT * FROM agents WHERE id = ?').get(MAYOR_ID) as AgentRow | undefined;
}

/** The Mayor's home and instruction file; an existing file is never overwritten (towns may edit it). */
export function ensureMayorHome(root: string): string {
  const home = townLayout(root).mayor;
  mkdirSync(home, { recursive: true });
  const agents = join(home, 'AGENTS.md');
  if (!existsSync(agents)) writeFileSync(agents, MAYOR_INSTRUCTIONS);
  const claude = join(home, 'CLAUDE.md');
  if (!existsSync(claude)) writeFileSync(claude, '@AGENTS.md\n');
  return home;
}

function blankRow(): AgentRow {
  return {
    ...MAYOR_IDENTITY,
    state: 'idle',
    hooked_bead: null,
    worktree: null,
    branch: null,
    session: null,
    runtime: null,
    agent: null,
    model: null,
    pid: null,
    started_at: null,
    last_activity_at: null,
    restarts: 0,
    created_at: 0,
    updated_at: 0,
  };
}

function configured(root: string, row: AgentRow): Pick<MayorStatus, 'configured' | 'config_error'> {
  try {
    const alloc = allocationFor(root, row);
    return { configured: { preset: alloc.agent, model: alloc.model, runtime: alloc.runtime } };
  } catch (error) {
    return { configured: null, config_error: error instanceof Error ? error.message : String(error) };
  }
}

export async function mayorStatus(root: string, db: Db, now = Date.now()): Promise<MayorStatus> {
  const row = mayorRow(db);
  const config = configured(root, row ?? blankRow());
  const runtime = row?.runtime ? runtimeKind(row.runtime) : (config.configured?.runtime ?? 'tmux');
  const session = row?.session ?? sessionName(MAYOR_IDENTITY);
  const live = await providerFor(runtime, root).liveness(session);
  const state: MayorState = live.processAlive
    ? 'running'
    : live.session
      ? 'exited'
      : row?.started_at
        ? 'stopped'
        : 'not-started';
  const startedAt = row?.started_at ?? null;
  return {
    agent: MAYOR_ID,
    state,
    running: live.processAlive,
    session,
    session_exists: live.session,
    runtime,
    preset: row?.agent ?? config.configured?.preset ?? null,
    model: row?.agent ? row.model : (config.configured?.model ?? null),
    pid: live.processAlive ? (live.pid ?? row?.pid ?? null) : null,
    exit_code: live.exitCode,
    started_at: toRfc3339OrNull(startedAt),
    uptime_ms: live.processAlive && startedAt !== null ? Math.max(0, now - startedAt) : null,
    restarts: row?.restarts ?? 0,
    recorded_state: row?.state ?? null,
    cwd: townLayout(root).mayor,
    socket: runtime === 'tmux' ? townRuntimePaths(root).socket : null,
    ...config,
  };
}

function withMayorLock<T>(root: string, fn: () => Promise<T>): Promise<T> {
  return withFileLock(join(townLayout(root).locks, 'mayor.lock'), LOCK_TIMEOUT_MS, fn);
}

/**
 * Starts the Mayor unless it already runs (then reports it: start is idempotent). Serialised by a lock
 * file, so two concurrent starts make one session. A Mayor whose agent exited is started afresh (the
 * provider replaces the dead pane). A refused first start leaves no agent record behind.
 */
export async function startMayor(
  root: string,
  db: Db,
  options: MayorStartOptions = {},
): Promise<MayorStartResult> {
  return withMayorLock(root, async () => {
    const before = await mayorStatus(root, db);
    if (before.running) {
      const notes: string[] = [];
      const asked = [
        options.agent && options.agent !== before.preset ? `--agent ${options.agent}` : null,
        options.model && options.model !== before.model ? `--model ${options.model}` : null,
        options.runtime && options.runtime !== before.runtime ? `--runtime ${options.runtime}` : null,
      ].filter((x): x is string => x !== null);
      if (asked.length > 0) {
        notes.push(
          `note: the Mayor already runs (${before.preset ?? '?'}${before.model ? ` ${before.model}` : ''}); ${asked.join(', ')} ignored. Use 'gt mayor stop' then 'gt mayor start' to change it.`,
        );
      }
      return { started: false, already_running: true, status: before, notes };
    }
    ensureMayorHome(root);
    const existing = mayorRow(db);
    if (existing && existing.role !== 'mayor') {
      throw new GtError('GT_E_CONFIG', `the agent record 'mayor' has role ${existing.role}, not mayor`, {
        hint: "the address 'mayor' is reserved for the Mayor; see 'gt agents'",
      });
    }
    const row = existing ?? ensureAgentRow(db, MAYOR_IDENTITY);
    let start: StartedSession;
    try {
      start = await startAgentSession(root, db, row, {
        override: {
          ...(options.agent ? { agent: options.agent } : {}),
          ...(options.model ? { model: options.model } : {}),
          ...(options.runtime ? { runtime: options.runtime } : {}),
        },
        waitReady: Boolean(options.waitReady),
        ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
      });
    } catch (error) {
      // Someone outside this lock (e.g. `gt sling <bead> mayor`) started it in the meantime: report it.
      const now =
        error instanceof GtError && error.code === 'GT_E_SESSION' ? await mayorStatus(root, db) : null;
      if (now?.running) return { started: false, already_running: true, status: now, notes: [] };
      if (!existing) db.prepare('DELETE FROM agents WHERE id = ?').run(MAYOR_ID);
      throw error;
    }
    const notes =
      start.ready === false
        ? ['warning: the Mayor started but did not show it was ready; see gt peek mayor']
        : [];
    return { started: true, already_running: false, status: await mayorStatus(root, db), start, notes };
  });
}

/** Stops the Mayor's session and its whole process tree. The agent record stays (state `stopped`). */
export async function stopMayor(root: string, db: Db): Promise<MayorStopResult> {
  return withMayorLock(root, async () => {
    const row = mayorRow(db);
    if (!row) {
      return {
        agent: MAYOR_ID,
        session: sessionName(MAYOR_IDENTITY),
        was_running: false,
        existed: false,
        status: await mayorStatus(root, db),
      };
    }
    const stopped = await stopAgentSession(root, db, row);
    return {
      agent: MAYOR_ID,
      session: stopped.session,
      was_running: stopped.was_running,
      existed: true,
      status: await mayorStatus(root, db),
    };
  });
}

/** "3s", "4m05s", "2h07m", "3d04h". */
export function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${pad(m % 60)}m`;
  return `${Math.floor(h / 24)}d${pad(h % 24)}h`;
}
