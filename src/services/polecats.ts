import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { GtError } from '../core/errors';
import { type Db, prepared } from '../ledger/open';
import type { AgentRow } from '../runtime/agent-rows';
import { loadRigConfigFile, loadTownConfig, maxPolecats } from '../town/config';
import { rigLayout, townLayout } from '../town/layout';
import { checkName } from '../town/names';

/**
 * Polecat identities: names from a themed pool (Mad Max: Fury Road), persistent rows in `agents` with
 * their work history in `agent_history`. Sessions and checkouts come and go; the identity stays.
 *
 * Polecat states (agents.state): idle (no hook, reusable), starting (being slung), working (session runs
 * on a hooked bead), done (submitted with gt done; holds its bead until the Refinery merges or rejects
 * it), stalled / zombie (set by the Witness), stopped (hooked, no session: `gt sling --no-start`, or
 * stopped by hand).
 */
export const POLECAT_NAMES: readonly string[] = [
  'nux',
  'slit',
  'ace',
  'capable',
  'toast',
  'dag',
  'cheedo',
  'furiosa',
  'max',
  'morsov',
  'keeper',
  'valkyrie',
  'rictus',
  'joe',
  'organic',
  'coma',
  'corpus',
  'scabrous',
  'miss-giddy',
  'glory',
  'angharad',
  'vuvalini',
  'immortan',
  'bullet',
  'doof',
  'splendid',
  'lonely',
  'peo',
  'gastown',
  'citadel',
];

/** States that occupy a polecat slot (capacity): the agent is (or is about to be) working on its hook. */
export const BUSY_STATES = ['starting', 'working', 'stalled'] as const;

/** Pool name i, then numbered rounds once the pool is used up: nux, …, nux-2, slit-2, … */
export function poolName(index: number): string {
  const base = POLECAT_NAMES[index % POLECAT_NAMES.length]!;
  const round = Math.floor(index / POLECAT_NAMES.length);
  return round === 0 ? base : `${base}-${round + 1}`;
}

export function polecatAddress(rig: string, name: string): string {
  return `${rig}/${name}`;
}

export function getAgent(db: Db, id: string): AgentRow | undefined {
  return prepared<[string], AgentRow>(db, 'SELECT * FROM agents WHERE id = ?').get(id);
}

export function agentHolding(db: Db, beadId: string): AgentRow | undefined {
  return prepared<[string], AgentRow>(db, 'SELECT * FROM agents WHERE hooked_bead = ?').get(beadId);
}

/** Working polecats in the town and in one rig (capacity accounting). */
export function busyPolecats(db: Db, rig: string): { town: number; rig: number } {
  const states = BUSY_STATES.map(() => '?').join(',');
  const town = prepared<string[], number>(
    db,
    `SELECT count(*) FROM agents WHERE role = 'polecat' AND state IN (${states})`,
  )
    .pluck()
    .get(...BUSY_STATES) as number;
  const inRig = prepared<string[], number>(
    db,
    `SELECT count(*) FROM agents WHERE role = 'polecat' AND rig = ? AND state IN (${states})`,
  )
    .pluck()
    .get(rig, ...BUSY_STATES) as number;
  return { town, rig: inRig };
}

export interface Capacity {
  town: number;
  rig: number | null;
}

/** `[scheduler] max_polecats` (town), and the per-rig cap: rig.toml's, else town `max_polecats_per_rig`. */
export function capacityFor(root: string, rig: string): Capacity {
  const town = loadTownConfig(root);
  const rigFile = rigLayout(root, rig).config;
  const rigConfig = existsSync(rigFile) ? loadRigConfigFile(rigFile) : undefined;
  return {
    town: maxPolecats(town),
    rig: rigConfig?.scheduler?.max_polecats ?? town.scheduler.max_polecats_per_rig ?? null,
  };
}

export function assertCapacity(db: Db, rig: string, capacity: Capacity): void {
  const busy = busyPolecats(db, rig);
  if (busy.town >= capacity.town) {
    throw new GtError(
      'GT_E_CAPACITY',
      `the town is at capacity: ${busy.town} of ${capacity.town} polecats are working`,
      {
        hint: "wait for a polecat to finish (gt agents), or raise it: 'gt config set scheduler.max_polecats <n>'",
        details: { working: busy.town, max: capacity.town, scope: 'town' },
      },
    );
  }
  if (capacity.rig !== null && busy.rig >= capacity.rig) {
    throw new GtError(
      'GT_E_CAPACITY',
      `rig ${rig} is at capacity: ${busy.rig} of ${capacity.rig} polecats are working`,
      {
        hint: `wait for a polecat to finish, or raise it: 'gt config set --rig ${rig} scheduler.max_polecats <n>'`,
        details: { working: busy.rig, max: capacity.rig, scope: 'rig' },
      },
    );
  }
}

/** Idle, unhooked polecats of a rig, oldest identity first: candidates for reuse. */
export function idlePolecats(db: Db, rig: string): AgentRow[] {
  return prepared<[string], AgentRow>(
    db,
    `SELECT * FROM agents WHERE role = 'polecat' AND rig = ? AND hooked_bead IS NULL
       AND state IN ('idle','stopped','done') ORDER BY created_at, id`,
  ).all(rig);
}

/** The first pool name of the rig with no agent row and no folder on disk. */
export function nextFreeName(db: Db, root: string, rig: string): string {
  const exists = prepared<[string], number>(db, 'SELECT 1 FROM agents WHERE id = ?').pluck();
  const polecats = rigLayout(root, rig).polecats;
  for (let i = 0; i < 10_000; i++) {
    const name = poolName(i);
    if (checkName('polecat', name)) continue;
    if (exists.get(polecatAddress(rig, name))) continue;
    if (existsSync(join(polecats, name))) continue;
    return name;
  }
  throw new GtError('GT_E_CAPACITY', `rig ${rig} has no free polecat name left`, {
    hint: 'remove old polecats whose work has landed',
  });
}

/** A worktree as stored on the agent row (relative to the town root) → absolute path. */
export function worktreePath(root: string, row: Pick<AgentRow, 'worktree'>): string | null {
  if (!row.worktree) return null;
  return isAbsolute(row.worktree) ? row.worktree : resolve(root, row.worktree);
}

export type Role = 'polecat' | 'crew' | 'mayor' | 'human';

export interface Identity {
  role: Role;
  /** The agent's address, or null for the human. */
  agent: string | null;
  rig: string | null;
  /** How it was found. */
  source: 'env' | 'cwd' | 'argument' | 'none';
}

/**
 * Who is asking: GT_ROLE / GT_AGENT from the session environment, else the working directory
 * (`rigs/<rig>/polecats/<name>/…` is that polecat, `rigs/<rig>/crew/<name>/…` that crew member,
 * `mayor/…` the Mayor), else the human.
 */
export function detectIdentity(root: string, env: NodeJS.ProcessEnv, cwd: string): Identity {
  const envRole = env.GT_ROLE?.trim();
  const envAgent = env.GT_AGENT?.trim() || env.BD_ACTOR?.trim();
  if (envRole && ['polecat', 'crew', 'mayor'].includes(envRole)) {
    const agent = envRole === 'mayor' ? 'mayor' : (envAgent ?? null);
    const rig = env.GT_RIG?.trim() || (agent?.includes('/') ? agent.split('/')[0]! : null);
    return { role: envRole as Role, agent, rig: envRole === 'mayor' ? null : rig, source: 'env' };
  }
  let real = cwd;
  let town = root;
  try {
    real = realpathSync(cwd);
    town = realpathSync(root);
  } catch {}
  const rel = relative(town, real);
  if (rel && !rel.startsWith('..') && !isAbsolute(rel)) {
    const parts = rel.split(sep);
    if (parts[0] === 'mayor') return { role: 'mayor', agent: 'mayor', rig: null, source: 'cwd' };
    if (parts[0] === 'rigs' && parts.length >= 4 && (parts[2] === 'polecats' || parts[2] === 'crew')) {
      const rig = parts[1]!;
      const name = parts[3]!;
      return {
        role: parts[2] === 'polecats' ? 'polecat' : 'crew',
        agent: polecatAddress(rig, name),
        rig,
        source: 'cwd',
      };
    }
  }
  if (envAgent === 'mayor') return { role: 'mayor', agent: 'mayor', rig: null, source: 'env' };
  return { role: 'human', agent: null, rig: null, source: 'none' };
}

export function mayorHome(root: string): string {
  return townLayout(root).mayor;
}
