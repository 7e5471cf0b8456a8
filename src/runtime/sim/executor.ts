/**
 * Executes sim script steps (src/runtime/sim/script.ts) in a worktree, for real: files are written, git
 * commits are made, commands run, `gt` is called. Control-flow faults (hang, crash, exit) are returned as
 * outcomes; the process entry point (main.ts) turns them into process behaviour, so this module can be
 * tested in-process against a temp git repo.
 *
 * No shell is involved except for an explicit `sh` step: `run` uses execFile with the parsed argv.
 */
import { execFile } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { type AttemptInfo, checkRelativePath, type SimStep, stepApplies, type UsageSpec } from './script';

export interface SimEvent {
  type: string;
  [key: string]: unknown;
}

export interface ExecContext {
  /** The worktree. */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** How to invoke gt (GT_BIN, default "gt"). */
  gtBin: string;
  log: (event: SimEvent) => void;
  /** JSONL file usage records are appended to. */
  transcriptPath: string;
  agent?: string;
  bead?: string;
  /** Model recorded in usage when the step names none (the session's GT_MODEL). */
  model?: string;
  /** Which attempt at the hooked bead this is (for `first` / `rework` steps); absent: the first. */
  attempt?: AttemptInfo;
  /** Per-command timeout for run/sh/git/gt calls (default 10 minutes). */
  commandTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
}

export type ExecOutcome =
  | { kind: 'completed' }
  | { kind: 'done'; ok: boolean; exit_code: number | null }
  | { kind: 'hang'; line: number }
  | { kind: 'crash'; code: number; line: number }
  | { kind: 'exit'; code: number; line: number }
  | { kind: 'failed'; line: number; step: string; message: string };

export interface ExecResult {
  outcome: ExecOutcome;
  stepsRun: number;
}

export interface CommandResult {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started (e.g. ENOENT) or timed out. */
  error?: string;
}

const OUTPUT_LIMIT = 4000;

function clip(text: string): string {
  return text.length <= OUTPUT_LIMIT
    ? text
    : `${text.slice(0, OUTPUT_LIMIT)}… [${text.length - OUTPUT_LIMIT} more]`;
}

/** Runs a program with an argv (no shell), collecting its output and status; never throws. */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number; input?: string },
): Promise<CommandResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      file,
      args as string[],
      {
        cwd: options.cwd,
        env: options.env,
        timeout: options.timeoutMs ?? 600_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
        shell: false,
        windowsHide: true,
      },
      (error, stdout, stderr) => {
        const spawnFailed = error !== null && typeof (error as NodeJS.ErrnoException).code === 'string';
        const result: CommandResult = {
          exitCode: spawnFailed ? null : child.exitCode,
          signal: child.signalCode,
          stdout: String(stdout ?? ''),
          stderr: String(stderr ?? ''),
        };
        if (error) {
          const e = error as NodeJS.ErrnoException & { killed?: boolean };
          if (typeof e.code === 'string') result.error = `${e.code}: ${e.message}`;
          else if (e.killed) result.error = `timed out after ${options.timeoutMs ?? 600_000} ms`;
        }
        resolvePromise(result);
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/**
 * Resolves a worktree-relative path for writing: it must stay inside the worktree after following
 * symlinks in its parent directories, and the target itself must not be a symlink.
 */
export function resolveInside(cwd: string, path: string): string {
  const lexical = checkRelativePath(path);
  if (lexical) throw new Error(lexical);
  const root = realpathSync(cwd);
  const target = resolve(root, path);
  const rel = relative(root, target);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`path "${path}" leaves the worktree`);
  mkdirSync(dirname(target), { recursive: true });
  const parent = realpathSync(dirname(target));
  if (parent !== root && !parent.startsWith(root + sep)) {
    throw new Error(`path "${path}" leaves the worktree through a symlink`);
  }
  let isLink = false;
  try {
    isLink = lstatSync(target).isSymbolicLink();
  } catch {
    // does not exist yet
  }
  if (isLink) {
    throw new Error(`path "${path}" is a symlink; the sim agent does not write through symlinks`);
  }
  return target;
}

const BROKEN_TEST = `// Written by the sim agent's break-tests step: a deliberately failing test.
import { test } from 'node:test';

test('sim: deliberately broken', () => {
  throw new Error('sim: deliberately broken test');
});
`;

function describeStep(step: SimStep): Record<string, unknown> {
  const { kind: _kind, line: _line, ...rest } = step;
  return rest;
}

export function usageRecord(usage: UsageSpec, ctx: ExecContext): SimEvent & Required<UsageSpec> {
  return {
    type: 'usage',
    ts: (ctx.now?.() ?? new Date()).toISOString(),
    agent: ctx.agent ?? null,
    bead: ctx.bead ?? null,
    model: usage.model ?? ctx.model ?? 'sim',
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    cache_read_input_tokens: usage.cache_read_input_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens,
  };
}

function lines(text: string): string[] {
  if (text.length === 0) return [];
  const out = text.split('\n');
  if (out.at(-1) === '') out.pop();
  return out;
}

function editLine(file: string, lineNo: number, content: string): void {
  const existing = existsSync(file) ? lines(readFileSync(file, 'utf8')) : [];
  while (existing.length < lineNo) existing.push('');
  existing[lineNo - 1] = content;
  writeFileSync(file, `${existing.join('\n')}\n`);
}

async function git(ctx: ExecContext, args: string[]): Promise<CommandResult> {
  return runCommand('git', args, { cwd: ctx.cwd, env: ctx.env, timeoutMs: ctx.commandTimeoutMs });
}

async function commit(ctx: ExecContext, message: string): Promise<Record<string, unknown>> {
  const add = await git(ctx, ['add', '-A']);
  if (add.exitCode !== 0) return { ok: false, error: clip(add.error ?? add.stderr) };
  const staged = await git(ctx, ['diff', '--cached', '--quiet']);
  if (staged.exitCode === 0) return { ok: true, committed: false, note: 'nothing to commit' };
  // Use the configured identity; fall back to one derived from the agent only when none is configured.
  const ident = await git(ctx, ['var', 'GIT_COMMITTER_IDENT']);
  const who = (ctx.agent ?? 'sim').replace(/[^A-Za-z0-9._/-]/g, '_');
  const identity = ident.exitCode === 0 ? [] : ['-c', `user.name=${who}`, '-c', 'user.email=sim@gt.invalid'];
  const result = await git(ctx, [...identity, 'commit', '-q', '-m', message]);
  if (result.exitCode !== 0)
    return { ok: false, error: clip(result.error ?? `${result.stdout}${result.stderr}`) };
  const sha = (await git(ctx, ['rev-parse', 'HEAD'])).stdout.trim();
  return { ok: true, committed: true, sha };
}

function commandEvent(result: CommandResult): Record<string, unknown> {
  const event: Record<string, unknown> = {
    exit_code: result.exitCode,
    stdout: clip(result.stdout),
    stderr: clip(result.stderr),
  };
  if (result.signal) event.signal = result.signal;
  if (result.error) event.error = result.error;
  return event;
}

/** Runs the steps in order. Stops at done, hang, crash, exit, or the first step that fails. */
export async function executeSteps(steps: readonly SimStep[], ctx: ExecContext): Promise<ExecResult> {
  const sleep = ctx.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const timeoutMs = ctx.commandTimeoutMs;
  let stepsRun = 0;
  for (const step of steps) {
    if (!stepApplies(step, ctx.attempt)) {
      ctx.log({
        type: 'skip',
        step: step.kind,
        line: step.line,
        when: step.when,
        attempt: ctx.attempt ?? null,
      });
      continue;
    }
    stepsRun++;
    ctx.log({ type: 'step', step: step.kind, line: step.line, ...describeStep(step) });
    try {
      switch (step.kind) {
        case 'write':
          writeFileSync(resolveInside(ctx.cwd, step.path), step.content);
          ctx.log({ type: 'wrote', path: step.path, bytes: Buffer.byteLength(step.content) });
          break;
        case 'append': {
          const file = resolveInside(ctx.cwd, step.path);
          const prior = existsSync(file) ? readFileSync(file, 'utf8') : '';
          const sep = prior.length > 0 && !prior.endsWith('\n') ? '\n' : '';
          appendFileSync(file, `${sep}${step.content}\n`);
          ctx.log({ type: 'appended', path: step.path });
          break;
        }
        case 'edit':
          editLine(resolveInside(ctx.cwd, step.path), step.lineNo, step.content);
          ctx.log({ type: 'edited', path: step.path, line_no: step.lineNo });
          break;
        case 'conflict': {
          // Content unique to this bead/agent: two beads doing this to the same line cannot merge cleanly.
          const content = `sim conflict: bead ${ctx.bead ?? '-'} agent ${ctx.agent ?? '-'}`;
          editLine(resolveInside(ctx.cwd, step.path), step.lineNo, content);
          ctx.log({ type: 'edited', path: step.path, line_no: step.lineNo, conflict: true });
          break;
        }
        case 'delete': {
          const file = resolveInside(ctx.cwd, step.path);
          rmSync(file, { force: true });
          ctx.log({ type: 'deleted', path: step.path });
          break;
        }
        case 'break-tests':
          writeFileSync(resolveInside(ctx.cwd, step.path), BROKEN_TEST);
          ctx.log({ type: 'wrote', path: step.path, broken_test: true });
          break;
        case 'run': {
          const [file, ...args] = step.argv as [string, ...string[]];
          const result = await runCommand(file, args, { cwd: ctx.cwd, env: ctx.env, timeoutMs });
          ctx.log({ type: 'ran', argv: step.argv, ...commandEvent(result) });
          break;
        }
        case 'sh': {
          const result = await runCommand('sh', ['-c', step.command], {
            cwd: ctx.cwd,
            env: ctx.env,
            timeoutMs,
          });
          ctx.log({ type: 'ran', shell: step.command, ...commandEvent(result) });
          break;
        }
        case 'commit': {
          const result = await commit(ctx, step.message);
          ctx.log({ type: 'commit', message: step.message, ...result });
          if (result.ok === false) {
            return {
              outcome: { kind: 'failed', line: step.line, step: step.kind, message: String(result.error) },
              stepsRun,
            };
          }
          break;
        }
        case 'sleep':
          await sleep(step.ms);
          ctx.log({ type: 'slept', ms: step.ms });
          break;
        case 'usage': {
          const record = usageRecord(step.usage, ctx);
          mkdirSync(dirname(ctx.transcriptPath), { recursive: true });
          appendFileSync(ctx.transcriptPath, `${JSON.stringify(record)}\n`);
          ctx.log({ ...record, transcript: ctx.transcriptPath });
          break;
        }
        case 'say':
          ctx.log({ type: 'say', text: step.text });
          break;
        case 'prime': {
          const result = await runCommand(ctx.gtBin, ['prime'], { cwd: ctx.cwd, env: ctx.env, timeoutMs });
          ctx.log({ type: 'gt', argv: ['prime'], ...commandEvent(result) });
          break;
        }
        case 'push-main': {
          const result = await git(ctx, ['push', 'origin', 'HEAD:main']);
          ctx.log({
            type: 'push-main',
            refused: result.exitCode !== 0,
            ...commandEvent(result),
          });
          break;
        }
        case 'done': {
          const args = ['done', ...step.args];
          const result = await runCommand(ctx.gtBin, args, { cwd: ctx.cwd, env: ctx.env, timeoutMs });
          ctx.log({ type: 'gt', argv: args, ...commandEvent(result) });
          return {
            outcome: { kind: 'done', ok: result.exitCode === 0, exit_code: result.exitCode },
            stepsRun,
          };
        }
        case 'hang':
          return { outcome: { kind: 'hang', line: step.line }, stepsRun };
        case 'crash':
          return { outcome: { kind: 'crash', code: step.code, line: step.line }, stepsRun };
        case 'exit':
          return { outcome: { kind: 'exit', code: step.code, line: step.line }, stepsRun };
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      ctx.log({ type: 'error', step: step.kind, line: step.line, message });
      return { outcome: { kind: 'failed', line: step.line, step: step.kind, message }, stepsRun };
    }
  }
  return { outcome: { kind: 'completed' }, stepsRun };
}
