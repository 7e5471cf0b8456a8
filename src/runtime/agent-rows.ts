import { GtError } from '../core/errors';
import type { Db } from '../ledger/open';
import { sessionName } from './names';

/** The ledger `agents` table (migration 2), as the runtime commands read and update it. */
export interface AgentRow {
  id: string;
  role: string;
  rig: string | null;
  name: string;
  state: string;
  hooked_bead: string | null;
  worktree: string | null;
  branch: string | null;
  session: string | null;
  runtime: string | null;
  agent: string | null;
  model: string | null;
  pid: number | null;
  started_at: number | null;
  last_activity_at: number | null;
  restarts: number;
  created_at: number;
  updated_at: number;
}

export function listAgentRows(db: Db, rig?: string): AgentRow[] {
  const sql = 'SELECT * FROM agents';
  const order = " ORDER BY CASE role WHEN 'mayor' THEN 0 WHEN 'deacon' THEN 1 ELSE 2 END, rig, role, name";
  if (rig) return db.prepare(`${sql} WHERE rig = ?${order}`).all(rig) as AgentRow[];
  return db.prepare(sql + order).all() as AgentRow[];
}

/**
 * Finds an agent by address ('mayor', 'rig/name'), session name ('gt-rig-name'), or bare name when it is
 * unique across rigs.
 */
export function findAgentRow(db: Db, ref: string): AgentRow {
  const exact = db.prepare('SELECT * FROM agents WHERE id = ? OR session = ?').get(ref, ref) as
    | AgentRow
    | undefined;
  if (exact) return exact;
  const all = db.prepare('SELECT * FROM agents').all() as AgentRow[];
  const bySession = all.filter((row) => sessionName(row) === ref);
  if (bySession.length === 1) return bySession[0]!;
  const byName = all.filter((row) => row.name === ref);
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) {
    throw new GtError('GT_E_AMBIGUOUS_ID', `agent name "${ref}" exists in several rigs`, {
      hint: `use the full address: ${byName.map((row) => row.id).join(', ')}`,
    });
  }
  throw new GtError('GT_E_NOT_FOUND', `no agent "${ref}" in this town`, {
    hint: "see 'gt agents' for the agents that exist (addresses look like 'mayor' or '<rig>/<name>')",
  });
}

export interface AgentSessionUpdate {
  state: string;
  session: string | null;
  runtime: string | null;
  agent: string | null;
  model: string | null;
  pid: number | null;
  restarted?: boolean;
}

export function recordSession(db: Db, id: string, update: AgentSessionUpdate, now = Date.now()): void {
  const starting = update.pid !== null;
  db.prepare(
    `UPDATE agents SET state = ?, session = ?, runtime = ?, agent = ?, model = ?, pid = ?,
       started_at = CASE WHEN ? THEN ? ELSE started_at END,
       last_activity_at = CASE WHEN ? THEN ? ELSE last_activity_at END,
       restarts = restarts + ?, updated_at = ?
     WHERE id = ?`,
  ).run(
    update.state,
    update.session,
    update.runtime,
    update.agent,
    update.model,
    update.pid,
    starting ? 1 : 0,
    now,
    starting ? 1 : 0,
    now,
    update.restarted ? 1 : 0,
    now,
    id,
  );
}

/** Creates the agent record if it does not exist (for `gt session start` of a new identity). */
export function ensureAgentRow(
  db: Db,
  agent: { id: string; role: string; rig: string | null; name: string; worktree?: string | null },
  now = Date.now(),
): AgentRow {
  db.prepare(
    `INSERT INTO agents (id, role, rig, name, worktree, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
  ).run(agent.id, agent.role, agent.rig, agent.name, agent.worktree ?? null, now, now);
  return db.prepare('SELECT * FROM agents WHERE id = ?').get(agent.id) as AgentRow;
}
