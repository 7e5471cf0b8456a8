import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { ProgressMark } from '../core/health';
import { runGit } from '../git/git';
import type { AgentRow } from '../runtime/agent-rows';
import { isProcessAlive } from '../runtime/proctree';
import { providerFor, runtimeKind, sessionLogFile } from '../runtime/town-runtime';

/**
 * The Witness's evidence about one polecat (docs/daemon-witness.md). It runs every check_interval for up
 * to 30 polecats, so the common path spawns nothing:
 *   - liveness: the recorded pid (the session's launcher, which lives exactly as long as the agent) through
 *     /proc; the provider (tmux list-panes) is asked only when that pid looks dead;
 *   - the cheap mark: file sizes (session log, the sim's event log and usage transcript) and the branch
 *     head read from .git files, plus last_activity_at from the row;
 *   - the worktree's state costs a `git status`, so it is sampled only to confirm a stall before acting.
 */
export interface LivenessEvidence {
  session: boolean;
  process: boolean;
  /** True when the provider was asked (the pid looked dead). */
  confirmed: boolean;
}

export async function polecatLiveness(
  root: string,
  row: Pick<AgentRow, 'session' | 'pid' | 'runtime'>,
): Promise<LivenessEvidence> {
  if (!row.session) return { session: false, process: false, confirmed: false };
  if (row.pid && isProcessAlive(row.pid)) return { session: true, process: true, confirmed: false };
  const live = await providerFor(runtimeKind(row.runtime), root).liveness(row.session);
  return { session: live.session, process: live.processAlive, confirmed: true };
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The checkout's git directory: `.git` itself, or where a `gitdir:` file points (linked worktrees). */
export function gitDirOf(worktree: string): string {
  const dotGit = join(worktree, '.git');
  const text = readText(dotGit);
  if (text === null) return dotGit; // a directory (or missing)
  const m = /^gitdir:\s*(.+)\s*$/m.exec(text);
  if (!m) return dotGit;
  return isAbsolute(m[1]!) ? m[1]! : resolve(worktree, m[1]!);
}

/** HEAD's commit from git's files (no process): a loose ref, else packed-refs. Null when unreadable. */
export function readHead(gitDir: string): string | null {
  const head = readText(join(gitDir, 'HEAD'))?.trim();
  if (!head) return null;
  if (!head.startsWith('ref:')) return /^[0-9a-f]{40,64}$/.test(head) ? head : null;
  const ref = head.slice(4).trim();
  if (!/^refs\/[A-Za-z0-9._/-]+$/.test(ref) || ref.includes('..')) return null;
  // A linked worktree keeps its branch refs in the common dir.
  const common = readText(join(gitDir, 'commondir'))?.trim();
  const dirs = [gitDir, ...(common ? [isAbsolute(common) ? common : resolve(gitDir, common)] : [])];
  for (const dir of dirs) {
    const loose = readText(join(dir, ref))?.trim();
    if (loose && /^[0-9a-f]{40,64}$/.test(loose)) return loose;
  }
  for (const dir of dirs) {
    const packed = readText(join(dir, 'packed-refs'));
    if (!packed) continue;
    for (const line of packed.split('\n')) {
      const [sha, name] = line.split(' ');
      if (name === ref && sha && /^[0-9a-f]{40,64}$/.test(sha)) return sha;
    }
  }
  return null;
}

/** Where the sim agent writes its event log and usage transcript (docs/sim-agent.md). */
export function simFiles(gitDir: string): { log: string; transcript: string } {
  return { log: join(gitDir, 'gt-sim', 'sim.log'), transcript: join(gitDir, 'gt-sim', 'transcript.jsonl') };
}

/** Everything but the worktree's state (tree: null): file reads and stats only. */
export function cheapMark(
  root: string,
  row: Pick<AgentRow, 'session' | 'last_activity_at'>,
  worktree: string | null,
): ProgressMark {
  let head: string | null = null;
  let log = 0;
  let usage = 0;
  if (worktree) {
    const gitDir = gitDirOf(worktree);
    head = readHead(gitDir);
    const sim = simFiles(gitDir);
    log = fileSize(sim.log);
    usage = fileSize(sim.transcript);
  }
  return {
    head,
    tree: null,
    usage,
    activity: row.last_activity_at ?? null,
    out: row.session ? fileSize(sessionLogFile(root, row.session)) : 0,
    log,
  };
}

const MAX_TREE_ENTRIES = 2000;

/**
 * A hash of the worktree's uncommitted state: `git status` (no optional locks, so it never writes the
 * index) plus the size and mtime of each changed path, so editing an already-modified file counts too.
 * Null when git cannot say (the checkout is gone or broken).
 */
export async function treeHash(worktree: string): Promise<string | null> {
  // A missing cwd would make spawn fail as if git were missing.
  if (!existsSync(worktree)) return null;
  let r: Awaited<ReturnType<typeof runGit>>;
  try {
    r = await runGit(['--no-optional-locks', 'status', '--porcelain=v1', '-z', '--untracked-files=all'], {
      cwd: worktree,
      timeoutMs: 30_000,
    });
  } catch {
    return null;
  }
  if (r.code !== 0) return null;
  const hash = createHash('sha1');
  const entries = r.stdout.split('\0').filter(Boolean).slice(0, MAX_TREE_ENTRIES);
  for (const entry of entries) {
    hash.update(entry);
    const path = entry.length > 3 ? entry.slice(3) : '';
    if (!path) continue;
    try {
      const st = statSync(join(worktree, path));
      hash.update(`\0${st.size}:${st.mtimeMs}`);
    } catch {
      hash.update('\0-');
    }
    hash.update('\n');
  }
  return hash.digest('hex');
}
