import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { GtError } from '../core/errors';
import { isProcessAlive, procInfo } from '../runtime/proctree';
import { daemonPaths } from './paths';

/**
 * One daemon per town. The pid file is the lock: created with O_EXCL, holding the owner's pid and its
 * process start time (so a reused pid is not mistaken for a live daemon). A pid file whose owner died is
 * stale and taken over, under a short takeover lock so two starting daemons cannot both take it.
 */
export interface DaemonIdentity {
  pid: number;
  start_time: number | null;
  started_at: string;
}

export function readDaemonIdentity(root: string): DaemonIdentity | null {
  try {
    const parsed = JSON.parse(readFileSync(daemonPaths(root).pidFile, 'utf8')) as Partial<DaemonIdentity>;
    if (typeof parsed.pid !== 'number') return null;
    return { pid: parsed.pid, start_time: parsed.start_time ?? null, started_at: parsed.started_at ?? '' };
  } catch {
    return null;
  }
}

export function identityAlive(id: DaemonIdentity | null): boolean {
  return id !== null && isProcessAlive(id.pid, id.start_time);
}

/** The running daemon of this town, or null (a stale pid file counts as not running). */
export function runningDaemon(root: string): DaemonIdentity | null {
  const id = readDaemonIdentity(root);
  return identityAlive(id) ? id : null;
}

function tryCreate(file: string, content: string): boolean {
  try {
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

export interface DaemonLock {
  identity: DaemonIdentity;
  release: () => void;
}

export function acquireDaemonLock(root: string, now = new Date()): DaemonLock {
  const { pidFile } = daemonPaths(root);
  mkdirSync(dirname(pidFile), { recursive: true });
  const identity: DaemonIdentity = {
    pid: process.pid,
    start_time: procInfo(process.pid)?.startTime ?? null,
    started_at: now.toISOString(),
  };
  const content = `${JSON.stringify(identity)}\n`;
  const takeover = `${pidFile}.takeover`;
  for (let attempt = 0; attempt < 50; attempt++) {
    if (tryCreate(pidFile, content)) {
      return { identity, release: () => releaseIfOurs(pidFile, identity) };
    }
    const owner = readDaemonIdentity(root);
    if (owner && identityAlive(owner)) {
      throw new GtError('GT_E_DAEMON_RUNNING', `the daemon is already running (pid ${owner.pid})`, {
        hint: "see 'gt daemon status'; stop it with 'gt down'",
        details: { pid: owner.pid, started_at: owner.started_at },
      });
    }
    // Stale (or half-written by a starter that just died). Take it over under the takeover lock; a
    // takeover lock older than 10 s belongs to a starter that died mid-takeover.
    try {
      if (Date.now() - statSync(takeover).mtimeMs > 10_000) rmSync(takeover, { force: true });
    } catch {}
    if (tryCreate(takeover, String(process.pid))) {
      try {
        const again = readDaemonIdentity(root);
        if (!identityAlive(again)) rmSync(pidFile, { force: true });
      } finally {
        rmSync(takeover, { force: true });
      }
    } else {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  throw new GtError('GT_E_DAEMON_LOCK', `could not take the daemon lock ${pidFile}`, {
    hint: 'another gt up is starting at the same moment; retry, or run gt doctor',
  });
}

function releaseIfOurs(pidFile: string, identity: DaemonIdentity): void {
  try {
    const current = JSON.parse(readFileSync(pidFile, 'utf8')) as DaemonIdentity;
    if (current.pid === identity.pid && current.started_at === identity.started_at)
      rmSync(pidFile, { force: true });
  } catch {}
}
