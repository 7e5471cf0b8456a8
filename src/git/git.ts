import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { GtError } from '../core/errors';

/**
 * A small git runner: arguments are always an argv array (never a shell string), the user's terminal is
 * never prompted for credentials, and writes to one repository are serialised within this process.
 */
export interface GitOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Kill git after this long (default 10 minutes: clones of large repos are slow). */
  timeoutMs?: number;
  input?: string;
  /** Called with stderr chunks as they arrive (clone progress). */
  onStderr?: (chunk: string) => void;
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

// Variables that would redirect git at another repository when gt itself runs inside a git hook.
const INHERITED_REPO_VARS = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR',
  'GIT_PREFIX',
];

export function gitEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of INHERITED_REPO_VARS) delete env[name];
  env.GIT_TERMINAL_PROMPT = '0';
  env.GCM_INTERACTIVE = 'never';
  return { ...env, ...extra };
}

/** Runs git and resolves with its exit code and output; never throws for a non-zero exit. */
export function runGit(args: readonly string[], options: GitOptions): Promise<GitResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('git', args as string[], {
      cwd: options.cwd,
      env: gitEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      options.onStderr?.(chunk);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT') {
        reject(
          new GtError('GT_E_TOOL_MISSING', 'git is not installed or not on PATH', {
            hint: 'install git 2.25 or newer',
          }),
        );
      } else reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) stderr += `\n(git timed out after ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms)`;
      resolvePromise({ code: code ?? 128, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** Runs git and returns trimmed stdout; a non-zero exit becomes GT_E_GIT naming the command. */
export async function git(args: readonly string[], options: GitOptions): Promise<string> {
  const result = await runGit(args, options);
  if (result.code !== 0) throw gitError(args, options.cwd, result);
  return result.stdout.trimEnd();
}

export function gitError(args: readonly string[], cwd: string, result: GitResult): GtError {
  const detail = result.stderr.trim().split('\n').slice(-5).join('\n') || `exit status ${result.code}`;
  return new GtError('GT_E_GIT', `git ${args.join(' ')} failed in ${cwd}: ${detail}`, {
    hint: 'see the git message above; fix the repository state and retry',
    details: { exitCode: result.code },
  });
}

const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `work` after every earlier `withRepoLock` on the same repository (in this process) has finished,
 * so two of our own operations never race on one repo's refs and index.
 */
export function withRepoLock<T>(repoPath: string, work: () => Promise<T>): Promise<T> {
  const key = resolve(repoPath);
  const previous = queues.get(key) ?? Promise.resolve();
  const next = previous.then(work, work);
  const settled = next.catch(() => undefined);
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return next;
}

/** Parses `git version 2.39.5 (Apple Git-143)` → [2, 39, 5]. */
export function parseGitVersion(output: string): number[] | undefined {
  const match = /git version (\d+)\.(\d+)(?:\.(\d+))?/.exec(output);
  if (!match) return undefined;
  return [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
}
