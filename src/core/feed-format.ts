import type { MrEventRow as LedgerMrEventRow } from '../refinery/ledger';
import type { BeadEvent } from './bead';
import { oneLine, truncate } from './text';

/**
 * `gt feed`: turning rows of the ledger's three trails (bead `events`, `mr_events`, `activity`) into one
 * stream of classified events, ordering them, and rendering them. Pure. Every string that came from the
 * ledger is hostile (titles, reasons, details): it passes through oneLine (escape sequences and control
 * characters removed) when the event is built, so JSON and text output are both safe for a terminal.
 */
export type FeedSource = 'bead' | 'mr' | 'activity';

export interface FeedEvent {
  source: FeedSource;
  /** Row id in its source table (the follow watermark). */
  id: number;
  /** ms since the epoch. */
  at: number;
  /** create, status, sling, close, reopen, comment, escalation, done, merge, reject, mr, … or an activity kind. */
  kind: string;
  actor: string;
  rig: string | null;
  agent: string | null;
  bead: string | null;
  mr: number | null;
  /** One line, already stripped. */
  text: string;
}

const MAX_TEXT = 300;
const clean = (value: unknown): string => truncate(oneLine(String(value ?? '')), MAX_TEXT);
const cleanOrNull = (value: string | null | undefined): string | null =>
  value === null || value === undefined ? null : truncate(oneLine(value), 120);

function parseJson(text: string | null): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

// ---- bead events -----------------------------------------------------------------------------

export interface BeadEventRow extends BeadEvent {
  title: string | null;
  issue_type: string | null;
  rig: string | null;
  severity: string | null;
}

const SHORT_KIND: Record<string, string> = {
  dependency_added: 'dep',
  dependency_removed: 'dep',
  label_added: 'label',
  label_removed: 'label',
};

export function beadEventToFeed(row: BeadEventRow): FeedEvent {
  const before = parseJson(row.old_value);
  const after = parseJson(row.new_value);
  const title = clean(row.title ?? (after?.title as string | undefined) ?? '');
  let kind = row.event_type;
  let text = '';
  let agent: string | null = null;
  switch (row.event_type) {
    case 'created':
      if (row.issue_type === 'escalation') {
        kind = 'escalation';
        text = `[${clean(row.severity ?? '?')}] ${title}`;
      } else if (row.issue_type === 'convoy') {
        kind = 'convoy';
        text = `convoy created: ${title}`;
      } else {
        kind = 'create';
        text = title;
      }
      break;
    case 'updated':
    case 'status_changed': {
      const status = after?.status;
      if (status === 'hooked') {
        kind = 'sling';
        agent = typeof after?.assignee === 'string' ? cleanOrNull(after.assignee) : null;
        text = `hooked${agent ? ` by ${agent}` : ''}: ${title}`;
      } else if (typeof status === 'string') {
        kind = 'status';
        const from = typeof before?.status === 'string' ? `${clean(before.status)} → ` : '';
        text = `${from}${clean(status)}: ${title}`;
      } else {
        kind = 'update';
        text = `changed ${Object.keys(after ?? {})
          .map(clean)
          .join(', ')}: ${title}`;
      }
      break;
    }
    case 'closed':
      kind = 'close';
      text = `closed: ${title}${after?.reason ? ` (${clean(after.reason)})` : ''}`;
      break;
    case 'reopened':
      kind = 'reopen';
      text = `reopened: ${title}${row.comment ? ` (${clean(row.comment)})` : ''}`;
      break;
    case 'claimed':
      kind = 'claim';
      text = `claimed: ${title}`;
      break;
    case 'commented':
      kind = 'comment';
      text = `${title}: ${clean(row.comment ?? '')}`;
      break;
    case 'convoy_landed':
      kind = 'landed';
      text = `convoy landed: ${title}`;
      break;
    case 'convoy_member_added':
      kind = 'convoy';
      text = `${title}: added ${clean(after?.bead_id ?? '?')}`;
      break;
    case 'escalation_acked':
      kind = 'ack';
      text = `escalation acknowledged: ${title}`;
      break;
    case 'escalation_reescalated':
      kind = 'reescalate';
      text = `[${clean(before?.severity ?? '?')} → ${clean(after?.severity ?? '?')}] unacknowledged: ${title}`;
      break;
    default:
      kind = SHORT_KIND[row.event_type] ?? (clean(row.event_type).slice(0, 30) || 'event');
      text = `${title}${after ? ` ${clean(JSON.stringify(after))}` : ''}`;
  }
  return {
    source: 'bead',
    id: row.id,
    at: row.created_at,
    kind,
    actor: clean(row.actor),
    rig: cleanOrNull(row.rig),
    agent,
    bead: cleanOrNull(row.issue_id),
    mr: null,
    text,
  };
}

// ---- merge-request events --------------------------------------------------------------------

export interface MrEventRow extends LedgerMrEventRow {
  bead_id: string | null;
  rig: string | null;
  agent_id: string | null;
  branch: string | null;
}

export function mrEventToFeed(row: MrEventRow): FeedEvent {
  const detail = row.detail ? clean(row.detail) : '';
  const bead = cleanOrNull(row.bead_id);
  let kind: string;
  let text: string;
  if (row.event === 'created') {
    kind = 'done';
    text = `MR #${row.mr_id} queued: ${bead ?? '?'}${row.branch ? ` (${clean(row.branch)})` : ''}`;
  } else if (row.to_state === 'merged') {
    kind = 'merge';
    text = `MR #${row.mr_id} merged: ${bead ?? '?'}${detail ? ` (${detail})` : ''}`;
  } else if (row.to_state === 'rejected') {
    kind = 'reject';
    text = `MR #${row.mr_id} rejected: ${bead ?? '?'}${detail ? ` (${detail})` : ''}`;
  } else {
    kind = 'mr';
    const move =
      row.from_state || row.to_state ? `${clean(row.from_state ?? '')} → ${clean(row.to_state ?? '')}` : '';
    text = `MR #${row.mr_id} ${clean(row.event)}${move ? ` ${move}` : ''}: ${bead ?? '?'}${detail ? ` (${detail})` : ''}`;
  }
  return {
    source: 'mr',
    id: row.id,
    at: row.created_at,
    kind,
    actor: clean(row.actor),
    rig: cleanOrNull(row.rig),
    agent: cleanOrNull(row.agent_id),
    bead,
    mr: row.mr_id,
    text,
  };
}

// ---- town activity ---------------------------------------------------------------------------

export interface ActivityRow {
  id: number;
  at: number;
  kind: string;
  actor: string;
  rig: string | null;
  agent: string | null;
  bead: string | null;
  detail: string;
}

export function activityToFeed(row: ActivityRow): FeedEvent {
  const agent = cleanOrNull(row.agent);
  const bead = cleanOrNull(row.bead);
  const who = [agent, bead].filter(Boolean).join(' ');
  const detail = clean(row.detail);
  return {
    source: 'activity',
    id: row.id,
    at: row.at,
    kind: clean(row.kind).slice(0, 30) || 'activity',
    actor: clean(row.actor),
    rig: cleanOrNull(row.rig),
    agent,
    bead,
    mr: null,
    text: [who, detail].filter(Boolean).join(': ') || clean(row.kind),
  };
}

// ---- ordering --------------------------------------------------------------------------------

const SOURCE_RANK: Record<FeedSource, number> = { bead: 0, mr: 1, activity: 2 };

/** Time order; within the same millisecond, bead events before MR events before activity, then by id. */
export function compareFeed(a: FeedEvent, b: FeedEvent): number {
  return a.at - b.at || SOURCE_RANK[a.source] - SOURCE_RANK[b.source] || a.id - b.id;
}

/** The last `limit` events of several sources, in time order. */
export function mergeFeed(
  lists: readonly (readonly FeedEvent[])[],
  limit = Number.POSITIVE_INFINITY,
): FeedEvent[] {
  const all = lists.flat().sort(compareFeed);
  return limit < all.length ? all.slice(all.length - limit) : all;
}

// ---- rendering -------------------------------------------------------------------------------

const COLORS: Record<string, number> = {
  create: 36,
  convoy: 36,
  sling: 34,
  done: 35,
  merge: 32,
  landed: 32,
  close: 32,
  reject: 31,
  escalation: 31,
  reescalate: 31,
  zombie: 31,
  stalled: 33,
  nudge: 33,
  restart: 33,
  recover: 33,
  recovery: 33,
};

function colorOf(kind: string): number {
  if (kind in COLORS) return COLORS[kind]!;
  if (/reject|fail|broken|escalat|zombie|kill|reap/.test(kind)) return 31;
  if (/nudge|restart|stall|recover|stop|pause/.test(kind)) return 33;
  if (/dispatch|sling|resume/.test(kind)) return 34;
  return 0;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

function localClock(at: number): string {
  const d = new Date(at);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export interface FeedLineOptions {
  /** ANSI colours (a terminal). Plain lines carry the full UTC time instead of the local clock. */
  color: boolean;
}

export function subjectOf(e: FeedEvent): string {
  if (e.source === 'mr' && e.mr !== null) return `MR#${e.mr}`;
  return e.bead ?? e.agent ?? e.rig ?? '-';
}

/** One line per event: time, kind, actor, subject, text. */
export function formatFeedLine(e: FeedEvent, options: FeedLineOptions): string {
  const time = options.color ? localClock(e.at) : new Date(e.at).toISOString();
  const kind = e.kind.padEnd(11);
  const rest = `${truncate(e.actor, 16).padEnd(16)} ${truncate(subjectOf(e), 14).padEnd(14)} ${e.text}`;
  if (!options.color) return `${time} ${kind} ${rest}`;
  const color = colorOf(e.kind);
  const painted = color ? `\u001b[${color}m${kind}\u001b[0m` : kind;
  return `\u001b[2m${time}\u001b[0m ${painted} ${rest}`;
}

export function feedJson(e: FeedEvent): Record<string, unknown> {
  return { ...e, at: new Date(e.at).toISOString() };
}

// ---- --since ---------------------------------------------------------------------------------

/**
 * `--since 10m` (a duration back from now: ms, s, m, h; a bare number is seconds) or an absolute time
 * (`2024-05-01T12:00:00Z`, `2024-05-01`). Returns ms since the epoch, or undefined when it is neither.
 */
export function parseSince(text: string, now: number): number | undefined {
  const trimmed = text.trim();
  const duration = /^(\d+(ms|s|m|h|d))+$|^\d+$/.test(trimmed) ? durationMs(trimmed) : undefined;
  if (duration !== undefined) return now - duration;
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : at;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function durationMs(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  let total = 0;
  for (const match of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(match[1]) * UNIT_MS[match[2]!]!;
  return total;
}
