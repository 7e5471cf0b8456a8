import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GtError } from '../core/errors';
import { createCrewCheckout, crewCheckoutPath, removeCrewCheckout } from '../git/crew-checkout';
import { git } from '../git/git';
import { unmergedCommits } from '../git/polecat-checkout';
import { type Db, prepared } from '../ledger/open';
import { nowMs, toRfc3339 } from '../ledger/time';
import type { AgentRow } from '../runtime/agent-rows';
import type { RoleAssignment } from '../runtime/config-schema';
import { providerFor, runtimeKind } from '../runtime/town-runtime';
import { rigLayout } from '../town/layout';
import { validateName } from '../town/names';
import { requireRigRow } from '../town/rig-store';
import { allocationFor, stopAgentSession } from './agent-sessions';
import { getAgent, polecatAddress, worktreePath } from './polecats';

/**
 * Crew: long-lived named workspaces in a rig, for a person or a persistent agent (DESIGN §3). A crew
 * member is an `agents` row with role `crew` and address `<rig>/<name>` — the same address space as the
 * rig's polecats, so a name is either a polecat or a crew member, never both — plus a workspace
 * `rigs/<rig>/crew/<name>` made like a polecat checkout (src/git/crew-checkout.ts). Beads are slung to it
 * with `gt sling <bead> <rig>/<name>`; each bead gets its own branch `crew/<name>/<bead>`.
 */
export interface CrewJson {
  id: string;
  rig: string;
  name: string;
  state: string;
  hooked_bead: string | null;
  branch: string | null;
  worktree: string | null;
  session: string | null;
  agent: string | null;
  model: string | null;
  created_at: string;
}

export function crewJson(root: string, row: AgentRow): CrewJson {
  return {
    id: row.id,
    rig: row.rig ?? '',
    name: row.name,
    state: row.state,
    hooked_bead: row.hooked_bead,
    branch: row.branch,
    worktree: worktreePath(root, row),
    session: row.session,
    agent: row.agent,
    model: row.model,
    created_at: toRfc3339(row.created_at),
  };
}

export interface AddCrewOptions {
  agent?: string;
  model?: string;
}

/** `gt crew add <rig> <name>`: the agent row (role crew, state idle) and its workspace. */
export async function addCrew(
  root: string,
  db: Db,
  rigName: string,
  name: string,
  options: AddCrewOptions = {},
): Promise<CrewJson & { base_sha: string }> {
  validateName('crew', name);
  const rig = requireRigRow(db, rigName);
  const id = polecatAddress(rig.name, name);
  const existing = getAgent(db, id);
  if (existing) {
    throw new GtError(
      'GT_E_INVALID_INPUT',
      `${id} already exists (a ${existing.role}): crew and polecats of a rig share one address space`,
      { hint: existing.role === 'crew' ? "see 'gt crew list'" : 'pick another crew name' },
    );
  }
  if (existsSync(join(rigLayout(root, rig.name).polecats, name))) {
    throw new GtError('GT_E_INVALID_INPUT', `rig ${rig.name} has a polecat folder named ${name}`, {
      hint: 'pick another crew name',
    });
  }
  // An unknown agent preset is refused before anything is made.
  const override: RoleAssignment = {
    ...(options.agent ? { agent: options.agent } : {}),
    ...(options.model ? { model: options.model } : {}),
  };
  const probe = { role: 'crew', rig: rig.name } as AgentRow;
  const alloc = allocationFor(root, probe, { override });
  const checkout = await createCrewCheckout(root, {
    rig: rig.name,
    name,
    defaultBranch: rig.defaultBranch,
  });
  const now = nowMs();
  try {
    prepared(
      db,
      `INSERT INTO agents (id, role, rig, name, state, worktree, branch, agent, model, created_at, updated_at)
       VALUES (?, 'crew', ?, ?, 'idle', ?, ?, ?, ?, ?, ?)`,
    ).run(
      id,
      rig.name,
      name,
      `${rigLayout(root, rig.name).relative}/crew/${name}`,
      checkout.branch,
      options.agent ? alloc.agent : null,
      options.model ? alloc.model : null,
      now,
      now,
    );
  } catch (error) {
    // The workspace is brand new and holds nothing: take it back.
    await removeCrewCheckout(root, rig.name, name, { defaultBranch: rig.defaultBranch }).catch(() => {});
    throw error;
  }
  return { ...crewJson(root, getAgent(db, id)!), base_sha: checkout.baseSha };
}

export function listCrew(root: string, db: Db, rig?: string): CrewJson[] {
  const rows = rig
    ? prepared<[string], AgentRow>(
        db,
        "SELECT * FROM agents WHERE role = 'crew' AND rig = ? ORDER BY rig, name",
      ).all(rig)
    : prepared<[], AgentRow>(db, "SELECT * FROM agents WHERE role = 'crew' ORDER BY rig, name").all();
  return rows.map((row) => crewJson(root, row));
}

export interface RemoveCrewResult {
  id: string;
  removed: boolean;
  workspace: string;
  workspace_removed: boolean;
  session_stopped: boolean;
}

/**
 * `gt crew remove <rig> <name>`: refuses (nothing changed) while a bead is on its hook and not closed, or
 * while its workspace holds uncommitted changes or commits that are not on main (GT_E_UNMERGED_WORK).
 * Then stops its session, removes the workspace and the record.
 */
export async function removeCrew(
  root: string,
  db: Db,
  rigName: string,
  name: string,
): Promise<RemoveCrewResult> {
  validateName('crew', name);
  const rig = requireRigRow(db, rigName);
  const id = polecatAddress(rig.name, name);
  const row = getAgent(db, id);
  if (row?.role !== 'crew') {
    throw new GtError('GT_E_NOT_FOUND', `no crew member ${id}${row ? ` (it is a ${row.role})` : ''}`, {
      hint: "see 'gt crew list'",
    });
  }
  if (row.hooked_bead) {
    const status = prepared<[string], string>(db, 'SELECT status FROM beads WHERE id = ?')
      .pluck()
      .get(row.hooked_bead);
    if (status && status !== 'closed') {
      throw new GtError('GT_E_AGENT_BUSY', `${id} has ${row.hooked_bead} (${status}) on its hook`, {
        hint: `finish it, or move it to someone else: gt sling ${row.hooked_bead} <target> --force`,
        details: { bead: row.hooked_bead, status },
      });
    }
  }
  const workspace = crewCheckoutPath(root, rig.name, name);
  // Checked before the session is touched: refusing must change nothing.
  let removed = { removed: false };
  let sessionStopped = false;
  if (existsSync(workspace)) {
    const dirty = (await git(['status', '--porcelain', '--untracked-files=all'], { cwd: workspace })).trim();
    const { unmerged } = await unmergedCommits(workspace, rig.defaultBranch);
    if (dirty || unmerged.length > 0) {
      // removeCrewCheckout states exactly what is in the way.
      await removeCrewCheckout(root, rig.name, name, { defaultBranch: rig.defaultBranch });
    }
  }
  if (row.session) {
    const live = await providerFor(runtimeKind(row.runtime), root).liveness(row.session);
    if (live.session || live.processAlive) {
      await stopAgentSession(root, db, row);
      sessionStopped = true;
    }
  }
  removed = await removeCrewCheckout(root, rig.name, name, { defaultBranch: rig.defaultBranch });
  prepared(db, 'DELETE FROM agents WHERE id = ?').run(id);
  return {
    id,
    removed: true,
    workspace,
    workspace_removed: removed.removed,
    session_stopped: sessionStopped,
  };
}
