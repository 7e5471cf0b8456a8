import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { GtError } from '../core/errors';

/**
 * One interface for every way gt runs an agent: a tmux pane a human can attach to, or a headless child
 * process. Both are observable from later, short-lived gt processes: nothing lives only in memory.
 */
export interface StartSpec {
  /** Deterministic session name (see sessionName in names.ts). */
  name: string;
  command: string;
  args: string[];
  cwd: string;
  /** Non-secret environment (identity etc.), layered over the inherited environment. */
  env: Record<string, string>;
  /** Secret values: written to a 0600 file that the launcher sources and deletes, never on a command line. */
  secretEnv?: Record<string, string>;
  /** A KEY=VALUE file whose entries are added like secretEnv (it is parsed by gt, never executed). */
  envFile?: string;
  /** Every byte the agent prints is appended here. */
  logFile: string;
  /** Text written to the agent's stdin right after start (for agents that read their prompt there). */
  stdin?: string;
  /**
   * Headless only: keep stdin open for later input (a FIFO sendText writes to). Off by default, because
   * agents such as `claude -p` read a non-terminal stdin to its end before starting, and would wait
   * forever. Without it, stdin is `stdin` followed by end-of-file, or empty.
   */
  openStdin?: boolean;
}

export interface Liveness {
  /** The session exists (tmux session, or a headless state record). */
  session: boolean;
  /** The agent process itself runs (not just the session around it). */
  processAlive: boolean;
  pid: number | null;
  /** Exit status once the process has ended, when known. */
  exitCode: number | null;
}

/** The only keys a caller may send as keys; text always goes through sendText (literal). */
export type SessionKey = 'Enter' | 'Escape' | 'C-c';

export interface SessionInfo {
  name: string;
  pid: number | null;
}

export interface SessionProvider {
  readonly kind: 'tmux' | 'headless';
  start(spec: StartSpec): Promise<SessionInfo>;
  liveness(name: string): Promise<Liveness>;
  /** The last `lines` lines of output (screen for tmux, log tail for headless), without escape sequences. */
  capture(name: string, lines: number): Promise<string>;
  /** Types text literally: no key-name interpretation, no shell. */
  sendText(name: string, text: string): Promise<void>;
  sendKeys(name: string, key: SessionKey): Promise<void>;
  /** Kills the agent and its whole process tree, and removes the session. Idempotent. */
  kill(name: string): Promise<void>;
  list(): Promise<string[]>;
  /** Resolves with the exit status (null if unknown or killed) or undefined on timeout. */
  waitForExit(name: string, timeoutMs: number): Promise<number | null | undefined>;
}

/** Identity variables every agent session carries (DESIGN §4.2). Unset when not given, so none leak. */
export const IDENTITY_VARS = ['GT_TOWN', 'GT_RIG', 'GT_ROLE', 'GT_AGENT', 'BD_ACTOR'] as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Names that look like credentials. Such variables are not inherited by sessions; name them in pass_env. */
const SECRET_NAME = /(API_?KEY|_KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$|SECRET/i;

export function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * The environment a session inherits (the tmux server's, a headless child's): gt's own, minus anything
 * that looks like a credential, so secrets reach an agent only when declared (pass_env / env files).
 */
export function inheritableEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) if (!looksSecret(name)) out[name] = value;
  return out;
}

/** POSIX single-quoting: the value becomes one word whatever it contains. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Parses a dotenv-style KEY=VALUE file (comments, `export`, single/double quotes). Never executes it. */
export function parseEnvFile(text: string, file = 'env file'): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) {
      throw new GtError('GT_E_CONFIG', `${file}:${index + 1}: expected KEY=VALUE`, {
        hint: 'one variable per line, e.g. ANTHROPIC_API_KEY=sk-…',
      });
    }
    let value = match[2] ?? '';
    const quote = value.charAt(0);
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, '\n').replace(/\\(["\\$`])/g, '$1');
    }
    out[match[1]!] = value;
  });
  return out;
}

/**
 * The launcher environment file: `export K='v'` lines the launcher sources with `.`, so it must be
 * shell syntax we generated ourselves with every value single-quoted. Identity variables not given are
 * unset, so a tmux server started from one agent's environment cannot leak its identity into another.
 */
export function renderLauncherEnv(spec: StartSpec): string {
  const merged: Record<string, string> = { ...spec.env };
  if (spec.envFile) Object.assign(merged, parseEnvFile(readFileSync(spec.envFile, 'utf8'), spec.envFile));
  Object.assign(merged, spec.secretEnv ?? {});
  const lines: string[] = [];
  for (const name of IDENTITY_VARS) if (!(name in merged)) lines.push(`unset ${name}`);
  for (const [name, value] of Object.entries(merged)) {
    if (!ENV_NAME.test(name)) {
      throw new GtError('GT_E_INVALID_INPUT', `invalid environment variable name ${JSON.stringify(name)}`, {
        hint: 'names are letters, digits and underscores, not starting with a digit',
      });
    }
    if (value.includes('\0')) {
      throw new GtError('GT_E_INVALID_INPUT', `environment variable ${name} contains a NUL byte`);
    }
    lines.push(`export ${name}=${shellQuote(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function writePrivateFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600); // writeFileSync's mode applies only when it creates the file.
}

/**
 * A constant launcher script: `sh -c LAUNCH gt-launch <envfile> <exitfile> <command> <args…>`. Every
 * variable part is a positional parameter, so no untrusted text is ever parsed by a shell. It sources and
 * deletes the env file, runs the agent and records its exit status in <exitfile>, so the status is known
 * exactly even after gt has exited (tmux 3.3 sometimes leaves a dead pane's status unreported for
 * seconds). The launcher stays as the agent's parent (the pane/session root) rather than exec'ing it; its
 * no-op traps keep it alive through a Ctrl-C or hangup meant for the agent (handlers, unlike ignored
 * signals, are reset for the agent at exec), so it always outlives the agent by exactly one status write.
 */
export const LAUNCH_SCRIPT = [
  'f=$1; x=$2; shift 2',
  'if [ -n "$f" ]; then set -a; . "$f" || exit 126; set +a; rm -f -- "$f"; fi',
  'trap : INT QUIT TERM HUP',
  '"$@"; s=$?; echo "$s" > "$x.tmp" && mv -f -- "$x.tmp" "$x"; exit "$s"',
].join('\n');

export function launcherArgv(envFile: string, exitFile: string, command: string, args: string[]): string[] {
  return ['/bin/sh', '-c', LAUNCH_SCRIPT, 'gt-launch', envFile, exitFile, command, ...args];
}

/** tmux session names and headless state directories share this alphabet. */
export function assertSessionName(name: string): void {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(name)) {
    throw new GtError('GT_E_INVALID_NAME', `invalid session name ${JSON.stringify(name)}`, {
      hint: 'session names use letters, digits, "-" and "_"',
    });
  }
}

/** The status the launcher recorded, or null while the agent runs (or if it was killed with the launcher). */
export function readExitFile(file: string): number | null {
  try {
    const value = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isNaN(value) ? null : value;
  } catch {
    return null;
  }
}
