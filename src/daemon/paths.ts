import { join } from 'node:path';
import { townLayout } from '../town/layout';

/** Where the daemon keeps its files (all under the town; see docs/daemon.md). */
export function daemonPaths(root: string) {
  const town = townLayout(root);
  return {
    /** Single-instance lock and identity: {pid, start_time, started_at} (created O_EXCL). */
    pidFile: join(town.run, 'daemon.pid'),
    /** Heartbeat and controller health, rewritten every few seconds (read by gt status / daemon status). */
    statusFile: join(town.run, 'daemon.json'),
    /** Structured log (JSON lines), rotated by size. */
    logFile: join(town.logs, 'daemon.log'),
    /** The daemon process's own stdout/stderr: crashes before the logger exists land here. */
    outFile: join(town.logs, 'daemon.out'),
  };
}
