import { userInfo } from 'node:os';
import { resolveActor } from '../../core/actor';
import { openLedger } from '../../ledger/open';
import { BeadQueries } from '../../ledger/queries';
import { BeadStore } from '../../ledger/store';
import { locateWorkspace, type Workspace } from '../../workspace/locate';

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
