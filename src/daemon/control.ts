import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GtError } from '../core/errors';
import { readLogTail } from '../runtime/headless';
import { packageRoot } from '../runtime/presets';
import { isProcessAlive } from '../runtime/proctree';
import { type DaemonIdentity, identityAlive, readDaemonIdentity, runningDaemon } from './instance';
import { daemonPaths } from './paths';
import { readStatusFile } from './status-file';

/** `gt up` / `gt down`: start the daemon detached and wait until it runs; stop it and wait until it is gone. */
export interface UpResult {
  status: 'started' | 'already-running';
  pid: number;
  started_at: string;
  log_file: string;
}

export function daemonBundle(): string {
  return join(packageRoot(), 'dist', 'daemon.js');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startDaemon(
  root: string,
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<UpResult> {
  const paths = daemonPaths(root);
  const running = runningDaemon(root);
  if (running) {
    return {
      status: 'already-running',
      pid: running.pid,
      started_at: running.started_at,
      log_file: paths.logFile,
    };
  }
  const bundle = daemonBundle();
  if (!existsSync(bundle)) {
    throw new GtError('GT_E_NOT_BUILT', `the daemon bundle ${bundle} is missing`, {
      hint: 'run npm run build',
    });
  }
  mkdirSync(dirname(paths.outFile), { recursive: true });
  const out = openSync(paths.outFile, 'a', 0o600);
  const child = spawn(process.execPath, [bundle, '--town', root], {
    cwd: root,
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...(options.env ?? process.env), GT_TOWN: root },
  });
  closeSync(out);
  child.unref();
  const pid = child.pid ?? 0;
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    const status = readStatusFile(root);
    if (status && status.pid === pid && status.state === 'running') {
      const id = readDaemonIdentity(root);
      return {
        status: 'started',
        pid,
        started_at: id?.started_at ?? status.started_at,
        log_file: paths.logFile,
      };
    }
    if (!isProcessAlive(pid)) {
      // Lost a race with another gt up? Then that one is the daemon.
      const other = runningDaemon(root);
      if (other)
        return {
          status: 'already-running',
          pid: other.pid,
          started_at: other.started_at,
          log_file: paths.logFile,
        };
      throw new GtError('GT_E_DAEMON_START', 'the daemon exited during start-up', {
        hint: `its output: ${paths.outFile}`,
        details: { output: readLogTail(paths.outFile, 20) },
      });
    }
    if (Date.now() > deadline) {
      throw new GtError('GT_E_DAEMON_START', `the daemon (pid ${pid}) did not report running in time`, {
        hint: `see ${paths.logFile} and ${paths.outFile}`,
      });
    }
    await sleep(50);
  }
}

export interface DownResult {
  status: 'stopped' | 'not-running' | 'killed';
  pid: number | null;
}

export async function stopDaemon(root: string, options: { graceMs?: number } = {}): Promise<DownResult> {
  const id: DaemonIdentity | null = readDaemonIdentity(root);
  if (!identityAlive(id)) {
    // A stale pid file (the daemon was killed): tidy it so status reads cleanly.
    if (id) rmSync(daemonPaths(root).pidFile, { force: true });
    return { status: 'not-running', pid: null };
  }
  const pid = id!.pid;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {}
  const deadline = Date.now() + (options.graceMs ?? 20_000);
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid, id!.start_time)) return { status: 'stopped', pid };
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
  while (isProcessAlive(pid, id!.start_time)) await sleep(50);
  rmSync(daemonPaths(root).pidFile, { force: true });
  return { status: 'killed', pid };
}
