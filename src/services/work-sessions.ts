import { spawn } from 'node:child_process';
import type { Db } from '../ledger/open';
import { prepared } from '../ledger/open';
import type { AgentRow } from '../runtime/agent-rows';
import { isProcessAlive } from '../runtime/proctree';
import { providerFor, runtimeKind } from '../runtime/town-runtime';
import { getRigRow } from '../town/rig-store';
import { restartAgentSession } from './agent-sessions';
import { getAgent, worktreePath } from './polecats';

/**
 * Ending or restarting an agent's session from inside that session (`gt done`, `gt handoff` are run by
 * the agent itself). Killing the session kills its whole process tree — including the gt process asking
 * for it — so the work is handed to a detached helper (`gt _session-after <end|restart> <agent> <pid>`)
 * that waits for the asking process to exit and then acts. The helper is in its own process group and is
 * re-parented once gt exits, so it is not part of the tree it kills.
 */
export type AfterAction = 'end' | 'restart';

/** True when this process runs inside the agent's own session. */
export function insideSession(row: AgentRow, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(row.session) && env.GT_SESSION === row.session;
}

export function spawnAfterHelper(
  action: AfterAction,
  agent: string,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const gtScript = process.argv[1];
  if (!gtScript) return;
  const child = spawn(process.execPath, [gtScript, '_session-after', action, agent, String(process.pid)], {
    detached: true,
    stdio: 'ignore',
    env,
  });
  child.unref();
}

/** Identity variables sling gives a polecat session, recomputed for a restart. */
export function polecatSessionEnv(root: string, db: Db, row: AgentRow): Record<string, string> {
  const env: Record<string, string> = {};
  const worktree = worktreePath(root, row);
  if (worktree) env.GT_WORKTREE = worktree;
  if (row.rig) {
    const rig = getRigRow(db, row.rig);
    if (rig) env.GT_DEFAULT_BRANCH = rig.defaultBranch;
  }
  if (row.hooked_bead) env.GT_BEAD = row.hooked_bead;
  return env;
}

/** Ends a session now (from outside it). Keeps the agent's state; forgets the session. */
export async function endSession(root: string, db: Db, row: AgentRow): Promise<void> {
  if (!row.session) return;
  await providerFor(runtimeKind(row.runtime), root).kill(row.session);
  prepared(
    db,
    'UPDATE agents SET session = NULL, pid = NULL, updated_at = ? WHERE id = ? AND session IS ?',
  ).run(Date.now(), row.id, row.session);
}

/** The helper's body: wait for `pid` to exit (≤ 60 s), then end or restart the agent's session. */
export async function runAfterHelper(
  root: string,
  db: Db,
  action: AfterAction,
  agent: string,
  pid: number,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (isProcessAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 200));
  const row = getAgent(db, agent);
  if (!row) return;
  if (action === 'end') {
    // Only if nothing re-slung the agent meanwhile.
    if (row.state !== 'done' || !row.session) return;
    await endSession(root, db, row);
    return;
  }
  await restartAgentSession(root, db, row, { env: polecatSessionEnv(root, db, row) });
}
