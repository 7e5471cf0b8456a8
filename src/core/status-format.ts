import { oneLine, truncate } from './text';

/**
 * `gt status`: the shape of the town's one-screen summary and its text rendering. Pure; the service
 * (src/services/status.ts) fills it from the ledger and two small files. Strings from the ledger are
 * stripped by the service before they get here; the renderer strips again, because it must be safe alone.
 */
export const POLECAT_STATES = [
  'working',
  'starting',
  'idle',
  'stalled',
  'zombie',
  'done',
  'stopped',
] as const;
export const MR_STATES = ['queued', 'sheriff', 'ready', 'testing', 'merged', 'rejected'] as const;
export const OPEN_MR_STATES = ['queued', 'sheriff', 'ready', 'testing'] as const;
export const SEVERITY_ORDER = ['CRITICAL', 'HIGH', 'MEDIUM'] as const;

export interface StatusController {
  name: string;
  state: string;
  ticks: number;
  failures: number;
  last_tick_at: string | null;
  last_error: string | null;
}

export interface StatusDaemon {
  health: 'running' | 'stale-heartbeat' | 'not-running';
  pid: number | null;
  started_at: string | null;
  heartbeat_at: string | null;
  heartbeat_age_ms: number | null;
  controllers: StatusController[];
  /** The Deacon's own heartbeat: its last completed tick. */
  deacon: { state: string; last_tick_at: string | null; last_tick_age_ms: number | null } | null;
}

export interface StatusPolecat {
  id: string;
  state: string;
  health: string | null;
  hooked_bead: string | null;
  last_activity_at: string | null;
}

export interface StatusRig {
  name: string;
  parked: boolean;
  polecats: {
    total: number;
    by_state: Record<string, number>;
    by_health: Record<string, number>;
    agents: StatusPolecat[];
  };
  merge_queue: {
    by_state: Record<string, number>;
    /** MRs not yet merged or rejected. */
    open: number;
    open_batches: number;
  };
}

export interface StatusConvoy {
  id: string;
  name: string;
  merged: number;
  total: number;
}

export interface StatusEscalation {
  id: string;
  severity: string;
  status: string;
  summary: string;
  source_agent: string;
  created_at: string;
  reescalations: number;
}

export interface TownStatus {
  town: { name: string; root: string };
  generated_at: string;
  daemon: StatusDaemon;
  dispatch: { paused: boolean; since: string | null; by: string | null };
  capacity: { max_polecats: number | null; busy: number };
  sling_queue: { length: number };
  rigs: StatusRig[];
  convoys: { open: StatusConvoy[]; landed: number };
  escalations: {
    open: number;
    unacked: number;
    by_severity: Record<string, number>;
    items: StatusEscalation[];
  };
  /** Problems reading part of the town (e.g. a broken town.toml); the rest is still reported. */
  warnings: string[];
}

const s = (text: string, max = 60) => truncate(oneLine(text), max);

function ago(ms: number | null): string {
  if (ms === null) return '?';
  const sec = Math.max(0, Math.round(ms / 1000));
  if (sec < 120) return `${sec}s ago`;
  const min = Math.round(sec / 60);
  if (min < 120) return `${min}m ago`;
  return `${Math.round(min / 60)}h ago`;
}

/** "working 3, idle 1" — the non-zero counts in the given order. */
export function countsLine(counts: Record<string, number>, order: readonly string[]): string {
  const keys = [...order, ...Object.keys(counts).filter((k) => !order.includes(k))];
  return keys
    .filter((k) => (counts[k] ?? 0) > 0)
    .map((k) => `${s(k, 20)} ${counts[k]}`)
    .join(', ');
}

function daemonLines(d: StatusDaemon): string[] {
  if (d.health === 'not-running') return ["daemon: not running (start it with 'gt up')"];
  const head = `daemon: ${d.health} (pid ${d.pid}, heartbeat ${ago(d.heartbeat_age_ms)})`;
  const deacon = d.deacon
    ? `deacon ${d.deacon.state}, last tick ${d.deacon.last_tick_at ? ago(d.deacon.last_tick_age_ms) : 'not yet'}`
    : 'no deacon';
  const troubled = d.controllers.filter((c) => c.state === 'backoff' || c.state === 'broken');
  const ctl = troubled.length
    ? `${troubled.length} of ${d.controllers.length} controllers failing`
    : `${d.controllers.length} controllers ok`;
  const lines = [`${head}; ${deacon}; ${ctl}`];
  for (const c of troubled) {
    lines.push(`  ! ${s(c.name, 30)} ${c.state}${c.last_error ? `: ${s(c.last_error, 80)}` : ''}`);
  }
  return lines;
}

const ATTENTION = new Set(['stalled', 'zombie']);
const MAX_LISTED = 8;

export function renderTownStatus(st: TownStatus): string {
  const lines: string[] = [`town: ${s(st.town.name)} (${s(st.town.root, 200)})`];
  lines.push(...daemonLines(st.daemon));
  const cap =
    st.capacity.max_polecats === null
      ? `${st.capacity.busy} busy`
      : `${st.capacity.busy}/${st.capacity.max_polecats} busy`;
  const dispatch = st.dispatch.paused
    ? `PAUSED${st.dispatch.since ? ` since ${st.dispatch.since}` : ''}${st.dispatch.by ? ` by ${s(st.dispatch.by, 30)}` : ''} (gt resume)`
    : 'active';
  lines.push(`dispatch: ${dispatch}; polecats ${cap}; sling queue ${st.sling_queue.length}`);

  if (st.rigs.length === 0) lines.push('rigs: none');
  for (const rig of st.rigs) {
    const p = rig.polecats;
    const polecats =
      p.total === 0 ? 'no polecats' : `${p.total} polecats (${countsLine(p.by_state, POLECAT_STATES)})`;
    const mq = rig.merge_queue;
    const open = countsLine(
      Object.fromEntries(OPEN_MR_STATES.map((k) => [k, mq.by_state[k] ?? 0])),
      OPEN_MR_STATES,
    );
    const queue = `mq ${open || 'empty'}; merged ${mq.by_state.merged ?? 0}, rejected ${mq.by_state.rejected ?? 0}${mq.open_batches ? `; ${mq.open_batches} open batch${mq.open_batches === 1 ? '' : 'es'}` : ''}`;
    lines.push(`rig ${s(rig.name, 30)}${rig.parked ? ' (parked)' : ''}: ${polecats}; ${queue}`);
    const attention = p.agents.filter(
      (a) => ATTENTION.has(a.state) || (a.health !== null && ATTENTION.has(a.health)),
    );
    for (const a of attention.slice(0, MAX_LISTED)) {
      lines.push(
        `  ! ${s(a.id, 40)} ${s(a.health ?? a.state, 12)}${a.hooked_bead ? ` (hooked ${s(a.hooked_bead, 30)})` : ''}`,
      );
    }
    if (attention.length > MAX_LISTED) lines.push(`  … ${attention.length - MAX_LISTED} more`);
  }

  const convoys = st.convoys.open;
  lines.push(`convoys: ${convoys.length} open${st.convoys.landed ? `, ${st.convoys.landed} landed` : ''}`);
  for (const c of convoys.slice(0, MAX_LISTED)) {
    lines.push(
      `  ${s(c.id, 20).padEnd(12)} ${String(c.merged).padStart(3)}/${String(c.total).padEnd(3)} ${s(c.name)}`,
    );
  }
  if (convoys.length > MAX_LISTED) lines.push(`  … ${convoys.length - MAX_LISTED} more (gt convoy list)`);

  const e = st.escalations;
  const sev = countsLine(e.by_severity, SEVERITY_ORDER);
  lines.push(`escalations: ${e.open} open${e.open ? ` (${sev}; ${e.unacked} unacknowledged)` : ''}`);
  for (const x of e.items.slice(0, MAX_LISTED)) {
    lines.push(
      `  ${s(x.id, 20).padEnd(12)} ${s(x.severity, 10).padEnd(8)} ${s(x.status, 8).padEnd(6)} ${s(x.summary)}${x.reescalations ? ` (re-escalated ${x.reescalations}×)` : ''}`,
    );
  }
  if (e.items.length > MAX_LISTED) lines.push(`  … ${e.items.length - MAX_LISTED} more (gt escalate list)`);
  for (const w of st.warnings) lines.push(`warning: ${s(w, 200)}`);
  return lines.join('\n');
}
