import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { GtError } from '../core/errors';
import { DEFAULT_TOWN_LEDGER, STANDALONE_LEDGER, TOWN_CONFIG_FILE } from '../town/paths';

export interface Workspace {
  kind: 'town' | 'standalone';
  root: string;
  ledgerPath: string;
}

/**
 * Finds the workspace a command runs in: --db, then GT_TOWN, then BEADS_DIR, then the nearest town.toml
 * or .beads/beads.db from the working directory upwards.
 */
export function locateWorkspace(cwd: string, env: NodeJS.ProcessEnv, dbOverride?: string): Workspace {
  if (dbOverride) {
    const ledgerPath = resolve(cwd, dbOverride);
    return { kind: 'standalone', root: dirname(ledgerPath), ledgerPath };
  }
  if (env.GT_TOWN) {
    const root = resolve(cwd, env.GT_TOWN);
    if (!existsSync(join(root, TOWN_CONFIG_FILE))) {
      throw new GtError('GT_E_NO_TOWN', `GT_TOWN points at ${root}, which has no ${TOWN_CONFIG_FILE}`, {
        hint: "fix or unset GT_TOWN, or create the town with 'gt install <dir>'",
      });
    }
    return townWorkspace(root);
  }
  if (env.BEADS_DIR) {
    const dir = resolve(cwd, env.BEADS_DIR);
    return { kind: 'standalone', root: dirname(dir), ledgerPath: join(dir, 'beads.db') };
  }
  let dir = resolve(cwd);
  for (;;) {
    if (existsSync(join(dir, TOWN_CONFIG_FILE))) return townWorkspace(dir);
    if (existsSync(join(dir, STANDALONE_LEDGER))) {
      return { kind: 'standalone', root: dir, ledgerPath: join(dir, STANDALONE_LEDGER) };
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new GtError('GT_E_NO_LEDGER', `no town or beads project found from ${resolve(cwd)} upwards`, {
    hint: "run 'bd init' here for a standalone project, 'gt install <dir>' for a town, or set GT_TOWN",
  });
}

export function townWorkspace(root: string): Workspace {
  return { kind: 'town', root, ledgerPath: townLedgerPath(root) };
}

/** The ledger path a town.toml names (`[ledger] path`), resolved against the town root. */
export function townLedgerPath(root: string): string {
  const configFile = join(root, TOWN_CONFIG_FILE);
  let configured: unknown;
  try {
    const parsed = parseToml(readFileSync(configFile, 'utf8')) as { ledger?: { path?: unknown } };
    configured = parsed.ledger?.path;
  } catch (error) {
    throw new GtError('GT_E_CONFIG', `cannot read ${configFile}: ${(error as Error).message}`, {
      hint: "fix the TOML syntax at the position shown, or run 'gt doctor'",
      cause: error,
    });
  }
  if (configured === undefined) return join(root, DEFAULT_TOWN_LEDGER);
  if (typeof configured !== 'string' || configured.length === 0) {
    throw new GtError('GT_E_CONFIG', `${configFile}: ledger.path must be a non-empty string`, {
      hint: 'e.g. [ledger] path = ".gt/ledger.db"',
    });
  }
  return isAbsolute(configured) ? configured : join(root, configured);
}
