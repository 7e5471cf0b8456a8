import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { GtError } from '../core/errors';
import { TOWN_CONFIG_FILE } from './paths';

/** The town a gt command runs in: GT_TOWN, else the nearest town.toml from `cwd` upwards. */
export function findTownRoot(cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.GT_TOWN) {
    const root = resolve(cwd, env.GT_TOWN);
    if (!existsSync(join(root, TOWN_CONFIG_FILE))) {
      throw new GtError('GT_E_NO_TOWN', `GT_TOWN points at ${root}, which has no ${TOWN_CONFIG_FILE}`, {
        hint: "fix or unset GT_TOWN, or create the town with 'gt install <dir>'",
      });
    }
    return root;
  }
  const found = findTownUpwards(cwd);
  if (!found) {
    throw new GtError('GT_E_NO_TOWN', `no town found from ${resolve(cwd)} upwards (no ${TOWN_CONFIG_FILE})`, {
      hint: "cd into your town, set GT_TOWN, or create one with 'gt install <dir>'",
    });
  }
  return found;
}

export function findTownUpwards(cwd: string): string | undefined {
  let dir = resolve(cwd);
  for (;;) {
    if (existsSync(join(dir, TOWN_CONFIG_FILE))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
