import {
  type ActivityRow,
  activityToFeed,
  type BeadEventRow,
  beadEventToFeed,
  type FeedEvent,
  type MrEventRow,
  mergeFeed,
  mrEventToFeed,
} from '../core/feed-format';
import { type Db, prepared } from '../ledger/open';

/**
 * The town's event stream for `gt feed` (docs/daemon-status.md): the ledger's bead `events`, `mr_events`
 * and `activity` (migration 7), merged in time order. Following keeps one id watermark per source and
 * reads only rows above it, and only when SQLite's data_version says another connection committed — an
 * idle follower costs one pragma read per poll.
 */
export interface FeedMarks {
  bead: number;
  mr: number;
  activity: number;
}

const BEAD_SELECT = `
  SELECT ev.id, ev.issue_id, ev.event_type, ev.actor, ev.old_value, ev.new_value, ev.comment, ev.created_at,
         b.title, b.issue_type, b.rig, e.severity
    FROM events ev
    LEFT JOIN beads b ON b.id = ev.issue_id
    LEFT JOIN escalations e ON e.id = ev.issue_id`;

const MR_SELECT = `
  SELECT me.id, me.mr_id, me.event, me.from_state, me.to_state, me.actor, me.detail, me.created_at,
         m.bead_id, m.rig, m.agent_id, m.branch
    FROM mr_events me
    LEFT JOIN merge_requests m ON m.id = me.mr_id`;

const ACTIVITY_SELECT = 'SELECT id, at, kind, actor, rig, agent, bead, detail FROM activity';

function currentMarks(db: Db): FeedMarks {
  const max = (table: string) =>
    prepared<[], number | null>(db, `SELECT max(id) FROM ${table}`).pluck().get() ?? 0;
  return { bead: max('events'), mr: max('mr_events'), activity: max('activity') };
}

export interface TailOptions {
  /** At most this many events (the newest). */
  limit: number;
  /** Only events at or after this time (ms). */
  sinceMs?: number;
}

/** The newest events (in time order) and the watermarks to follow from. One read snapshot. */
export function readFeedTail(db: Db, options: TailOptions): { events: FeedEvent[]; marks: FeedMarks } {
  const since = options.sinceMs ?? 0;
  const limit = Math.max(0, Math.floor(options.limit));
  return db.transaction(() => {
    const marks = currentMarks(db);
    if (limit === 0) return { events: [], marks };
    const beads = prepared<[number, number], BeadEventRow>(
      db,
      `${BEAD_SELECT} WHERE ev.created_at >= ? ORDER BY ev.id DESC LIMIT ?`,
    ).all(since, limit);
    const mrs = prepared<[number, number], MrEventRow>(
      db,
      `${MR_SELECT} WHERE me.created_at >= ? ORDER BY me.id DESC LIMIT ?`,
    ).all(since, limit);
    const activity = prepared<[number, number], ActivityRow>(
      db,
      `${ACTIVITY_SELECT} WHERE at >= ? ORDER BY id DESC LIMIT ?`,
    ).all(since, limit);
    const events = mergeFeed(
      [beads.map(beadEventToFeed), mrs.map(mrEventToFeed), activity.map(activityToFeed)],
      limit,
    );
    return { events, marks };
  })();
}

const BATCH = 1000;

/** Everything above the watermarks (in time order), and the new watermarks. */
export function readFeedAfter(
  db: Db,
  marks: FeedMarks,
): { events: FeedEvent[]; marks: FeedMarks; more: boolean } {
  return db.transaction(() => {
    const beads = prepared<[number, number], BeadEventRow>(
      db,
      `${BEAD_SELECT} WHERE ev.id > ? ORDER BY ev.id LIMIT ?`,
    ).all(marks.bead, BATCH);
    const mrs = prepared<[number, number], MrEventRow>(
      db,
      `${MR_SELECT} WHERE me.id > ? ORDER BY me.id LIMIT ?`,
    ).all(marks.mr, BATCH);
    const activity = prepared<[number, number], ActivityRow>(
      db,
      `${ACTIVITY_SELECT} WHERE id > ? ORDER BY id LIMIT ?`,
    ).all(marks.activity, BATCH);
    const next: FeedMarks = {
      bead: beads.at(-1)?.id ?? marks.bead,
      mr: mrs.at(-1)?.id ?? marks.mr,
      activity: activity.at(-1)?.id ?? marks.activity,
    };
    return {
      events: mergeFeed([beads.map(beadEventToFeed), mrs.map(mrEventToFeed), activity.map(activityToFeed)]),
      marks: next,
      more: beads.length === BATCH || mrs.length === BATCH || activity.length === BATCH,
    };
  })();
}

export interface FollowOptions {
  pollMs?: number;
  /** Resolves the follow loop when aborted. */
  signal?: AbortSignal;
}

/**
 * Calls onEvents with each new batch of events until the signal aborts. Polls data_version (a read of the
 * connection's own counter, no I/O) and queries only when it moved.
 */
export async function followFeed(
  db: Db,
  from: FeedMarks,
  onEvents: (events: FeedEvent[]) => void,
  options: FollowOptions = {},
): Promise<void> {
  const pollMs = options.pollMs ?? 250;
  let marks = from;
  let version = db.pragma('data_version', { simple: true }) as number;
  // The first pass also catches whatever was committed between the tail read and now.
  let dirty = true;
  while (!options.signal?.aborted) {
    if (dirty) {
      for (;;) {
        const batch = readFeedAfter(db, marks);
        marks = batch.marks;
        if (batch.events.length > 0) onEvents(batch.events);
        if (!batch.more) break;
      }
      dirty = false;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      function done() {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', done);
        resolve();
      }
      options.signal?.addEventListener('abort', done, { once: true });
    });
    const now = db.pragma('data_version', { simple: true }) as number;
    if (now !== version) {
      version = now;
      dirty = true;
    }
  }
}
