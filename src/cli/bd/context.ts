import { userInfo } from 'node:os';
import { resolveActor } from '../../core/actor';
import { GtError } from '../../core/errors';
import { openLedger } from '../../ledger/open';
import { BeadQueries } from '../../ledger/queries';
import { BeadStore } from '../../ledger/store';
import { locateWorkspace, type Workspace } from '../../workspace/locate';
import { defaultRig, type RigRow } from '../../workspace/rig-of';

export interface GlobalOptions {
  db?: string;
  actor?: string;
}

export interface BdContext {
  workspace: Workspace;
  store: BeadStore;
  queries: BeadQueries;
}

export function openContext(globals: GlobalOptions, cwd = process.cwd(), env = process.env): BdContext {
  const workspace = locateWorkspace(cwd, env, globals.db);
  const db = openLedger(workspace.ledgerPath);
  const actor = resolveActor(env, () => userInfo().username, globals.actor);
  return { workspace, store: new BeadStore(db, actor), queries: new BeadQueries(db) };
}

/**
 * The rig `bd create` defaults to when neither --rig nor --prefix is given: GT_RIG, else the rig folder
 * around the working directory (see workspace/rig-of.ts). Null in a standalone project or at town level.
 * Only create uses it; list/ready/… never filter by rig implicitly (beads semantics: you see the ledger).
 */
export function implicitRig(
  ctx: BdContext,
  cwd = process.cwd(),
  env = process.env,
): { name: string; prefix: string } | null {
  if (ctx.workspace.kind !== 'town') return null;
  const rigs = ctx.store.db.prepare('SELECT name, prefix, path FROM rigs').all() as RigRow[];
  const found = defaultRig(ctx.workspace.root, cwd, env, rigs);
  if (found === null) return null;
  if ('unknown' in found) {
    throw new GtError(
      'GT_E_RIG_NOT_FOUND',
      `GT_RIG names rig '${found.unknown}', which this town does not have`,
      {
        hint: "pass --rig <rig> (see 'gt rig list') or --prefix <p>, or unset GT_RIG",
      },
    );
  }
  return { name: found.rig.name, prefix: found.rig.prefix };
}
