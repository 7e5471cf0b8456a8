import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Fixture setup that has no gt command of its own yet: agent records (normally written by sling / session
 * start). Writes straight into the town ledger that a real `gt install` created.
 */
export function addAgents(
  town: string,
  agents: Array<{ id: string; role: string; rig: string | null; name: string; hooked_bead?: string | null }>,
): void {
  const db = new Database(join(town, '.gt', 'ledger.db'));
  try {
    const now = Date.now();
    const insert = db.prepare(
      `INSERT INTO agents (id, role, rig, name, hooked_bead, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const a of agents) {
      insert.run(
        a.id,
        a.role,
        a.rig,
        a.name,
        a.hooked_bead ?? null,
        a.hooked_bead ? 'working' : 'idle',
        now,
        now,
      );
    }
  } finally {
    db.close();
  }
}
