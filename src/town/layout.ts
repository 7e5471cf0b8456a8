import { join } from 'node:path';
import { TOWN_STATE_DIR } from './paths';

/**
 * Where things live inside a town. One place so every subsystem agrees (see docs/towns-and-rigs.md).
 *
 *   <town>/town.toml            configuration
 *   <town>/mayor/               the Mayor's home and instruction file
 *   <town>/rigs/<rig>/          one project (see rigLayout)
 *   <town>/logs/                logs of controllers and sessions
 *   <town>/.gt/                 runtime state, never committed: ledger, secrets, locks, pids, tmux socket
 */
export const MAYOR_DIR = 'mayor';
export const RIGS_DIR = 'rigs';
export const LOGS_DIR = 'logs';

export function townLayout(root: string) {
  const state = join(root, TOWN_STATE_DIR);
  return {
    root,
    mayor: join(root, MAYOR_DIR),
    rigs: join(root, RIGS_DIR),
    logs: join(root, LOGS_DIR),
    state,
    locks: join(state, 'locks'),
    run: join(state, 'run'),
    attic: join(state, 'attic'),
    /** The Refinery's credential for pushing the default branch (0600). */
    refinerySecret: join(state, 'refinery.secret'),
    /** The town's own tmux server, so gt never touches the user's tmux. */
    tmuxSocket: join(state, 'tmux.sock'),
  };
}

export type TownLayout = ReturnType<typeof townLayout>;

/**
 * A rig's Refinery state outside the rig: its scratch folder (`.gt/refinery/<rig>/`), the scratch worktree
 * of each gate slot in it (`work`, `work-1`, …) and the lock only one Refinery per rig may hold. The
 * controller and `gt doctor` both use these, so they can never disagree about where the slots are.
 */
export function refineryPaths(root: string, rig: string) {
  const town = townLayout(root);
  const dir = join(town.state, 'refinery', rig);
  return {
    dir,
    slot: (n: number) => join(dir, n === 0 ? 'work' : `work-${n}`),
    lock: join(town.locks, `refinery-${rig}.lock`),
  };
}

/**
 *   rigs/<rig>/rig.toml       configuration (default branch, prefix, gate commands)
 *   rigs/<rig>/repo.git/      bare clone: the rig's origin for polecat branches; guards main with a hook
 *   rigs/<rig>/refinery/      the Refinery's clone of repo.git, on the default branch
 *   rigs/<rig>/polecats/      polecat worktrees
 *   rigs/<rig>/crew/          crew workspaces
 */
export function rigLayout(townRoot: string, name: string) {
  const dir = join(townRoot, RIGS_DIR, name);
  return {
    dir,
    /** Relative to the town root, as stored in the ledger so a town can be moved. */
    relative: join(RIGS_DIR, name),
    config: join(dir, 'rig.toml'),
    bare: join(dir, 'repo.git'),
    refinery: join(dir, 'refinery'),
    polecats: join(dir, 'polecats'),
    crew: join(dir, 'crew'),
  };
}

export type RigLayout = ReturnType<typeof rigLayout>;
