import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { GtError } from '../../core/errors';
import { parseGitVersion, runGit } from '../../git/git';
import { inspectProtectedMain, installProtectedMain } from '../../git/protected-main';
import { LATEST_LEDGER_VERSION } from '../../ledger/migrations';
import { openLedger } from '../../ledger/open';
import { townLedgerPath } from '../../workspace/locate';
import {
  formatIssues,
  type RigConfig,
  rigConfigSchema,
  townConfigPath,
  townConfigSchema,
  validateToml,
} from '../config';
import { applyRigIdentity } from '../config-edit';
import { rigLayout, townLayout } from '../layout';
import { findTownRoot } from '../locate-town';
import { listRigRows, type RigRow } from '../rig-store';
import { checkoutsOf } from '../rigs';
import { createRefinerySecret, readRefinerySecret, secretMode } from '../secret';
import {
  type CheckResult,
  compareVersions,
  MIN_VERSIONS,
  ownerPid,
  parseNodeVersion,
  parseTmuxVersion,
  type ReportedCheck,
  STALE_GIT_LOCK_MS,
  summarise,
} from './model';
import { refineryScratchCheck, scratchDirSpellings } from './scratch-check';
import { scratchSlot } from './scratch-model';

/**
 * `gt doctor`: every check yields pass/warn/fail with a hint; --fix runs the safe repairs (prune worktree
 * records, remove unused Refinery scratch worktrees, reinstall hooks, remove stale locks, kill orphaned
 * sessions), then checks again. No repair deletes a branch, a commit or a dirty checkout.
 */
export interface DoctorOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  fix: boolean;
}

export interface DoctorReport {
  town: string | null;
  ok: boolean;
  summary: { pass: number; warn: number; fail: number };
  checks: ReportedCheck[];
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  let town: string | null = null;
  let townError: GtError | null = null;
  try {
    town = findTownRoot(options.cwd, options.env);
  } catch (error) {
    if (!(error instanceof GtError)) throw error;
    townError = error;
  }
  let results = await collect(town, townError);
  const fixes = new Map<string, { fixed?: string; fixError?: string }>();
  // One repair can make another possible (a new credential lets guards be re-keyed): a few rounds.
  for (let round = 0; options.fix && round < 3; round++) {
    let ran = 0;
    for (const result of results) {
      if (result.status === 'pass' || !result.fix || fixes.has(result.id)) continue;
      ran++;
      try {
        fixes.set(result.id, { fixed: await result.fix() });
      } catch (error) {
        fixes.set(result.id, { fixError: (error as Error).message });
      }
    }
    if (ran === 0) break;
    results = await collect(town, townError);
  }
  const checks: ReportedCheck[] = results.map((result) => ({
    id: result.id,
    status: result.status,
    message: result.message,
    ...(result.hint ? { hint: result.hint } : {}),
    fixable: result.fix !== undefined,
    ...fixes.get(result.id),
  }));
  // A check that was fixed away may no longer be produced: report what was done.
  for (const [id, fix] of fixes) {
    if (!checks.some((check) => check.id === id)) {
      checks.push({ id, status: 'pass', message: 'repaired', fixable: false, ...fix });
    }
  }
  const summary = summarise(checks);
  return { town, ok: summary.fail === 0, summary, checks };
}

async function collect(town: string | null, townError: GtError | null): Promise<CheckResult[]> {
  const results: CheckResult[] = [...(await hostChecks())];
  if (!town) {
    results.push({
      id: 'town',
      status: 'fail',
      message: townError?.message ?? 'no town found',
      hint: townError?.hint ?? "run 'gt install <dir>'",
    });
    return results;
  }
  results.push(...townChecks(town));
  const ledger = ledgerCheck(town);
  results.push(ledger.result);
  if (!ledger.usable) return results;
  const db = openLedger(townLedgerPath(town));
  let rows: RigRow[];
  let agents: AgentRecord[];
  try {
    rows = listRigRows(db);
    agents = db
      .prepare('SELECT id, state, session, runtime, pid FROM agents WHERE session IS NOT NULL ORDER BY id')
      .all() as AgentRecord[];
  } finally {
    db.close();
  }
  let token: string | undefined;
  try {
    token = readRefinerySecret(town);
  } catch {
    token = undefined;
  }
  for (const row of rows) results.push(...(await rigChecks(town, row, token)));
  results.push(...unregisteredRigDirs(town, rows));
  results.push(...staleLockChecks(town, rows));
  results.push(...(await sessionChecks(town, agents)));
  return results;
}

// ---------------------------------------------------------------- host

function exec(command: string, args: string[]): Promise<{ ok: boolean; stdout: string; missing: boolean }> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', timeout: 10_000 }, (error, stdout) => {
      const missing = (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
      resolve({ ok: !error, stdout: stdout ?? '', missing });
    });
  });
}

async function hostChecks(): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const node = parseNodeVersion(process.versions.node);
  results.push(
    compareVersions(node, MIN_VERSIONS.node) >= 0
      ? { id: 'node', status: 'pass', message: `node ${process.versions.node} (>= 20)` }
      : {
          id: 'node',
          status: 'fail',
          message: `node ${process.versions.node} is too old`,
          hint: 'install Node.js 20 or newer',
        },
  );
  const [gitOut, tmuxOut] = await Promise.all([exec('git', ['--version']), exec('tmux', ['-V'])]);
  const gitVersion = parseGitVersion(gitOut.stdout);
  if (!gitOut.ok || !gitVersion) {
    results.push({
      id: 'git',
      status: 'fail',
      message: 'git is not installed or not on PATH',
      hint: 'install git 2.25 or newer',
    });
  } else if (compareVersions(gitVersion, MIN_VERSIONS.git) < 0) {
    results.push({
      id: 'git',
      status: 'fail',
      message: `git ${gitVersion.join('.')} is too old (worktrees need 2.25)`,
      hint: 'upgrade git',
    });
  } else {
    results.push({ id: 'git', status: 'pass', message: `git ${gitVersion.join('.')} (>= 2.25)` });
  }
  if (!tmuxOut.ok) {
    results.push({
      id: 'tmux',
      status: 'warn',
      message: 'tmux is not installed: interactive agent sessions are unavailable (headless runtime only)',
      hint: 'install tmux 3.0 or newer',
    });
  } else {
    const tmuxVersion = parseTmuxVersion(tmuxOut.stdout);
    if (tmuxVersion && compareVersions(tmuxVersion, MIN_VERSIONS.tmux) < 0) {
      results.push({
        id: 'tmux',
        status: 'fail',
        message: `${tmuxOut.stdout.trim()} is too old (need 3.0)`,
        hint: 'upgrade tmux',
      });
    } else {
      results.push({ id: 'tmux', status: 'pass', message: `${tmuxOut.stdout.trim()} (>= 3.0)` });
    }
  }
  return results;
}

// ---------------------------------------------------------------- town

function townChecks(town: string): CheckResult[] {
  const results: CheckResult[] = [];
  const file = townConfigPath(town);
  const validation = validateToml(file, readFileSync(file, 'utf8'), townConfigSchema);
  results.push(
    validation.ok
      ? { id: 'town-config', status: 'pass', message: `${relative(town, file)} is valid` }
      : {
          id: 'town-config',
          status: 'fail',
          message: `town config is invalid:\n${formatIssues(validation.issues)}`,
          hint: `edit ${file}`,
        },
  );
  const layout = townLayout(town);
  const missing = [layout.state, layout.mayor, layout.rigs, layout.logs, layout.locks, layout.run].filter(
    (dir) => !existsSync(dir),
  );
  results.push(
    missing.length === 0
      ? { id: 'town-layout', status: 'pass', message: 'town folders present' }
      : {
          id: 'town-layout',
          status: 'warn',
          message: `missing folders: ${missing.map((dir) => relative(town, dir)).join(', ')}`,
          fix: async () => {
            for (const dir of missing) mkdirSync(dir, { recursive: true });
            return `created ${missing.length} folder(s)`;
          },
        },
  );
  results.push(secretCheck(town));
  return results;
}

function secretCheck(town: string): CheckResult {
  const id = 'refinery-credential';
  const file = townLayout(town).refinerySecret;
  try {
    readRefinerySecret(town);
  } catch (error) {
    return {
      id,
      status: 'fail',
      message: (error as Error).message,
      hint: "'gt doctor --fix' creates a new credential and re-keys every rig's guard",
      fix: async () => {
        createRefinerySecret(town);
        return `created a new Refinery credential at ${file} (rig guards are re-keyed by their own checks)`;
      },
    };
  }
  const mode = secretMode(town) as number;
  if ((mode & 0o077) !== 0) {
    return {
      id,
      status: 'warn',
      message: `${file} is readable by others (mode ${mode.toString(8)})`,
      fix: async () => {
        chmodSync(file, 0o600);
        return 'set its mode to 600';
      },
    };
  }
  return { id, status: 'pass', message: 'Refinery credential present (mode 600)' };
}

interface LedgerState {
  result: CheckResult;
  usable: boolean;
}

function ledgerCheck(town: string): LedgerState {
  const id = 'ledger';
  let path: string;
  try {
    path = townLedgerPath(town);
  } catch (error) {
    return { result: { id, status: 'fail', message: (error as Error).message }, usable: false };
  }
  if (!existsSync(path)) {
    return {
      result: {
        id,
        status: 'fail',
        message: `no ledger at ${path}`,
        hint: 'restore it from a backup, or fix [ledger] path in town.toml (doctor never creates an empty one: that would hide lost data)',
      },
      usable: false,
    };
  }
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true, timeout: 30_000 });
  } catch (error) {
    return {
      result: { id, status: 'fail', message: `cannot open ${path}: ${(error as Error).message}` },
      usable: false,
    };
  }
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    const integrity = db.pragma('quick_check', { simple: true }) as string;
    if (integrity !== 'ok') {
      return {
        result: {
          id,
          status: 'fail',
          message: `ledger integrity check failed: ${integrity}`,
          hint: 'restore the ledger from a backup',
        },
        usable: false,
      };
    }
    if (version > LATEST_LEDGER_VERSION) {
      return {
        result: {
          id,
          status: 'fail',
          message: `ledger schema ${version} is newer than this gt (${LATEST_LEDGER_VERSION})`,
          hint: 'upgrade gt',
        },
        usable: false,
      };
    }
    if (version < LATEST_LEDGER_VERSION) {
      return {
        result: {
          id,
          status: 'warn',
          message: `ledger schema ${version} is behind (current ${LATEST_LEDGER_VERSION})`,
          hint: 'any gt command migrates it (a backup is kept)',
          fix: async () => {
            openLedger(path).close();
            return `migrated to schema ${LATEST_LEDGER_VERSION}`;
          },
        },
        usable: false,
      };
    }
    return {
      result: { id, status: 'pass', message: `ledger opens, schema ${version} is current, integrity ok` },
      usable: true,
    };
  } catch (error) {
    return {
      result: { id, status: 'fail', message: `cannot read ledger ${path}: ${(error as Error).message}` },
      usable: false,
    };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------- rigs

async function rigChecks(town: string, row: RigRow, token: string | undefined): Promise<CheckResult[]> {
  const layout = rigLayout(town, row.name);
  const prefix = `rig:${row.name}`;
  const results: CheckResult[] = [];
  if (!existsSync(layout.dir)) {
    return [
      {
        id: `${prefix}`,
        status: 'fail',
        message: `rig directory ${layout.dir} is missing`,
        hint: `restore it, or unregister the rig with 'gt rig remove ${row.name}'`,
      },
    ];
  }
  let config: RigConfig | undefined;
  if (!existsSync(layout.config)) {
    results.push({
      id: `${prefix}:config`,
      status: 'fail',
      message: `${layout.config} is missing`,
      hint: 'restore rig.toml',
    });
  } else {
    const validation = validateToml(layout.config, readFileSync(layout.config, 'utf8'), rigConfigSchema);
    if (validation.ok) {
      config = validation.value;
      results.push({ id: `${prefix}:config`, status: 'pass', message: 'rig.toml is valid' });
      if (!validation.value.commands.gate) {
        results.push({
          id: `${prefix}:gate`,
          status: 'warn',
          message: 'no [commands.gate] in rig.toml: the Refinery cannot merge anything',
          hint: `set one: gt config set --rig ${row.name} commands.gate.command "npm test"`,
        });
      }
    } else {
      results.push({
        id: `${prefix}:config`,
        status: 'fail',
        message: `rig.toml is invalid:\n${formatIssues(validation.issues)}`,
        hint: `edit ${layout.config}`,
      });
    }
  }
  const defaultBranch = config?.default_branch ?? row.defaultBranch;
  if (config) {
    const drift: string[] = [];
    if (config.default_branch !== row.defaultBranch) drift.push('default_branch');
    if (config.experimental !== row.experimental) drift.push('experimental');
    if ((config.upstream ?? null) !== row.upstream) drift.push('upstream');
    if (config.prefix !== row.prefix) {
      results.push({
        id: `${prefix}:prefix`,
        status: 'fail',
        message: `rig.toml prefix '${config.prefix}' differs from the ledger's '${row.prefix}'`,
        hint: `set prefix = "${row.prefix}" in ${layout.config} (a rig's prefix cannot change)`,
      });
    }
    if (drift.length > 0) {
      const synced = config;
      results.push({
        id: `${prefix}:sync`,
        status: 'warn',
        message: `ledger differs from rig.toml in: ${drift.join(', ')}`,
        fix: async () => {
          await applyRigIdentity(town, row.name, synced);
          return 'updated the ledger and bare repo from rig.toml';
        },
      });
    }
  }

  // The bare repository and its guard.
  const bare = await runGit(['rev-parse', '--is-bare-repository'], {
    cwd: existsSync(layout.bare) ? layout.bare : layout.dir,
  });
  if (!existsSync(layout.bare) || bare.code !== 0 || bare.stdout.trim() !== 'true') {
    results.push({
      id: `${prefix}:repo`,
      status: 'fail',
      message: `bare repository ${layout.bare} is missing or broken`,
      hint: 'restore it from a backup; polecat branches live there',
    });
    return results;
  }
  const main = await runGit(['rev-parse', '--verify', '--quiet', `refs/heads/${defaultBranch}`], {
    cwd: layout.bare,
  });
  results.push(
    main.code === 0
      ? {
          id: `${prefix}:repo`,
          status: 'pass',
          message: `bare repo ok, ${defaultBranch} at ${main.stdout.trim().slice(0, 12)}`,
        }
      : {
          id: `${prefix}:repo`,
          status: 'fail',
          message: `bare repo has no branch ${defaultBranch}`,
          hint: 'check default_branch in rig.toml',
        },
  );
  const problems = await inspectProtectedMain(layout.bare, defaultBranch, token);
  results.push(
    problems.length === 0
      ? { id: `${prefix}:guard`, status: 'pass', message: `protected-main hook installed and intact` }
      : {
          id: `${prefix}:guard`,
          status: 'fail',
          message: `main is not protected: ${problems.map((p) => p.message).join('; ')}`,
          hint: "'gt doctor --fix' reinstalls the hook and its settings",
          ...(token === undefined
            ? {}
            : {
                fix: async () => {
                  await installProtectedMain(layout.bare, defaultBranch, token);
                  return 'reinstalled the protected-main hook';
                },
              }),
        },
  );
  results.push(await refineryCheck(prefix, layout, defaultBranch));
  const scratchDirs = scratchDirSpellings(town, row.name);
  results.push(await worktreeRecordsCheck(prefix, [layout.bare, layout.refinery], scratchDirs));
  if (config) {
    const scratch = await refineryScratchCheck(
      town,
      row.name,
      layout,
      config.refinery?.gate_parallelism ?? 1,
    );
    if (scratch) results.push(scratch);
  }
  return results;
}

async function refineryCheck(
  prefix: string,
  layout: ReturnType<typeof rigLayout>,
  defaultBranch: string,
): Promise<CheckResult> {
  const id = `${prefix}:refinery`;
  if (!existsSync(layout.refinery)) {
    return {
      id,
      status: 'fail',
      message: `the Refinery's clone ${layout.refinery} is missing`,
      fix: async () => {
        const clone = await runGit(
          ['clone', '--quiet', '--branch', defaultBranch, '--', layout.bare, layout.refinery],
          {
            cwd: layout.dir,
          },
        );
        if (clone.code !== 0) throw new Error(clone.stderr.trim());
        return `re-created ${layout.refinery}`;
      },
    };
  }
  const inside = await runGit(['rev-parse', '--is-inside-work-tree'], { cwd: layout.refinery });
  if (inside.code !== 0 || inside.stdout.trim() !== 'true') {
    return {
      id,
      status: 'fail',
      message: `${layout.refinery} is not a git checkout`,
      hint: 'move it away; doctor --fix re-creates it',
    };
  }
  const origin = (
    await runGit(['config', '--get', 'remote.origin.url'], { cwd: layout.refinery })
  ).stdout.trim();
  if (origin !== layout.bare) {
    return {
      id,
      status: 'warn',
      message: `the Refinery's origin is '${origin}', not the rig's bare repo`,
      hint: 'happens when a town is moved',
      fix: async () => {
        const set = await runGit(['remote', 'set-url', 'origin', layout.bare], { cwd: layout.refinery });
        if (set.code !== 0) await runGit(['remote', 'add', 'origin', layout.bare], { cwd: layout.refinery });
        return `pointed origin at ${layout.bare}`;
      },
    };
  }
  return { id, status: 'pass', message: 'Refinery clone present' };
}

/** `scratchDirs`: records of Refinery scratch worktrees are left to the refinery-scratch check. */
async function worktreeRecordsCheck(
  prefix: string,
  repos: string[],
  scratchDirs: readonly string[],
): Promise<CheckResult> {
  const id = `${prefix}:worktrees`;
  const stale: Array<{ repo: string; lines: string[] }> = [];
  for (const repo of repos) {
    if (!existsSync(repo)) continue;
    const dry = await runGit(['worktree', 'prune', '--dry-run', '--verbose'], { cwd: repo });
    const lines = `${dry.stdout}\n${dry.stderr}`
      .split('\n')
      .filter((line) => /^Removing /.test(line.trim()))
      .filter((line) => !isScratchRecord(repo, line.trim(), scratchDirs));
    if (lines.length > 0) stale.push({ repo, lines });
  }
  if (stale.length === 0) return { id, status: 'pass', message: 'no stale worktree records' };
  const count = stale.reduce((n, s) => n + s.lines.length, 0);
  return {
    id,
    status: 'warn',
    message: `${count} stale worktree record(s): ${stale.flatMap((s) => s.lines.map((l) => l.trim())).join('; ')}`,
    hint: 'their directories are gone; the branches stay in the repo',
    fix: async () => {
      // Only the records go: branches and commits are untouched.
      for (const { repo } of stale) await runGit(['worktree', 'prune'], { cwd: repo });
      return `pruned ${count} stale worktree record(s)`;
    },
  };
}

/** Whether a `Removing worktrees/<id>: …` line of `git worktree prune --dry-run` is a scratch worktree's. */
function isScratchRecord(repo: string, line: string, scratchDirs: readonly string[]): boolean {
  const name = /^Removing worktrees\/([^:/]+):/.exec(line)?.[1];
  if (!name) return false;
  const gitDir = existsSync(join(repo, '.git')) ? join(repo, '.git') : repo;
  try {
    // The record's gitdir file names the worktree's .git file: <worktree>/.git.
    const dotGit = readFileSync(join(gitDir, 'worktrees', name, 'gitdir'), 'utf8').trim();
    return scratchSlot(scratchDirs, dirname(dotGit)) !== undefined;
  } catch {
    return false;
  }
}

function unregisteredRigDirs(town: string, rows: RigRow[]): CheckResult[] {
  const rigsDir = townLayout(town).rigs;
  if (!existsSync(rigsDir)) return [];
  const known = new Set(rows.map((row) => row.name));
  const strays = readdirSync(rigsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !known.has(entry.name))
    .map((entry) => entry.name);
  if (strays.length === 0) return [];
  return [
    {
      id: 'rigs:unregistered',
      status: 'warn',
      message: `folders under rigs/ that are not registered rigs: ${strays.join(', ')}`,
      hint: 'left over from an interrupted add or a manual copy; move them away after checking for work',
    },
  ];
}

// ---------------------------------------------------------------- locks and pids

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function walk(dir: string, skip: Set<string>, out: string[], depth = 0): void {
  if (depth > 6 || !existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skip.has(path)) walk(path, skip, out, depth + 1);
    } else if (entry.isFile() && /\.(lock|pid)$/.test(entry.name)) out.push(path);
  }
}

function staleLockChecks(town: string, rows: RigRow[]): CheckResult[] {
  const layout = townLayout(town);
  const candidates: string[] = [];
  walk(layout.state, new Set([layout.attic]), candidates);
  const stale: string[] = [];
  for (const file of candidates) {
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const pid = ownerPid(content);
    if (pid !== undefined && !isAlive(pid)) stale.push(file);
  }
  // Git's own lock files, left behind when a git process is killed mid-write.
  const now = Date.now();
  for (const row of rows) {
    const rig = rigLayout(town, row.name);
    const gitDirs = [rig.bare, ...checkoutsOf(rig).map((dir) => join(dir, '.git'))];
    for (const gitDir of gitDirs) {
      if (!existsSync(gitDir) || !statSync(gitDir).isDirectory()) continue;
      for (const name of ['index.lock', 'HEAD.lock', 'config.lock', 'packed-refs.lock', 'shallow.lock']) {
        const file = join(gitDir, name);
        if (existsSync(file) && now - statSync(file).mtimeMs > STALE_GIT_LOCK_MS) stale.push(file);
      }
    }
  }
  if (stale.length === 0)
    return [{ id: 'stale-locks', status: 'pass', message: 'no stale lock or pid files' }];
  return [
    {
      id: 'stale-locks',
      status: 'warn',
      message: `stale lock/pid files (owner gone): ${stale.map((file) => relative(town, file)).join(', ')}`,
      fix: async () => {
        for (const file of stale) unlinkSync(file);
        return `removed ${stale.length} stale file(s)`;
      },
    },
  ];
}

// ---------------------------------------------------------------- sessions

interface AgentRecord {
  id: string;
  state: string;
  session: string;
  runtime: string | null;
  pid: number | null;
}

function tmux(
  socket: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string; missing: boolean }> {
  return new Promise((resolve) => {
    execFile(
      'tmux',
      ['-S', socket, '-f', '/dev/null', ...args],
      { encoding: 'utf8', timeout: 10_000 },
      (error, stdout, stderr) => {
        const err = error as (NodeJS.ErrnoException & { code?: unknown }) | null;
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
          stdout: stdout ?? '',
          stderr: stderr ?? '',
          missing: err?.code === 'ENOENT',
        });
      },
    );
  });
}

async function sessionChecks(town: string, agents: AgentRecord[]): Promise<CheckResult[]> {
  const socket = townLayout(town).tmuxSocket;
  let live = new Set<string>();
  let tmuxKnown = true;
  if (existsSync(socket)) {
    const listed = await tmux(socket, ['list-sessions', '-F', '#{session_name}']);
    if (listed.missing) tmuxKnown = false;
    else if (listed.code === 0) live = new Set(listed.stdout.split('\n').filter(Boolean));
    // Otherwise: no server behind the socket, so no sessions.
  }
  const results: CheckResult[] = [];
  const recorded = new Set(agents.map((agent) => agent.session));
  const orphans = [...live].filter((name) => !recorded.has(name));
  results.push(
    orphans.length === 0
      ? { id: 'sessions:orphaned', status: 'pass', message: `no orphaned tmux sessions (${live.size} live)` }
      : {
          id: 'sessions:orphaned',
          status: 'warn',
          message: `tmux sessions on the town's socket with no agent record: ${orphans.join(', ')}`,
          fix: async () => {
            for (const name of orphans) await tmux(socket, ['kill-session', '-t', `=${name}`]);
            return `killed ${orphans.length} orphaned session(s)`;
          },
        },
  );
  const gone = agents.filter((agent) => {
    if (['idle', 'stopped', 'done'].includes(agent.state)) return false;
    if (agent.runtime === 'headless') return agent.pid !== null && !isAlive(agent.pid);
    return tmuxKnown && !live.has(agent.session);
  });
  results.push(
    gone.length === 0
      ? { id: 'sessions:agents', status: 'pass', message: 'every active agent record has a live session' }
      : {
          id: 'sessions:agents',
          status: 'warn',
          message: `agent records whose session is gone: ${gone.map((a) => `${a.id} (${a.state}, session ${a.session})`).join(', ')}`,
          hint: 'the Witness restarts them on the same hook and worktree; or restart one yourself',
        },
  );
  return results;
}
