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
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GtError } from '../core/errors';

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
  /** How hooks invoke gt: a path or a name on PATH (default "gt"). */
  gtBin?: string;
  /** Autonomous roles (polecat, witness, refinery, deacon) also drain mail at session start. */
  autonomous?: boolean;
  /** argv (after gtBin) of the PreToolUse guard for Bash, once the guard exists; omitted when absent. */
  bashGuard?: readonly string[];
}

/** gt's standard hooks for a Claude Code session (see reference §6.3). */
export function gastownClaudeHooks(options: GastownHookOptions = {}): HookSpec[] {
  const gt = options.gtBin ?? 'gt';
  const hooks: HookSpec[] = [
    { event: 'SessionStart', argv: [gt, 'prime', '--hook'] },
    { event: 'PreCompact', argv: [gt, 'prime', '--hook'] },
  ];
  if (options.bashGuard && options.bashGuard.length > 0) {
    hooks.push({ event: 'PreToolUse', matcher: 'Bash', argv: [gt, ...options.bashGuard] });
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
