import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../town/atomic';
import { identityAlive, readDaemonIdentity } from './instance';
import { daemonPaths } from './paths';
import type { ControllerStatus } from './supervisor';

/**
 * The daemon's heartbeat file (.gt/run/daemon.json), rewritten every couple of seconds: what gt status
 * and gt daemon status read, without talking to the daemon.
 */
export interface DaemonStatusFile {
  pid: number;
  started_at: string;
  heartbeat_at: string;
  state: 'starting' | 'running' | 'stopping' | 'stopped';
  controllers: ControllerStatus[];
}

/** A heartbeat older than this means the daemon is hung (alive but not ticking). */
export const HEARTBEAT_STALE_MS = 15_000;

export function writeStatusFile(root: string, status: DaemonStatusFile): void {
  writeFileAtomic(daemonPaths(root).statusFile, `${JSON.stringify(status)}\n`);
}

export function readStatusFile(root: string): DaemonStatusFile | null {
  try {
    return JSON.parse(readFileSync(daemonPaths(root).statusFile, 'utf8')) as DaemonStatusFile;
  } catch {
    return null;
  }
}

export type DaemonHealth = 'running' | 'stale-heartbeat' | 'not-running';

export interface DaemonHealthJson {
  health: DaemonHealth;
  pid: number | null;
  started_at: string | null;
  heartbeat_at: string | null;
  heartbeat_age_ms: number | null;
  controllers: ControllerStatus[];
}

/** Daemon health from the pid file and the heartbeat: cheap (two small file reads, one /proc read). */
export function daemonHealth(root: string, now = Date.now()): DaemonHealthJson {
  const id = readDaemonIdentity(root);
  if (!identityAlive(id)) {
    return {
      health: 'not-running',
      pid: null,
      started_at: null,
      heartbeat_at: null,
      heartbeat_age_ms: null,
      controllers: [],
    };
  }
  const status = readStatusFile(root);
  const fresh = status && status.pid === id!.pid ? status : null;
  const age = fresh ? now - Date.parse(fresh.heartbeat_at) : null;
  return {
    health: age !== null && age <= HEARTBEAT_STALE_MS ? 'running' : 'stale-heartbeat',
    pid: id!.pid,
    started_at: id!.started_at,
    heartbeat_at: fresh?.heartbeat_at ?? null,
    heartbeat_age_ms: age,
    controllers: fresh?.controllers ?? [],
  };
}
