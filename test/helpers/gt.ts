import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { listProcesses, processTree } from '../../src/runtime/proctree';
import { BD_BIN } from './bd';

/**
 * A sandbox for integration tests of the real `gt` binary: its own HOME and global git config (so the
 * developer's git settings cannot leak in), an explicit git identity, and helpers for real git repos.
 */
export const GT_BIN = resolve(import.meta.dirname, '../../bin/gt.js');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Sandbox {
  /** Short temp root (tmux socket paths must stay short). */
  dir: string;
  env: NodeJS.ProcessEnv;
  gt: (args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }) => Promise<Run>;
  /** Runs gt with --json, asserting success, and parses stdout. */
  gtJson: <T = Record<string, unknown>>(args: string[], options?: { cwd?: string }) => Promise<T>;
  git: (args: string[], cwd: string, env?: NodeJS.ProcessEnv) => string;
  gitRun: (args: string[], cwd: string, env?: NodeJS.ProcessEnv) => Run;
  /** Creates a git repository with the given files committed on `main`. */
  makeRepo: (name: string, files: Record<string, string>) => string;
  cleanup: () => void;
}

const SCRUB = [
  'GT_TOWN',
  'GT_RIG',
  'GT_ROLE',
  'GT_AGENT',
  'BD_ACTOR',
  'BEADS_DIR',
  'BD_JSON',
  'TMUX',
  'GT_REFINERY_TOKEN',
  'NODE_TEST_CONTEXT', // set by node:test in test files; a gate's `node --test` would then exit 0 even when red
];

/**
 * Kills every process started for this sandbox (a session launcher names its town's files on its command
 * line) with all its descendants: a sim scripted to hang ignores the SIGHUP of tmux kill-server.
 */
function killProcessesUnder(dir: string): void {
  const procs = listProcesses();
  for (const p of procs) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (p.pid === process.pid || !cmdline.includes(dir)) continue;
    for (const pid of processTree(p.pid, procs)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
}

export function makeSandbox(): Sandbox {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'gtt-')));
  const home = join(dir, 'home');
  mkdirSync(home);
  const gitconfig = join(home, '.gitconfig');
  writeFileSync(
    gitconfig,
    '[user]\n\tname = Test User\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n',
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    GIT_CONFIG_GLOBAL: gitconfig,
    GIT_CONFIG_NOSYSTEM: '1',
  };
  for (const name of SCRUB) delete env[name];
  for (const name of Object.keys(env))
    if (name.startsWith('GIT_') && !['GIT_CONFIG_GLOBAL', 'GIT_CONFIG_NOSYSTEM'].includes(name))
      delete env[name];

  const gt: Sandbox['gt'] = (args, options = {}) =>
    new Promise((done) => {
      execFile(
        process.execPath,
        [GT_BIN, ...args],
        { cwd: options.cwd ?? dir, env: { ...env, ...options.env }, maxBuffer: 32 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          done({ code, stdout, stderr });
        },
      );
    });
  const gtJson: Sandbox['gtJson'] = async (args, options = {}) => {
    const result = await gt([...args, '--json'], options);
    if (result.code !== 0) throw new Error(`gt ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };
  const gitRun: Sandbox['gitRun'] = (args, cwd, extra = {}) => {
    try {
      const stdout = execFileSync('git', args, {
        cwd,
        env: { ...env, ...extra },
        encoding: 'utf8',
        stdio: 'pipe',
      });
      return { code: 0, stdout, stderr: '' };
    } catch (error) {
      const e = error as { status?: number; stdout?: string; stderr?: string };
      return { code: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
  const git: Sandbox['git'] = (args, cwd, extra = {}) => {
    const result = gitRun(args, cwd, extra);
    if (result.code !== 0) throw new Error(`git ${args.join(' ')} failed in ${cwd}: ${result.stderr}`);
    return result.stdout.trim();
  };
  const makeRepo: Sandbox['makeRepo'] = (name, files) => {
    const repo = join(dir, name);
    mkdirSync(repo, { recursive: true });
    git(['init', '--quiet'], repo);
    git(['symbolic-ref', 'HEAD', 'refs/heads/main'], repo);
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(dirname(join(repo, file)), { recursive: true });
      writeFileSync(join(repo, file), content);
    }
    git(['add', '-A'], repo);
    git(['commit', '--quiet', '--allow-empty', '-m', 'initial'], repo);
    return repo;
  };
  const cleanup = () => {
    killProcessesUnder(dir);
    try {
      execFileSync('tmux', ['-S', join(dir, 'town', '.gt', 'tmux.sock'), 'kill-server'], { stdio: 'ignore' });
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, env, gt, gtJson, git, gitRun, makeRepo, cleanup };
}

/** A sandbox with a town at `<dir>/town` (and optionally a rig `app` from a package.json repo). */
export async function makeTown(options: { rig?: boolean } = {}): Promise<Sandbox & { town: string }> {
  const sandbox = makeSandbox();
  const town = join(sandbox.dir, 'town');
  const install = await sandbox.gt(['install', town]);
  if (install.code !== 0) throw new Error(`gt install failed: ${install.stderr}`);
  if (options.rig) {
    const repo = sandbox.makeRepo('app-src', {
      'package.json': JSON.stringify({
        name: 'app',
        scripts: { test: 'node --test', lint: 'biome check .' },
      }),
      'package-lock.json': '{}',
    });
    const add = await sandbox.gt(['rig', 'add', 'app', repo], { cwd: town });
    if (add.code !== 0) throw new Error(`gt rig add failed: ${add.stderr}`);
  }
  return { ...sandbox, town };
}

/** `bd` run asynchronously in a town (so tmux sessions keep running meanwhile), and a bead factory for a rig. */
export function townBd(cwd: () => string, env: () => NodeJS.ProcessEnv, rig = 'app') {
  const bd = (args: string[]): Promise<Run> =>
    new Promise((done) => {
      execFile(process.execPath, [BD_BIN, ...args], { cwd: cwd(), env: env() }, (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      });
    });
  const createBead = async (title: string, description = ''): Promise<string> => {
    const args = ['create', title, '--rig', rig, '--silent'];
    if (description) args.push('-d', description);
    const r = await bd(args);
    if (r.code !== 0) throw new Error(`bd create failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  return { bd, createBead };
}
