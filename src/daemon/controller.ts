import type { Logger } from 'pino';
import type { BeadStore } from '../ledger/store';

/**
 * A daemon controller owns one kind of transition (docs/daemon.md). Each tick recomputes from the ledger
 * and the repositories — nothing is kept in memory that a restart would need — so kill -9 at any moment
 * and a restart converge.
 */
export interface Controller {
  /** 'refinery:<rig>', 'witness:<rig>', 'scheduler', 'deacon'. */
  readonly name: string;
  /** Longest sleep between ticks when nothing wakes it. */
  readonly intervalMs: number;
  /** One pass. Resolves true when it changed something (the other controllers are then woken). */
  tick(): Promise<boolean>;
  /** Called once when the daemon stops or the controller is removed. */
  close?(): Promise<void> | void;
}

export interface DaemonContext {
  root: string;
  store: BeadStore;
  log: Logger;
  env: NodeJS.ProcessEnv;
}
