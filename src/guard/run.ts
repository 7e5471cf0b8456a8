/**
 * The I/O side of `gt guard`: builds the GuardContext from the environment and the repository (GT_WORKTREE,
 * GT_TOWN, GT_RIG, GT_DEFAULT_BRANCH, the checkout's gt.defaultBranch, rig.toml), and answers a hook call.
 *
 * How HEAD is resolved: the guard runs `git symbolic-ref -q --short HEAD` in the directory the git command
 * would run in (the hook's cwd, after any `cd`/`git -C` in the line); a detached HEAD has no branch, and a
 * failure to read it makes the rules that need it refuse. The upstream comes from `branch.<b>.merge`.
 * Every git call is execFileSync with an argv array and a scrubbed environment.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { gitEnv } from '../git/git';
import { findTownUpwards } from '../town/locate-town';
import { formatAnswer, type HookAnswer, type HookProtocol, parseHookInput } from './hook-io';
import {
  type Decision,
  decide,
  decideCommand,
  type GuardContext,
  GuardInputError,
  type HeadInfo,
} from './policy';

const FALLBACK_PROTECTED = ['main', 'master'];

function gitOut(args: string[], cwd: string): { code: number; out: string } {
  try {
    const out = execFileSync('git', args, {
      cwd,
      env: gitEnv(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    });
    return { code: 0, out: out.trim() };
  } catch (error) {
    const e = error as { status?: number | null; stdout?: string };
    return { code: typeof e.status === 'number' ? e.status : 128, out: (e.stdout ?? '').trim() };
  }
}

/** realpath of the longest existing prefix of `path` (the rest appended unchanged). */
export function realpathPrefix(path: string): string {
  let head = path;
  const tail: string[] = [];
  for (;;) {
    try {
      const real = realpathSync(head);
      return tail.length === 0 ? real : join(real, ...tail.reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return path;
      tail.push(head.slice(parent.length + (parent.endsWith('/') ? 0 : 1)));
      head = parent;
    }
  }
}

export function headOf(dir: string): HeadInfo {
  const sym = gitOut(['symbolic-ref', '-q', '--short', 'HEAD'], dir);
  if (sym.code !== 0 && sym.code !== 1) return { known: false };
  if (sym.code === 1) {
    // Detached, or not a repository at all.
    const inside = gitOut(['rev-parse', '--is-inside-work-tree'], dir);
    return inside.code === 0 ? { known: true } : { known: false };
  }
  const branch = sym.out;
  const info: HeadInfo = { known: true, branch };
  // One git call for the upstream and the push settings that make a bare `git push` send more.
  const escaped = branch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const config = gitOut(
    ['config', '--get-regexp', `^(branch\\.${escaped}\\.merge|remote\\..*\\.(push|mirror)|push\\.default)$`],
    dir,
  );
  const risky: string[] = [];
  for (const line of config.code === 0 ? config.out.split('\n') : []) {
    const space = line.indexOf(' ');
    const key = line.slice(0, space).toLowerCase();
    const value = line.slice(space + 1);
    if (key === `branch.${branch.toLowerCase()}.merge`) info.upstream = value.replace(/^refs\/heads\//, '');
    else if (key === 'push.default' && /^(simple|current|nothing|upstream|tracking)$/i.test(value)) continue;
    else if (key.endsWith('.mirror') && /^false$/i.test(value)) continue;
    else if (!key.startsWith('branch.')) risky.push(line);
  }
  if (risky.length > 0) info.riskyPushConfig = risky;
  return info;
}

function aliasOf(dir: string, name: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(name)) return undefined;
  const r = gitOut(['config', '--get', `alias.${name}`], dir);
  return r.code === 0 ? r.out : undefined;
}

function protectedBranches(env: NodeJS.ProcessEnv, worktree: string, town: string | undefined): string[] {
  const fromEnv = (env.GT_DEFAULT_BRANCH ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (fromEnv.length > 0) return fromEnv;
  const fromCheckout = gitOut(['config', '--get', 'gt.defaultBranch'], worktree);
  if (fromCheckout.code === 0 && fromCheckout.out) return [fromCheckout.out];
  if (town && env.GT_RIG && /^[a-z0-9][a-z0-9_-]*$/.test(env.GT_RIG)) {
    const file = join(town, 'rigs', env.GT_RIG, 'rig.toml');
    if (existsSync(file)) {
      const m = /^\s*default_branch\s*=\s*"([^"]+)"/m.exec(readFileSync(file, 'utf8'));
      if (m) return [m[1]!];
    }
  }
  return FALLBACK_PROTECTED;
}

/** The guard's view of the world for a call running in `cwd`. */
export function buildContext(cwd: string, env: NodeJS.ProcessEnv = process.env): GuardContext {
  const realCwd = realpathPrefix(resolve(cwd));
  let worktree: string;
  if (env.GT_WORKTREE) {
    worktree = realpathPrefix(resolve(env.GT_WORKTREE));
  } else {
    const top = gitOut(['rev-parse', '--show-toplevel'], realCwd);
    worktree = top.code === 0 && top.out ? realpathPrefix(top.out) : realCwd;
  }
  const townEnv = env.GT_TOWN ? realpathPrefix(resolve(env.GT_TOWN)) : undefined;
  const town = townEnv ?? findTownUpwards(worktree);
  const scratch = new Set<string>([realpathPrefix(tmpdir()), realpathPrefix('/tmp')]);
  const headCache = new Map<string, HeadInfo>();
  return {
    worktree,
    cwd: realCwd,
    ...(town ? { town: realpathPrefix(town) } : {}),
    protectedBranches: protectedBranches(env, worktree, town),
    scratchDirs: [...scratch],
    home: homedir(),
    headOf: (dir) => {
      let info = headCache.get(dir);
      if (!info) {
        info = headOf(dir);
        headCache.set(dir, info);
      }
      return info;
    },
    aliasOf,
    realpath: realpathPrefix,
  };
}

/** Answers one hook call: stdin text in, exit code and output out. Never throws. */
export function answerHook(
  stdin: string,
  forced?: HookProtocol,
  env: NodeJS.ProcessEnv = process.env,
): HookAnswer {
  let protocol: HookProtocol = forced ?? 'claude';
  try {
    const request = parseHookInput(stdin, forced);
    protocol = request.protocol;
    const cwd = request.cwd && isAbsolute(request.cwd) ? request.cwd : process.cwd();
    const decision = decide(request.call, buildContext(cwd, env));
    return formatAnswer(protocol, decision.allow, decision.allow ? '' : decision.reason);
  } catch (error) {
    const why =
      error instanceof GuardInputError
        ? error.message
        : `internal error: ${(error as Error)?.message ?? error}`;
    return formatAnswer(protocol, false, `gt guard cannot read this tool call (${why}), so it is refused.`);
  }
}

/** `gt guard explain`: the decision for one command line run in `cwd`. */
export function explainCommand(
  command: string,
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Decision & {
  worktree: string;
  protectedBranches: readonly string[];
} {
  const ctx = buildContext(cwd, env);
  return { ...decideCommand(command, ctx), worktree: ctx.worktree, protectedBranches: ctx.protectedBranches };
}
