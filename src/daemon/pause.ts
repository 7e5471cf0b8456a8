import { type Db, prepared } from '../ledger/open';

/**
 * The town's dispatch pause ('gt stop --all' sets it, 'gt resume' clears it), kept in the ledger's config
 * table so every process — the daemon, gt sling, gt status — sees the same answer.
 */
const KEY = 'dispatch.paused';

export interface PauseState {
  paused: boolean;
  since: string | null;
  by: string | null;
}

export function pauseState(db: Db): PauseState {
  const row = prepared<[string], { value: string }>(db, 'SELECT value FROM config WHERE key = ?').get(KEY);
  if (!row) return { paused: false, since: null, by: null };
  try {
    const value = JSON.parse(row.value) as { since?: string; by?: string };
    return { paused: true, since: value.since ?? null, by: value.by ?? null };
  } catch {
    return { paused: true, since: null, by: null };
  }
}

export function setPaused(db: Db, by: string, now = new Date()): void {
  prepared(
    db,
    'INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  ).run(KEY, JSON.stringify({ since: now.toISOString(), by }));
}

export function clearPaused(db: Db): boolean {
  return prepared(db, 'DELETE FROM config WHERE key = ?').run(KEY).changes > 0;
}
