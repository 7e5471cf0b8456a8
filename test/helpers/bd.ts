import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const BD_BIN = join(REPO_ROOT, 'bin', 'bd.js');
export const GT_BIN = join(REPO_ROOT, 'bin', 'gt.js');

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
}

/** An environment that cannot see the developer's own town, beads project or actor. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of [
    'GT_TOWN',
    'BEADS_DIR',
    'BD_ACTOR',
    'BEADS_ACTOR',
    'GT_AGENT',
    'BD_JSON',
    'GT_RIG',
    'GT_ROLE',
  ]) {
    delete env[key];
  }
  return { ...env, ...extra };
}

export function runBin(bin: string, args: readonly (string | Buffer)[], options: RunOptions): RunResult {
  const result: SpawnSyncReturns<string> = spawnSync(process.execPath, [bin, ...(args as string[])], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    input: options.input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function bd(args: readonly (string | Buffer)[], options: RunOptions): RunResult {
  return runBin(BD_BIN, args, options);
}

/** Runs bd and parses its JSON output, failing loudly with stderr when it did not succeed. */
export function bdJson<T = unknown>(args: readonly string[], options: RunOptions): T {
  const result = bd([...args, '--json'], options);
  if (result.status !== 0) {
    throw new Error(`bd ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as T;
}

/** Runs bd asynchronously (for concurrency tests). */
export function bdAsync(args: readonly string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BD_BIN, ...args], {
      cwd: options.cwd,
      env: cleanEnv(options.env),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ status: code ?? -1, stdout, stderr }));
  });
}

export function tempDir(prefix = 'gt-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** A fresh standalone ledger with the given prefix. */
export function initLedger(prefix = 'tb'): { dir: string; cleanup: () => void } {
  const { path, cleanup } = tempDir();
  const result = bd(['init', '--prefix', prefix, '-q'], { cwd: path });
  if (result.status !== 0) throw new Error(`bd init failed: ${result.stderr}`);
  return { dir: path, cleanup };
}
