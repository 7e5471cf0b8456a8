import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { GtError } from '../core/errors';
import { derivePrefix, validatePrefix } from '../core/ids';
import { runGit } from '../git/git';
import { openLedger } from '../ledger/open';
import { writeFileAtomic } from './atomic';
import { townConfigPath } from './config';
import { townLayout } from './layout';
import { findTownUpwards } from './locate-town';
import { DEFAULT_TOWN_LEDGER } from './paths';
import { createRefinerySecret } from './secret';
import { MAYOR_INSTRUCTIONS, TOWN_GITIGNORE, townTomlText } from './templates';

export interface InstallOptions {
  name?: string;
  prefix?: string;
  git?: boolean;
  /** Install into a non-empty directory. */
  force?: boolean;
}

export interface InstallResult {
  root: string;
  name: string;
  prefix: string;
  ledger: string;
  git: boolean;
  created: string[];
  warnings: string[];
}

/** Creates a town in `dir`. Refuses an existing town; on failure removes only what it created. */
export async function installTown(dir: string, options: InstallOptions = {}): Promise<InstallResult> {
  const root = resolve(dir);
  if (existsSync(townConfigPath(root))) {
    throw new GtError('GT_E_TOWN_EXISTS', `${root} is already a town (it has town.toml)`, {
      hint: "use the existing town (cd into it and run 'gt doctor'), or pick another directory",
    });
  }
  const existing = existsSync(root) ? readdirSync(root) : [];
  if (existing.length > 0 && !options.force) {
    throw new GtError('GT_E_DIR_NOT_EMPTY', `${root} is not empty (${existing.length} entries)`, {
      hint: 'choose an empty or new directory, or pass --force to create the town alongside the files there',
    });
  }
  const name = options.name ?? basename(root);
  const prefix = options.prefix !== undefined ? validatePrefix(options.prefix) : derivePrefix(name);
  const warnings: string[] = [];
  const outer = findTownUpwards(dirname(root));
  if (outer) warnings.push(`note: ${root} is inside another town (${outer}); commands use the nearest one`);

  const layout = townLayout(root);
  const created: string[] = [];
  const make = (path: string) => {
    if (!existsSync(path)) {
      mkdirSync(path, { recursive: true });
      created.push(path);
    }
  };
  const write = (path: string, content: string) => {
    writeFileSync(path, content, { flag: 'wx' });
    created.push(path);
  };
  const rootExisted = existsSync(root);
  try {
    make(root);
    for (const path of [layout.state, layout.mayor, layout.rigs, layout.logs, layout.locks, layout.run])
      make(path);
    // Runtime state (ledger, credential, sockets) is private to the user.
    chmodSync(layout.state, 0o700);
    write(join(layout.mayor, 'AGENTS.md'), MAYOR_INSTRUCTIONS);
    write(join(layout.mayor, 'CLAUDE.md'), '@AGENTS.md\n');
    createRefinerySecret(root);
    created.push(layout.refinerySecret);
    const ledgerPath = join(root, DEFAULT_TOWN_LEDGER);
    const db = openLedger(ledgerPath, { create: true });
    created.push(ledgerPath, `${ledgerPath}-wal`, `${ledgerPath}-shm`);
    try {
      db.prepare('INSERT OR REPLACE INTO config (key, value) VALUES (?, ?)').run('issue_prefix', prefix);
      db.prepare('INSERT OR IGNORE INTO prefixes (prefix) VALUES (?)').run(prefix);
    } finally {
      db.close();
    }
    // town.toml last: its presence is what makes this a town.
    writeFileAtomic(townConfigPath(root), townTomlText(name));
    created.push(townConfigPath(root));
    if (options.git) await initTownGit(root, created, warnings);
  } catch (error) {
    for (const path of created.reverse()) rmSync(path, { recursive: true, force: true });
    if (!rootExisted) rmSync(root, { recursive: true, force: true });
    throw error;
  }
  return {
    root,
    name,
    prefix,
    ledger: join(root, DEFAULT_TOWN_LEDGER),
    git: Boolean(options.git),
    created: created.filter((path) => !path.endsWith('-wal') && !path.endsWith('-shm')),
    warnings,
  };
}

async function initTownGit(root: string, created: string[], warnings: string[]): Promise<void> {
  const hadGit = existsSync(join(root, '.git'));
  const init = await runGit(['init', '--quiet'], { cwd: root });
  if (init.code !== 0) throw new GtError('GT_E_GIT', `git init failed in ${root}: ${init.stderr.trim()}`);
  if (!hadGit) {
    created.push(join(root, '.git'));
    // `git init -b` needs git 2.28; we support 2.25.
    await runGit(['symbolic-ref', 'HEAD', 'refs/heads/main'], { cwd: root });
  }
  const ignore = join(root, '.gitignore');
  if (!existsSync(ignore)) {
    writeFileSync(ignore, TOWN_GITIGNORE);
    created.push(ignore);
  }
  await runGit(['add', '--', 'town.toml', '.gitignore', 'mayor'], { cwd: root });
  const commit = await runGit(['commit', '--quiet', '-m', 'Create Gas Town'], { cwd: root });
  if (commit.code !== 0) {
    warnings.push(
      `note: the town's first commit was skipped (${commit.stderr.trim().split('\n').pop()}); commit it yourself`,
    );
  }
}
