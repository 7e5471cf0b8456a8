import { userInfo } from 'node:os';
import { resolveActor } from '../core/actor';
import { openLedger } from '../ledger/open';
import { BeadStore } from '../ledger/store';
import { findTownRoot } from '../town/locate-town';
import { townLedgerPath } from '../workspace/locate';

/** A town's ledger opened for one gt command (convoy, mail, escalate). */
export interface TownLedger {
  root: string;
  store: BeadStore;
  close: () => void;
}

export function openTownLedger(cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): TownLedger {
  const root = findTownRoot(cwd, env);
  const db = openLedger(townLedgerPath(root));
  const actor = resolveActor(env, () => userInfo().username);
  return { root, store: new BeadStore(db, actor), close: () => db.close() };
}

/** Runs `fn` with the town's ledger open, closing it afterwards. */
export async function withTownLedger<T>(fn: (town: TownLedger) => Promise<T> | T): Promise<T> {
  const town = openTownLedger();
  try {
    return await fn(town);
  } finally {
    town.close();
  }
}
