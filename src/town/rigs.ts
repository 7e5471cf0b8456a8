import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { GtError } from '../core/errors';
import { derivePrefix, validatePrefix } from '../core/ids';
import { git, runGit } from '../git/git';
import { inspectProtectedMain, installProtectedMain } from '../git/protected-main';
import { type Db, openLedger } from '../ledger/open';
import { townLedgerPath } from '../workspace/locate';
import { writeFileAtomic } from './atomic';
import { BRANCH_PATTERN, loadRigConfigFile, loadTownConfig, type RigConfig } from './config';
import { type Detection, detectGates } from './detect';
import { type RigLayout, rigLayout, townLayout } from './layout';
import { validateName } from './names';
import {
  deleteRigRow,
  getRigRow,
  insertRigRow,
  listRigRows,
  prefixesInUse,
  type RigRow,
  requireRigRow,
  rigAgents,
  setRigParked,
} from './rig-store';
import { readRefinerySecret } from './secret';
import { rigTomlText } from './templates';

/** Pushes of an experimental rig's repo to this URL fail: such a rig never reaches its upstream. */
export const EXPERIMENTAL_PUSH_URL = 'gt-experimental-rig-never-pushes-upstream';

export interface Rig {
  row: RigRow;
  config: RigConfig;
  layout: RigLayout;
}

export function withTownLedger<T>(townRoot: string, work: (db: Db) => T): T {
  const db = openLedger(townLedgerPath(townRoot));
  try {
    return work(db);
  } finally {
    db.close();
  }
}

/** A rig's ledger row, validated rig.toml and paths: what the Refinery, Witness and sling use. */
export function loadRig(townRoot: string, name: string): Rig {
  const row = withTownLedger(townRoot, (db) => requireRigRow(db, name));
  const layout = rigLayout(townRoot, name);
  return { row, config: loadRigConfigFile(layout.config), layout };
}

export interface AddRigOptions {
  name: string;
  source: string;
  branch?: string;
  prefix?: string;
  experimental?: boolean;
  cwd?: string;
}

export interface AddRigEvents {
  /** A step started ("cloning …"). */
  phase?: (message: string) => void;
  /** Raw git progress output while cloning. */
  gitProgress?: (chunk: string) => void;
}

export interface AddRigResult {
  name: string;
  path: string;
  prefix: string;
  upstream: string;
  defaultBranch: string;
  experimental: boolean;
  commands: Detection['commands'];
  notes: string[];
}

const URL_LIKE = /^([a-z][a-z0-9+.-]*:\/\/|[^/\s]+@[^/\s]+:)/i;

/** A git URL is kept as given; anything else is a local path that must exist. */
export function resolveSource(source: string, cwd: string): string {
  if (source.length === 0 || source.startsWith('-')) {
    throw new GtError('GT_E_INVALID_INPUT', `repository '${source}' is not a git URL or path`, {
      hint: 'give a URL such as https://github.com/me/app.git or a path such as ./app (use ./-name for odd paths)',
    });
  }
  if (URL_LIKE.test(source)) return source;
  const path = isAbsolute(source) ? source : resolve(cwd, source);
  if (!existsSync(path)) {
    throw new GtError('GT_E_NOT_FOUND', `repository path ${path} does not exist`, {
      hint: 'check the path, or give a git URL',
    });
  }
  return path;
}

function choosePrefix(db: Db, name: string, explicit: string | undefined): string {
  const taken = prefixesInUse(db);
  if (explicit !== undefined) {
    validatePrefix(explicit);
    if (taken.has(explicit)) {
      throw new GtError('GT_E_RIG_EXISTS', `bead prefix '${explicit}' is already used in this town`, {
        hint: `prefixes in use: ${[...taken].sort().join(', ')}; choose another with --prefix`,
      });
    }
    return explicit;
  }
  const base = derivePrefix(name);
  if (!taken.has(base)) return base;
  for (let n = 2; n < 100; n++) {
    const candidate = `${base.slice(0, 18)}${n}`;
    if (!taken.has(candidate)) return candidate;
  }
  throw new GtError('GT_E_RIG_EXISTS', `cannot derive a free bead prefix from '${name}'`, {
    hint: 'pass --prefix',
  });
}

/** Adds a rig: bare clone, protected main, Refinery clone, detected gates, rig.toml, ledger row. */
export async function addRig(
  townRoot: string,
  options: AddRigOptions,
  events: AddRigEvents = {},
): Promise<AddRigResult> {
  const name = validateName('rig', options.name);
  loadTownConfig(townRoot);
  if (options.branch !== undefined && !BRANCH_PATTERN.test(options.branch)) {
    throw new GtError('GT_E_INVALID_INPUT', `invalid branch name '${options.branch}'`, {
      hint: 'use a plain branch name such as main or develop',
    });
  }
  const source = resolveSource(options.source, options.cwd ?? process.cwd());
  const token = readRefinerySecret(townRoot);
  const prefix = withTownLedger(townRoot, (db) => {
    if (getRigRow(db, name)) {
      throw new GtError('GT_E_RIG_EXISTS', `a rig named '${name}' already exists`, {
        hint: "pick another name, or 'gt rig remove' the old one first",
      });
    }
    return choosePrefix(db, name, options.prefix);
  });
  const layout = rigLayout(townRoot, name);
  mkdirSync(townLayout(townRoot).rigs, { recursive: true });
  try {
    // Creating the directory is the claim on the name: a concurrent add of the same rig fails here.
    mkdirSync(layout.dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new GtError('GT_E_RIG_EXISTS', `${layout.dir} already exists`, {
        hint: "it is not a registered rig: move it away (or run 'gt doctor'), then retry",
      });
    }
    throw error;
  }
  try {
    events.phase?.(`cloning ${source} into ${layout.bare} …`);
    const clone = await runGit(['clone', '--bare', '--progress', '--', source, layout.bare], {
      cwd: layout.dir,
      timeoutMs: 60 * 60_000,
      onStderr: events.gitProgress,
    });
    if (clone.code !== 0) {
      throw new GtError('GT_E_GIT', `cannot clone ${source}: ${lastLines(clone.stderr)}`, {
        hint: 'check the URL or path and your access to it (git never prompts for credentials here)',
      });
    }
    const bare = { cwd: layout.bare };
    await git(['remote', 'rename', 'origin', 'upstream'], bare);
    await git(['config', 'remote.upstream.fetch', '+refs/heads/*:refs/remotes/upstream/*'], bare);
    if (options.experimental) await git(['config', 'remote.upstream.pushurl', EXPERIMENTAL_PUSH_URL], bare);
    const defaultBranch = await chooseDefaultBranch(layout.bare, options.branch, source);
    await git(['symbolic-ref', 'HEAD', `refs/heads/${defaultBranch}`], bare);

    events.phase?.('installing the protected-main hook …');
    await installProtectedMain(layout.bare, defaultBranch, token);

    events.phase?.(`creating the Refinery's clone at ${layout.refinery} …`);
    await git(['clone', '--quiet', '--branch', defaultBranch, '--', layout.bare, layout.refinery], {
      cwd: layout.dir,
    });
    mkdirSync(layout.polecats);
    mkdirSync(layout.crew);

    const detection = detectGates(readRepoFacts(layout.refinery));
    const experimental = Boolean(options.experimental);
    writeFileAtomic(
      layout.config,
      rigTomlText(name, {
        defaultBranch,
        prefix,
        upstream: source,
        experimental,
        commands: detection.commands,
        detectedFrom: [...new Set(Object.values(detection.commands).map((c) => c.source))],
      }),
    );
    // Validate what we wrote: a detection bug must not leave a rig whose config cannot load.
    loadRigConfigFile(layout.config);
    withTownLedger(townRoot, (db) =>
      insertRigRow(db, {
        name,
        prefix,
        path: layout.relative,
        upstream: source,
        defaultBranch,
        experimental,
      }),
    );
    return {
      name,
      path: layout.dir,
      prefix,
      upstream: source,
      defaultBranch,
      experimental,
      commands: detection.commands,
      notes: detection.notes,
    };
  } catch (error) {
    // Nothing here holds work yet: the rig directory was created by this call.
    rmSync(layout.dir, { recursive: true, force: true });
    throw error;
  }
}

async function chooseDefaultBranch(
  bareRepo: string,
  requested: string | undefined,
  source: string,
): Promise<string> {
  const branches = (await git(['for-each-ref', '--format=%(refname:short)', 'refs/heads'], { cwd: bareRepo }))
    .split('\n')
    .filter(Boolean);
  if (branches.length === 0) {
    throw new GtError('GT_E_GIT', `${source} has no branches (an empty repository)`, {
      hint: 'make a first commit on the default branch upstream, then add the rig',
    });
  }
  if (requested !== undefined) {
    if (!branches.includes(requested)) {
      throw new GtError('GT_E_GIT', `${source} has no branch '${requested}'`, {
        hint: `branches: ${branches.slice(0, 10).join(', ')}${branches.length > 10 ? ', …' : ''}`,
      });
    }
    return requested;
  }
  const head = await runGit(['symbolic-ref', '--short', 'HEAD'], { cwd: bareRepo });
  const fromHead = head.stdout.trim();
  if (head.code === 0 && branches.includes(fromHead)) return fromHead;
  for (const candidate of ['main', 'master', 'trunk', 'develop'])
    if (branches.includes(candidate)) return candidate;
  return branches[0] as string;
}

export function readRepoFacts(dir: string) {
  const read = (file: string) => {
    const path = join(dir, file);
    return existsSync(path) && statSync(path).isFile() ? readFileSync(path, 'utf8') : undefined;
  };
  return {
    rootEntries: readdirSync(dir),
    packageJson: read('package.json'),
    makefile: read('Makefile') ?? read('makefile') ?? read('GNUmakefile'),
    pyproject: read('pyproject.toml'),
  };
}

function lastLines(text: string): string {
  return (
    text
      .split(/[\r\n]+/)
      .filter(
        (line) =>
          line.trim() &&
          !/^(Cloning|remote: (Counting|Compressing|Enumerating)|Receiving|Resolving)/.test(line),
      )
      .slice(-3)
      .join('; ') || 'git exited with an error'
  );
}

export interface RigSummary {
  name: string;
  prefix: string;
  path: string;
  defaultBranch: string;
  upstream: string | null;
  experimental: boolean;
  parked: boolean;
}

export function listRigs(townRoot: string): RigSummary[] {
  return withTownLedger(townRoot, (db) => listRigRows(db)).map((row) => rigSummary(townRoot, row));
}

function rigSummary(townRoot: string, row: ReturnType<typeof listRigRows>[number]): RigSummary {
  return {
    name: row.name,
    prefix: row.prefix,
    path: join(townRoot, row.path),
    defaultBranch: row.defaultBranch,
    upstream: row.upstream,
    experimental: row.experimental,
    parked: row.parked,
  };
}

export interface RigDetails extends RigSummary {
  config: RigConfig | null;
  configError: string | null;
  bareRepo: string;
  refinery: string;
  branches: string[];
  mainCommit: string | null;
  guardIntact: boolean;
  guardProblems: string[];
  agents: Array<{ id: string; state: string; session: string | null }>;
}

export async function showRig(townRoot: string, name: string): Promise<RigDetails> {
  const { row, agents } = withTownLedger(townRoot, (db) => ({
    row: requireRigRow(db, name),
    agents: rigAgents(db, name),
  }));
  const layout = rigLayout(townRoot, name);
  let config: RigConfig | null = null;
  let configError: string | null = null;
  try {
    config = loadRigConfigFile(layout.config);
  } catch (error) {
    configError = (error as Error).message;
  }
  let branches: string[] = [];
  let mainCommit: string | null = null;
  let guardProblems: string[] = [];
  if (existsSync(layout.bare)) {
    const refs = await runGit(['for-each-ref', '--format=%(refname:short)', 'refs/heads'], {
      cwd: layout.bare,
    });
    branches = refs.stdout.split('\n').filter(Boolean);
    const main = await runGit(['rev-parse', '--verify', '--quiet', `refs/heads/${row.defaultBranch}`], {
      cwd: layout.bare,
    });
    mainCommit = main.code === 0 ? main.stdout.trim() : null;
    let token: string | undefined;
    try {
      token = readRefinerySecret(townRoot);
    } catch {
      token = undefined;
    }
    guardProblems = (await inspectProtectedMain(layout.bare, row.defaultBranch, token)).map((p) => p.message);
  } else {
    guardProblems = [`bare repository ${layout.bare} is missing`];
  }
  return {
    name: row.name,
    prefix: row.prefix,
    path: layout.dir,
    defaultBranch: row.defaultBranch,
    upstream: row.upstream,
    experimental: row.experimental,
    parked: row.parked,
    config,
    configError,
    bareRepo: layout.bare,
    refinery: layout.refinery,
    branches,
    mainCommit,
    guardIntact: guardProblems.length === 0,
    guardProblems,
    agents,
  };
}

export function parkRig(townRoot: string, name: string, parked: boolean): RigSummary {
  return rigSummary(
    townRoot,
    withTownLedger(townRoot, (db) => setRigParked(db, name, parked)),
  );
}

export interface UnmergedItem {
  kind: 'branch' | 'uncommitted' | 'unpushed' | 'active-agent';
  where: string;
  detail: string;
}

/** Work in a rig that exists nowhere else: branches not on main, dirty or unpushed checkouts, live agents. */
export async function findUnmergedWork(townRoot: string, row: RigRow): Promise<UnmergedItem[]> {
  const layout = rigLayout(townRoot, row.name);
  const items: UnmergedItem[] = [];
  if (existsSync(layout.bare)) {
    const mainRef = `refs/heads/${row.defaultBranch}`;
    const hasMain =
      (await runGit(['rev-parse', '--verify', '--quiet', mainRef], { cwd: layout.bare })).code === 0;
    const args = ['for-each-ref', '--format=%(refname:short)'];
    if (hasMain) args.push(`--no-merged=${mainRef}`);
    args.push('refs/heads');
    const listed = await runGit(args, { cwd: layout.bare });
    if (listed.code !== 0)
      throw new GtError('GT_E_GIT', `cannot list branches of ${layout.bare}: ${listed.stderr.trim()}`);
    for (const branch of listed.stdout.split('\n').filter(Boolean)) {
      if (branch === row.defaultBranch) continue;
      items.push({
        kind: 'branch',
        where: layout.bare,
        detail: `branch ${branch} has commits not on ${row.defaultBranch}`,
      });
    }
  }
  for (const checkout of checkoutsOf(layout)) {
    const status = await runGit(['status', '--porcelain'], { cwd: checkout });
    if (status.code !== 0) continue;
    if (status.stdout.trim()) {
      items.push({ kind: 'uncommitted', where: checkout, detail: 'uncommitted changes' });
    }
    const isClone = statSync(join(checkout, '.git')).isDirectory();
    // A clone's local commits are safe once on a remote; a linked worktree's once on any branch.
    const unpushed = isClone
      ? await runGit(['rev-list', '--max-count=1', '--branches', '--not', '--remotes'], { cwd: checkout })
      : await runGit(['rev-list', '--max-count=1', 'HEAD', '--not', '--branches'], { cwd: checkout });
    if (unpushed.code === 0 && unpushed.stdout.trim()) {
      items.push({ kind: 'unpushed', where: checkout, detail: 'commits that were never pushed to the rig' });
    }
  }
  const agents = withTownLedger(townRoot, (db) => rigAgents(db, row.name));
  for (const agent of agents) {
    if (['starting', 'working', 'stalled'].includes(agent.state)) {
      items.push({ kind: 'active-agent', where: agent.id, detail: `agent is ${agent.state}` });
    }
  }
  return items;
}

/** The refinery clone and every checkout under polecats/ and crew/ (one or two levels deep). */
export function checkoutsOf(layout: RigLayout): string[] {
  const found: string[] = [];
  const isCheckout = (dir: string) => existsSync(join(dir, '.git'));
  if (isCheckout(layout.refinery)) found.push(layout.refinery);
  for (const parent of [layout.polecats, layout.crew]) {
    if (!existsSync(parent)) continue;
    for (const entry of readdirSync(parent, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(parent, entry.name);
      if (isCheckout(dir)) {
        found.push(dir);
        continue;
      }
      for (const inner of readdirSync(dir, { withFileTypes: true })) {
        if (inner.isDirectory() && isCheckout(join(dir, inner.name))) found.push(join(dir, inner.name));
      }
    }
  }
  return found;
}

export interface RemoveRigResult {
  name: string;
  removed: boolean;
  /** Where the rig was moved to keep unmerged work, when it had any. */
  keptAt: string | null;
  unmerged: UnmergedItem[];
}

/**
 * Removes a rig. Refuses while unmerged work exists unless `force`; even then nothing unmerged is deleted:
 * the rig directory (bare repo with its branches, dirty checkouts) is moved to .gt/attic/.
 */
export async function removeRig(townRoot: string, name: string, force: boolean): Promise<RemoveRigResult> {
  const row = withTownLedger(townRoot, (db) => requireRigRow(db, name));
  const unmerged = await findUnmergedWork(townRoot, row);
  if (unmerged.length > 0 && !force) {
    throw new GtError(
      'GT_E_UNMERGED_WORK',
      `rig '${name}' holds work that is not on ${row.defaultBranch}:\n${unmerged
        .map((item) => `  - ${item.where}: ${item.detail}`)
        .join('\n')}`,
      {
        hint: `land or abandon it first, or pass --force to unregister the rig and move it to ${join('.gt', 'attic')} (nothing unmerged is deleted)`,
        details: { unmerged },
      },
    );
  }
  const layout = rigLayout(townRoot, name);
  withTownLedger(townRoot, (db) => deleteRigRow(db, name));
  let keptAt: string | null = null;
  if (existsSync(layout.dir)) {
    if (unmerged.length > 0) {
      const attic = join(townLayout(townRoot).attic, 'rigs');
      mkdirSync(attic, { recursive: true });
      keptAt = join(attic, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      renameSync(layout.dir, keptAt);
      // Linked worktrees moved with the repo need their back-links fixed.
      await runGit(['worktree', 'repair'], { cwd: join(keptAt, 'repo.git') });
    } else {
      rmSync(layout.dir, { recursive: true, force: true });
    }
  }
  return { name, removed: true, keptAt, unmerged };
}
