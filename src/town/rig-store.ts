import { GtError } from '../core/errors';
import type { Db } from '../ledger/open';

/** The `rigs` table: a rig's identity and state (its configuration lives in rig.toml). */
export interface RigRow {
  name: string;
  prefix: string;
  /** Relative to the town root. */
  path: string;
  upstream: string | null;
  defaultBranch: string;
  experimental: boolean;
  parked: boolean;
  createdAt: number;
  updatedAt: number;
}

interface RawRigRow {
  name: string;
  prefix: string;
  path: string;
  upstream: string | null;
  default_branch: string;
  experimental: number;
  parked: number;
  created_at: number;
  updated_at: number;
}

function fromRaw(row: RawRigRow): RigRow {
  return {
    name: row.name,
    prefix: row.prefix,
    path: row.path,
    upstream: row.upstream,
    defaultBranch: row.default_branch,
    experimental: row.experimental === 1,
    parked: row.parked === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function listRigRows(db: Db): RigRow[] {
  return (db.prepare('SELECT * FROM rigs ORDER BY name').all() as RawRigRow[]).map(fromRaw);
}

export function getRigRow(db: Db, name: string): RigRow | undefined {
  const row = db.prepare('SELECT * FROM rigs WHERE name = ?').get(name) as RawRigRow | undefined;
  return row ? fromRaw(row) : undefined;
}

export function requireRigRow(db: Db, name: string): RigRow {
  const row = getRigRow(db, name);
  if (!row) {
    const known = listRigRows(db).map((rig) => rig.name);
    throw new GtError('GT_E_RIG_NOT_FOUND', `no rig named '${name}' in this town`, {
      hint: known.length > 0 ? `known rigs: ${known.join(', ')}` : "add one with 'gt rig add <name> <repo>'",
    });
  }
  return row;
}

/** Every prefix in use (the town's, other rigs', imported ones): a new rig's prefix must avoid them. */
export function prefixesInUse(db: Db): Set<string> {
  const rows = db.prepare('SELECT prefix FROM prefixes UNION SELECT prefix FROM rigs').all() as Array<{
    prefix: string;
  }>;
  return new Set(rows.map((row) => row.prefix));
}

/** Inserts the rig and registers its prefix, atomically; refuses a taken name or prefix. */
export function insertRigRow(db: Db, row: Omit<RigRow, 'createdAt' | 'updatedAt' | 'parked'>): void {
  const now = Date.now();
  db.transaction(() => {
    if (getRigRow(db, row.name)) {
      throw new GtError('GT_E_RIG_EXISTS', `a rig named '${row.name}' already exists`, {
        hint: "pick another name, or 'gt rig remove' the old one first",
      });
    }
    if (prefixesInUse(db).has(row.prefix)) {
      throw new GtError('GT_E_RIG_EXISTS', `bead prefix '${row.prefix}' is already used in this town`, {
        hint: 'choose another with --prefix <prefix>',
      });
    }
    db.prepare(
      `INSERT INTO rigs (name, prefix, path, upstream, default_branch, experimental, parked, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)`,
    ).run(
      row.name,
      row.prefix,
      row.path,
      row.upstream,
      row.defaultBranch,
      row.experimental ? 1 : 0,
      now,
      now,
    );
    db.prepare('INSERT OR IGNORE INTO prefixes (prefix) VALUES (?)').run(row.prefix);
  }).immediate();
}

export function setRigParked(db: Db, name: string, parked: boolean): RigRow {
  requireRigRow(db, name);
  db.prepare('UPDATE rigs SET parked = ?, updated_at = ? WHERE name = ?').run(
    parked ? 1 : 0,
    Date.now(),
    name,
  );
  return requireRigRow(db, name);
}

/** Mirrors rig.toml's identity keys into the ledger row (after `gt config set` or a hand edit). */
export function syncRigRow(
  db: Db,
  name: string,
  fields: { defaultBranch: string; experimental: boolean; upstream: string | null },
): void {
  db.prepare(
    'UPDATE rigs SET default_branch = ?, experimental = ?, upstream = ?, updated_at = ? WHERE name = ?',
  ).run(fields.defaultBranch, fields.experimental ? 1 : 0, fields.upstream, Date.now(), name);
}

export interface RigAgent {
  id: string;
  state: string;
  session: string | null;
}

export function rigAgents(db: Db, name: string): RigAgent[] {
  return db
    .prepare('SELECT id, state, session FROM agents WHERE rig = ? ORDER BY id')
    .all(name) as RigAgent[];
}

/** Deletes the rig's row and its agents' records (their history goes with them); prefixes are kept. */
export function deleteRigRow(db: Db, name: string): void {
  db.transaction(() => {
    db.prepare('DELETE FROM agents WHERE rig = ?').run(name);
    db.prepare('DELETE FROM rigs WHERE name = ?').run(name);
  }).immediate();
}
