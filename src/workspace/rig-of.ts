import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * Which rig a command "runs in", for `bd create`'s default rig (issue 6: a bead created inside a rig's
 * folder gets the rig's prefix). Kept free of the town config module and zod: bd runs thousands of
 * times and only needs the ledger's `rigs` rows (name, prefix, path relative to the town root).
 *
 * Order: `GT_RIG` (set in every rig agent's session; like GT_TOWN, the environment wins over the
 * folder), then the rig whose folder holds the working directory (`<town>/rigs/<rig>/…`, including
 * its polecat worktrees, refinery clone and crew workspaces). Outside any rig: null (town level).
 */
export interface RigRow {
  name: string;
  prefix: string;
  path: string;
}

export interface RigContext {
  rig: RigRow;
  /** What decided it, for messages: 'GT_RIG' or 'cwd'. */
  source: 'GT_RIG' | 'cwd';
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** The rig whose folder contains `cwd` (the deepest one, should rig folders ever nest), or null. */
export function rigForPath(townRoot: string, cwd: string, rigs: readonly RigRow[]): RigRow | null {
  const root = real(townRoot);
  const here = real(cwd);
  if (!isInside(root, here)) return null;
  let best: { rig: RigRow; depth: number } | null = null;
  for (const rig of rigs) {
    const dir = isAbsolute(rig.path) ? real(rig.path) : resolve(root, rig.path);
    if (!isInside(dir, here)) continue;
    const depth = dir.length;
    if (!best || depth > best.depth) best = { rig, depth };
  }
  return best?.rig ?? null;
}

/**
 * The default rig for a command in a town: GT_RIG when set (it must name a rig of this town; `undefined`
 * is returned for an unknown name so the caller can say so), else the rig folder around `cwd`.
 */
export function defaultRig(
  townRoot: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
  rigs: readonly RigRow[],
): RigContext | { unknown: string } | null {
  const fromEnv = env.GT_RIG?.trim();
  if (fromEnv) {
    const rig = rigs.find((r) => r.name === fromEnv);
    return rig ? { rig, source: 'GT_RIG' } : { unknown: fromEnv };
  }
  const rig = rigForPath(townRoot, cwd, rigs);
  return rig ? { rig, source: 'cwd' } : null;
}
