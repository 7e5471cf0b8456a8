/**
 * Claude Code settings and hook installation.
 *
 * Claude Code reads hooks from `.claude/settings.json` in the project directory (the worktree), or from a
 * file passed with `--settings <file>`. A hook is a shell command string that Claude Code runs with `sh`
 * at an event; for `PreToolUse`, exit status 2 blocks the tool call and the hook's stderr is returned to
 * the model as the tool_result error (verified against the real CLI in
 * test/integration/claude-code.test.ts).
 *
 * The pure part (`claudeSettings`, `gastownClaudeHooks`, `claudeUserState`) builds JSON; the writer
 * (`writeClaudeSettings`) puts it on disk atomically. Commands are assembled from argv arrays and quoted
 * here, so no caller ever concatenates untrusted text into a hook command line.
 */
import {
  lstatSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { GtError } from '../core/errors';
import { writeFileAtomic } from '../town/atomic';

export type ClaudeHookEvent =
  | 'SessionStart'
  | 'SessionEnd'
  | 'UserPromptSubmit'
  | 'PreToolUse'
  | 'PostToolUse'
  | 'PreCompact'
  | 'Stop'
  | 'SubagentStop'
  | 'Notification';

export interface ClaudeHookCommand {
  type: 'command';
  command: string;
  /** Seconds before Claude Code gives up on the hook. */
  timeout?: number;
}

export interface ClaudeHookMatcher {
  /** Tool-name pattern for PreToolUse/PostToolUse (e.g. "Bash"); empty or absent matches everything. */
  matcher?: string;
  hooks: ClaudeHookCommand[];
}

export type ClaudeHooks = Partial<Record<ClaudeHookEvent, ClaudeHookMatcher[]>>;

export interface ClaudeSettings {
  hooks?: ClaudeHooks;
  [key: string]: unknown;
}

/** One hook to install: an argv (quoted for `sh` here) or a ready shell command (trusted text only). */
export interface HookSpec {
  event: ClaudeHookEvent;
  matcher?: string;
  argv?: readonly string[];
  /** A literal shell command. Only for trusted, gt-authored text (tests, user config). */
  shell?: string;
  timeout?: number;
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX shell quoting of one word: safe words stay bare, anything else is single-quoted. */
export function shellQuote(word: string): string {
  if (word.length > 0 && SAFE_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

function commandOf(spec: HookSpec): string {
  if (spec.argv && spec.argv.length > 0) return shellJoin(spec.argv);
  if (spec.shell !== undefined && spec.shell.trim().length > 0) return spec.shell;
  throw new GtError('GT_E_INVALID_INPUT', `hook for ${spec.event} has no command`, {
    hint: 'give the hook an argv or a shell command',
  });
}

/**
 * Builds Claude settings: `base` (an existing settings object, e.g. the user's) with gt's hooks merged in.
 * Non-hook keys are preserved; for each event, a gt hook replaces an existing entry with the same matcher
 * and other matchers are kept. Pure.
 */
export function claudeSettings(
  hooks: readonly HookSpec[],
  base: ClaudeSettings = {},
  extra: Record<string, unknown> = {},
): ClaudeSettings {
  const merged: ClaudeHooks = {};
  for (const [event, list] of Object.entries(base.hooks ?? {}) as Array<
    [ClaudeHookEvent, ClaudeHookMatcher[]]
  >) {
    merged[event] = list.map((m) => ({ ...m, hooks: [...m.hooks] }));
  }
  const installed = new Map<string, ClaudeHookMatcher>();
  for (const spec of hooks) {
    const matcher = spec.matcher ?? '';
    const key = `${spec.event}\u0000${matcher}`;
    const hook: ClaudeHookCommand = { type: 'command', command: commandOf(spec) };
    if (spec.timeout !== undefined) hook.timeout = spec.timeout;
    let entry = installed.get(key);
    if (!entry) {
      entry = { matcher, hooks: [] };
      installed.set(key, entry);
      const list = (merged[spec.event] ?? []).filter((m) => (m.matcher ?? '') !== matcher);
      list.push(entry);
      merged[spec.event] = list;
    }
    entry.hooks.push(hook);
  }
  return { ...base, ...extra, hooks: merged };
}

export interface GastownHookOptions {
  /** How hooks invoke gt: a path or a name on PATH (default "gt"). Ignored when `gtArgv` is given. */
  gtBin?: string;
  /** How hooks invoke gt as an argv prefix, e.g. [node, <package>/bin/gt.js] (quoted here). */
  gtArgv?: readonly string[];
  /** Autonomous roles (polecat, witness, refinery, deacon) also drain mail at session start. */
  autonomous?: boolean;
  /** Install `gt guard` as the PreToolUse hook for the tools it polices (CLAUDE_GUARD_MATCHER). */
  guard?: boolean;
  /** argv (after gt) of an extra PreToolUse hook for Bash only (legacy; prefer `guard`). */
  bashGuard?: readonly string[];
}

/** Tools the guard polices. Keep in step with CLAUDE_GUARD_MATCHER in src/guard/install.ts. */
export const CLAUDE_GUARD_MATCHER = 'Bash|Edit|Write|MultiEdit|NotebookEdit|Read';

/** Seconds Claude Code waits for a gt hook before giving up on it. */
export const GT_HOOK_TIMEOUT_S = 30;

/** gt's standard hooks for a Claude Code session (see reference §6.3). */
export function gastownClaudeHooks(options: GastownHookOptions = {}): HookSpec[] {
  const gt = options.gtArgv && options.gtArgv.length > 0 ? [...options.gtArgv] : [options.gtBin ?? 'gt'];
  const prime: Pick<HookSpec, 'argv'> = { argv: [...gt, 'prime', '--hook'] };
  const hooks: HookSpec[] = [
    { event: 'SessionStart', ...prime },
    { event: 'PreCompact', ...prime },
  ];
  if (options.guard) {
    // The same event, matcher and arguments as src/guard/install.ts, so either installer replaces the
    // other's entry instead of adding a second guard.
    hooks.push({
      event: 'PreToolUse',
      matcher: CLAUDE_GUARD_MATCHER,
      argv: [...gt, 'guard', '--format', 'claude'],
      timeout: GT_HOOK_TIMEOUT_S,
    });
  }
  if (options.bashGuard && options.bashGuard.length > 0) {
    hooks.push({ event: 'PreToolUse', matcher: 'Bash', argv: [...gt, ...options.bashGuard] });
  }
  return hooks;
}

/** Settings keys gt always sets for its sessions. */
export const GASTOWN_CLAUDE_SETTINGS: Record<string, unknown> = {
  skipDangerousModePermissionPrompt: true,
};

export function settingsPath(dir: string): string {
  return join(dir, '.claude', 'settings.json');
}

/** Reads `<dir>/.claude/settings.json` when present; a malformed file is an error naming the file. */
export function readClaudeSettings(dir: string): ClaudeSettings | undefined {
  const path = settingsPath(dir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new GtError('GT_E_IO', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    return parsed as ClaudeSettings;
  } catch (error) {
    throw new GtError('GT_E_CONFIG', `${path} is not a JSON object: ${(error as Error).message}`, {
      hint: 'fix or remove the file; gt merges its hooks into it',
    });
  }
}

/**
 * Writes gt's hooks into `<dir>/.claude/settings.json` (merged with what is there), atomically.
 * Returns the path written.
 */
export function writeClaudeSettings(
  dir: string,
  hooks: readonly HookSpec[],
  extra: Record<string, unknown> = GASTOWN_CLAUDE_SETTINGS,
): string {
  const path = settingsPath(dir);
  const settings = claudeSettings(hooks, readClaudeSettings(dir) ?? {}, extra);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
  return path;
}

export interface ClaudeUserStateOptions {
  /** Project directories (worktrees) to mark as trusted with onboarding done. */
  trustedDirs: readonly string[];
  /** Claude Code version, recorded as the last onboarding version (suppresses "what's new"). */
  version?: string;
  /** Pre-approve this API key (Claude Code stores its last 20 characters). */
  apiKey?: string;
}

/**
 * The `~/.claude.json` user state with onboarding, bypass-permissions and workspace trust pre-accepted,
 * merged into `existing`. Pure. Used for throwaway HOMEs (tests, sandboxed agents); never written to a
 * person's real HOME by gt without asking.
 */
export function claudeUserState(
  options: ClaudeUserStateOptions,
  existing: Record<string, unknown> = {},
): Record<string, unknown> {
  const projects = { ...((existing.projects as Record<string, Record<string, unknown>> | undefined) ?? {}) };
  for (const dir of options.trustedDirs) {
    projects[dir] = {
      allowedTools: [],
      ...projects[dir],
      hasTrustDialogAccepted: true,
      hasCompletedProjectOnboarding: true,
    };
  }
  const state: Record<string, unknown> = {
    ...existing,
    hasCompletedOnboarding: true,
    bypassPermissionsModeAccepted: true,
    projects,
  };
  if (options.version) state.lastOnboardingVersion = options.version;
  if (options.apiKey) {
    const prior =
      (existing.customApiKeyResponses as { approved?: string[]; rejected?: string[] } | undefined) ?? {};
    const tail = options.apiKey.slice(-20);
    const approved = new Set(prior.approved ?? []);
    approved.add(tail);
    state.customApiKeyResponses = { approved: [...approved], rejected: prior.rejected ?? [] };
  }
  return state;
}

/**
 * Where Claude Code keeps its user state: `$CLAUDE_CONFIG_DIR/.claude.json`, else `~/.claude.json`.
 * null when neither HOME nor CLAUDE_CONFIG_DIR is known.
 */
export function claudeConfigFile(env: Readonly<Record<string, string | undefined>>): string | null {
  if (env.CLAUDE_CONFIG_DIR) return join(env.CLAUDE_CONFIG_DIR, '.claude.json');
  if (env.HOME) return join(env.HOME, '.claude.json');
  return null;
}

/**
 * `existing` with `projects[dir].hasTrustDialogAccepted = true` for each dir, and nothing else changed;
 * null when every dir is already trusted (nothing to write). Pure.
 */
export function withWorkspaceTrust(
  existing: Record<string, unknown>,
  dirs: readonly string[],
): Record<string, unknown> | null {
  const prior = existing.projects;
  const projects: Record<string, unknown> =
    typeof prior === 'object' && prior !== null && !Array.isArray(prior)
      ? { ...(prior as Record<string, unknown>) }
      : {};
  let changed = false;
  for (const dir of dirs) {
    const entry = projects[dir];
    const record =
      typeof entry === 'object' && entry !== null && !Array.isArray(entry)
        ? (entry as Record<string, unknown>)
        : {};
    if (record.hasTrustDialogAccepted === true) continue;
    projects[dir] = { ...record, hasTrustDialogAccepted: true };
    changed = true;
  }
  return changed ? { ...existing, projects } : null;
}

/** Claude Code's own lock discipline for its config (proper-lockfile): a `<file>.lock` directory. */
const CONFIG_LOCK_STALE_MS = 30_000;

async function withConfigLock<T>(file: string, timeoutMs: number, fn: () => T): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new GtError('GT_E_IO', `cannot lock ${file}: ${(error as Error).message}`, { cause: error });
      }
      let age = 0;
      try {
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      if (age > CONFIG_LOCK_STALE_MS) {
        try {
          rmdirSync(lock);
        } catch {}
        continue;
      }
      if (Date.now() > deadline) {
        throw new GtError('GT_E_IO', `timed out waiting for the lock on ${file} (${lock})`, {
          hint: 'a Claude Code process is writing its config; retry in a moment',
        });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return fn();
  } finally {
    try {
      rmdirSync(lock);
    } catch {}
  }
}

/**
 * Pre-accepts Claude Code's folder-trust dialog for `dirs` by merging only
 * `projects[<dir>].hasTrustDialogAccepted = true` into the user's Claude config (see claudeConfigFile).
 * Under Claude Code's own lock (`<file>.lock`), read-modify-write with an atomic rename; the file's mode
 * is kept (0600 for a new file) and a symlinked file is written through. Nothing is written when the
 * dirs are already trusted. A file that is not a JSON object is never overwritten: GT_E_CONFIG.
 * Onboarding, login and API-key approval are the person's one-time setup and are not touched.
 * Returns true when the file changed.
 */
export async function trustClaudeWorkspaces(
  configFile: string,
  dirs: readonly string[],
  options: { lockTimeoutMs?: number } = {},
): Promise<boolean> {
  let target = configFile;
  try {
    if (lstatSync(configFile).isSymbolicLink()) target = realpathSync(configFile);
  } catch {
    // absent (or a dangling link, written as a new file)
  }
  const read = (): { state: Record<string, unknown>; mode: number } | null => {
    let text: string;
    let mode = 0o600;
    try {
      text = readFileSync(target, 'utf8');
      mode = statSync(target).mode & 0o777;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: {}, mode };
      throw new GtError('GT_E_IO', `cannot read ${target}: ${(error as Error).message}`, { cause: error });
    }
    if (text.trim().length === 0) return { state: {}, mode };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      parsed = error;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || parsed instanceof Error) {
      throw new GtError(
        'GT_E_CONFIG',
        `${target} is not a JSON object, so gt cannot mark ${dirs.join(', ')} as trusted`,
        {
          hint: 'run claude once to repair it (gt never overwrites it)',
        },
      );
    }
    return { state: parsed as Record<string, unknown>, mode };
  };
  // Cheap check first: the common case (already trusted) takes no lock and writes nothing.
  const before = read();
  if (before && withWorkspaceTrust(before.state, dirs) === null) return false;
  mkdirSync(dirname(target), { recursive: true });
  return withConfigLock(target, options.lockTimeoutMs ?? 10_000, () => {
    const current = read();
    if (!current) return false;
    const next = withWorkspaceTrust(current.state, dirs);
    if (next === null) return false;
    writeFileAtomic(target, `${JSON.stringify(next, null, 2)}\n`, current.mode);
    return true;
  });
}
