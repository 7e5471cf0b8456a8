import { type Db, prepared } from '../ledger/open';
import { nowMs } from '../ledger/time';

/** One line of the town's activity trail (docs/daemon.md): what a controller or command did, and why. */
export interface ActivityInput {
  kind: string;
  actor: string;
  rig?: string | null;
  agent?: string | null;
  bead?: string | null;
  detail?: string;
}

export function recordActivity(db: Db, input: ActivityInput, at = nowMs()): void {
  prepared(
    db,
    'INSERT INTO activity (at, kind, actor, rig, agent, bead, detail) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(
    at,
    input.kind,
    input.actor,
    input.rig ?? null,
    input.agent ?? null,
    input.bead ?? null,
    (input.detail ?? '').slice(0, 2000),
  );
}
