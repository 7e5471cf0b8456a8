import { listRigRows } from '../town/rig-store';
import type { Controller, DaemonContext } from './controller';
import { deaconController } from './controllers/deacon';
import { refineryController } from './controllers/refinery';
import { schedulerController } from './controllers/scheduler';
import { witnessController } from './controllers/witness';
import type { Supervisor } from './supervisor';

/**
 * Which controllers the town needs right now: one Refinery and one Witness per rig, one scheduler and one
 * Deacon for the town. Re-evaluated on ledger changes, so `gt rig add/remove` needs no daemon restart.
 */
export type ControllerFactory = (ctx: DaemonContext) => Controller;

export interface TownControllers {
  perRig: Array<{ prefix: string; make: (ctx: DaemonContext, rig: string) => Controller }>;
  town: Array<{ name: string; make: ControllerFactory }>;
}

export const DEFAULT_CONTROLLERS: TownControllers = {
  perRig: [
    { prefix: 'refinery', make: refineryController },
    { prefix: 'witness', make: witnessController },
  ],
  town: [
    { name: 'scheduler', make: schedulerController },
    { name: 'deacon', make: deaconController },
  ],
};

export async function syncControllers(
  ctx: DaemonContext,
  supervisor: Supervisor,
  controllers: TownControllers = DEFAULT_CONTROLLERS,
): Promise<void> {
  const rigs = listRigRows(ctx.store.db).map((r) => r.name);
  const wanted = new Set<string>();
  for (const { name, make } of controllers.town) {
    wanted.add(name);
    if (!supervisor.has(name)) supervisor.add(make(ctx));
  }
  for (const rig of rigs) {
    for (const { prefix, make } of controllers.perRig) {
      const name = `${prefix}:${rig}`;
      wanted.add(name);
      if (!supervisor.has(name)) supervisor.add(make(ctx, rig));
    }
  }
  for (const name of supervisor.names()) {
    if (!wanted.has(name)) await supervisor.remove(name);
  }
}
