/**
 * Installs `gt guard` as the tool-call hook of an agent, merged into whatever settings already exist.
 *
 *   Claude Code  <dir>/.claude/settings.json   PreToolUse, matcher Bash|Edit|Write|MultiEdit|NotebookEdit|Read
 *                (written with src/runtime/claude-hooks.ts, which keeps other keys and other matchers)
 *   Codex        <dir>/.codex/hooks.json       PreToolUse, matcher Bash|apply_patch|shell|exec_command
 *   Gemini CLI   <dir>/.gemini/settings.json   BeforeTool, matcher run_shell_command|write_file|replace|read_file|read_many_files
 *
 * The pure builders (`codexHooksConfig`, `geminiSettings`, `guardHookSpec`) return JSON; `installGuardHooks`
 * writes the files atomically and, when `dir` is a git checkout, lists them in `.git/info/exclude` so they
 * never count as the polecat's uncommitted work. Commands are quoted from argv arrays (never built from
 * untrusted text).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GtError } from '../core/errors';
import { type HookSpec, shellJoin, writeClaudeSettings } from '../runtime/claude-hooks';
import { writeFileAtomic } from '../town/atomic';

export type GuardAgent = 'claude' | 'codex' | 'gemini';

export const CLAUDE_GUARD_MATCHER = 'Bash|Edit|Write|MultiEdit|NotebookEdit|Read';
export const CODEX_GUARD_MATCHER = 'Bash|apply_patch|shell|exec_command';
export const GEMINI_GUARD_MATCHER = 'run_shell_command|write_file|replace|read_file|read_many_files';

export { GUARD_CONFIG_FILES } from './policy';

/** Seconds an agent waits for the guard before giving up on it. */
const TIMEOUT_S = 30;

export function guardArgv(gtBin: string, agent: GuardAgent): string[] {
  return [gtBin, 'guard', '--format', agent];
}

/** The Claude Code hook (for claude-hooks.ts's writer). */
export function guardHookSpec(gtBin = 'gt'): HookSpec {
  return {
    event: 'PreToolUse',
    matcher: CLAUDE_GUARD_MATCHER,
    argv: guardArgv(gtBin, 'claude'),
    timeout: TIMEOUT_S,
  };
}

interface HookEntry {
  matcher?: string;
  hooks: Array<Record<string, unknown>>;
  [key: string]: unknown;
}
type HookConfig = { hooks?: Record<string, HookEntry[]>; [key: string]: unknown };

function isGuardCommand(hook: Record<string, unknown>): boolean {
  return typeof hook.command === 'string' && /(^|[\s/'])gt(\.js)?'? guard\b/.test(hook.command);
}

/**
 * Merges one guard hook into a {hooks:{<event>:[{matcher, hooks:[…]}]}} document (the shape Claude Code,
 * Codex and Gemini CLI share). An earlier gt guard hook is replaced; everything else is kept. Pure.
 */
export function mergeGuardHook(
  base: HookConfig,
  event: string,
  matcher: string,
  hook: Record<string, unknown>,
): HookConfig {
  const hooks: Record<string, HookEntry[]> = {};
  for (const [name, list] of Object.entries(base.hooks ?? {})) {
    hooks[name] = Array.isArray(list) ? list.map((e) => ({ ...e, hooks: [...(e.hooks ?? [])] })) : list;
  }
  const kept: HookEntry[] = [];
  for (const entry of hooks[event] ?? []) {
    const others = entry.hooks.filter((h) => !isGuardCommand(h));
    if (others.length > 0) kept.push({ ...entry, hooks: others });
  }
  kept.push({ matcher, hooks: [hook] });
  hooks[event] = kept;
  return { ...base, hooks };
}

export function codexHooksConfig(base: HookConfig = {}, gtBin = 'gt'): HookConfig {
  return mergeGuardHook(base, 'PreToolUse', CODEX_GUARD_MATCHER, {
    type: 'command',
    command: shellJoin(guardArgv(gtBin, 'codex')),
    timeout: TIMEOUT_S,
  });
}

export function geminiSettings(base: HookConfig = {}, gtBin = 'gt'): HookConfig {
  return mergeGuardHook(base, 'BeforeTool', GEMINI_GUARD_MATCHER, {
    type: 'command',
    name: 'gt-guard',
    command: shellJoin(guardArgv(gtBin, 'gemini')),
    timeout: TIMEOUT_S * 1000,
  });
}

function readJsonObject(path: string): HookConfig {
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new GtError('GT_E_CONFIG', `${path} is not valid JSON: ${(error as Error).message}`, {
      hint: 'fix or remove the file; gt merges its guard hook into it',
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new GtError('GT_E_CONFIG', `${path} is not a JSON object`, { hint: 'fix or remove the file' });
  }
  return parsed as HookConfig;
}

function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, 0o644);
}

/** Keeps gt's agent config files out of `git status` in a checkout (they are not the polecat's work). */
export function excludeFromCheckout(dir: string, patterns: readonly string[]): void {
  const exclude = join(dir, '.git', 'info', 'exclude');
  if (!existsSync(join(dir, '.git'))) return;
  const current = existsSync(exclude) ? readFileSync(exclude, 'utf8') : '';
  const lines = new Set(current.split('\n'));
  const missing = patterns.filter((p) => !lines.has(p));
  if (missing.length === 0) return;
  mkdirSync(dirname(exclude), { recursive: true });
  appendFileSync(exclude, `${current === '' || current.endsWith('\n') ? '' : '\n'}${missing.join('\n')}\n`);
}

export interface InstallGuardOptions {
  agents: readonly GuardAgent[];
  /** How the hook runs gt (default "gt" on PATH). */
  gtBin?: string;
}

/** Writes the guard hook for each agent into `dir`; returns the files written. */
export function installGuardHooks(dir: string, options: InstallGuardOptions): string[] {
  const gtBin = options.gtBin ?? 'gt';
  const written: string[] = [];
  for (const agent of options.agents) {
    if (agent === 'claude') {
      written.push(writeClaudeSettings(dir, [guardHookSpec(gtBin)], {}));
    } else if (agent === 'codex') {
      const path = join(dir, '.codex', 'hooks.json');
      writeJson(path, codexHooksConfig(readJsonObject(path), gtBin));
      written.push(path);
    } else {
      const path = join(dir, '.gemini', 'settings.json');
      writeJson(path, geminiSettings(readJsonObject(path), gtBin));
      written.push(path);
    }
  }
  excludeFromCheckout(dir, ['.claude/', '.codex/', '.gemini/']);
  return written;
}
