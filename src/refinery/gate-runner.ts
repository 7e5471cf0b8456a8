import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { REFINERY_TOKEN_ENV } from '../town/secret';

/**
 * Runs one Sheriff or gate command in a scratch worktree. The command comes from trusted rig.toml: a
 * command line (run with `sh -c`) or an argv array (run directly). It runs in its own process group, so a
 * timeout kills everything it started (SIGTERM to the group, SIGKILL after a grace period).
 *
 * Verdicts: exit 0 → pass; any other exit → fail; exit 126/127, a spawn error (missing program), a
 * timeout or death by a signal → error (`gate-error`: a gate that could not run is a failure, never green).
 */
export type GateCommand = string | readonly string[];

export interface GateRunInput {
  command: GateCommand;
  cwd: string;
  timeoutMs: number;
  logPath: string;
  env?: NodeJS.ProcessEnv;
  /** Called with the child's pid (= its process group id) once it has started. */
  onStart?: (pid: number) => void;
  /** Grace between SIGTERM and SIGKILL on timeout (default 2 s). */
  killGraceMs?: number;
}

export interface GateRunResult {
  verdict: 'pass' | 'fail' | 'error';
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Why the gate could not run, for 'error'. */
  error: string | null;
  durationMs: number;
  /** The end of the combined stdout/stderr (at most 16 KiB). */
  tail: string;
}

const TAIL_BYTES = 16 * 1024;

/**
 * The environment a gate sees: the caller's, minus the Refinery credential, git redirections and a test
 * runner's context. (node:test sets NODE_TEST_CONTEXT in its children; a gate that runs `node --test` with
 * it inherited reports to that parent and exits 0 even when its tests fail — a red gate read as green.)
 */
const GATE_ENV_DROPPED = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
  'GIT_COMMON_DIR',
  'GT_FAULT',
  'NODE_TEST_CONTEXT',
];

export function gateEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env[REFINERY_TOKEN_ENV];
  for (const name of GATE_ENV_DROPPED) delete env[name];
  return env;
}

export function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether any live (non-zombie) process is in process group `pid`. On Linux /proc is read, because a
 * zombie (an orphan nobody reaped, common in containers without an init) still answers kill(-pgid, 0).
 */
export function groupAlive(pid: number): boolean {
  if (existsSync('/proc/self/stat')) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue;
      }
      // pid (comm) state ppid pgrp …; comm may contain spaces and parentheses: split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
    }
    return false;
  }
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function runGate(input: GateRunInput): Promise<GateRunResult> {
  const started = Date.now();
  mkdirSync(dirname(input.logPath), { recursive: true });
  const fd = openSync(input.logPath, 'w', 0o600);
  let tail = '';
  const record = (chunk: Buffer | string) => {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    writeSync(fd, text);
    tail = (tail + text).slice(-TAIL_BYTES);
  };
  const [file, args] =
    typeof input.command === 'string'
      ? ['/bin/sh', ['-c', input.command]]
      : [input.command[0] ?? '', input.command.slice(1)];
  return new Promise((resolve) => {
    let settled = false;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = (result: Omit<GateRunResult, 'durationMs' | 'tail' | 'timedOut'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      try {
        closeSync(fd);
      } catch {}
      resolve({ ...result, timedOut, durationMs: Date.now() - started, tail });
    };
    const child = spawn(file, args as string[], {
      cwd: input.cwd,
      env: gateEnv(input.env),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) {
        record(`\n[refinery] timed out after ${input.timeoutMs} ms: killing the process group\n`);
        killGroup(child.pid, 'SIGTERM');
        killTimer = setTimeout(() => {
          if (child.pid) killGroup(child.pid, 'SIGKILL');
        }, input.killGraceMs ?? 2000);
      }
    }, input.timeoutMs);
    if (child.pid) input.onStart?.(child.pid);
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);
    child.on('error', (error: NodeJS.ErrnoException) => {
      record(`\n[refinery] cannot run the command: ${error.message}\n`);
      finish({
        verdict: 'error',
        exitCode: null,
        signal: null,
        error: `cannot run: ${error.code ?? error.message}`,
      });
    });
    child.on('exit', () => {
      // The leader is done: anything it left in its group (and holding our pipes) goes too.
      if (child.pid) killGroup(child.pid, 'SIGKILL');
    });
    child.on('close', (code, signal) => {
      // Whatever the leader did, nothing it started may outlive the run.
      if (child.pid) killGroup(child.pid, 'SIGKILL');
      if (timedOut) {
        finish({ verdict: 'error', exitCode: code, signal, error: `timed out after ${input.timeoutMs} ms` });
      } else if (signal) {
        finish({ verdict: 'error', exitCode: null, signal, error: `killed by ${signal}` });
      } else if (code === 127 || code === 126) {
        finish({
          verdict: 'error',
          exitCode: code,
          signal: null,
          error: code === 127 ? 'command not found (exit 127)' : 'command not executable (exit 126)',
        });
      } else if (code === 0) {
        finish({ verdict: 'pass', exitCode: 0, signal: null, error: null });
      } else {
        finish({ verdict: 'fail', exitCode: code, signal: null, error: null });
      }
    });
  });
}
