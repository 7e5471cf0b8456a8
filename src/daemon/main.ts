import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { openLedger } from '../ledger/open';
import { BeadStore } from '../ledger/store';
import { createEscalation } from '../services/escalation';
import { SYSTEM_SENDER } from '../services/mail';
import { loadTownConfig, townConfigPath } from '../town/config';
import { findTownRoot } from '../town/locate-town';
import { townLedgerPath } from '../workspace/locate';
import { recordActivity } from './activity';
import type { DaemonContext } from './controller';
import { acquireDaemonLock } from './instance';
import { openRotatingLog } from './log';
import { daemonPaths } from './paths';
import { type DaemonStatusFile, writeStatusFile } from './status-file';
import { Supervisor } from './supervisor';
import { syncControllers } from './topology';

/**
 * The town daemon (docs/daemon.md): `node dist/daemon.js --town <root>`, started by `gt up` (detached) or
 * `gt daemon run` (foreground). Takes the single-instance lock, then runs the controllers under the
 * supervisor. It reacts to every ledger commit — other processes' and its own controllers' — by watching
 * SQLite's data_version on a connection of its own (a microsecond read every 250 ms), and otherwise sleeps.
 */
const LEDGER_POLL_MS = 250;
const HEARTBEAT_MS = 2000;
const STOP_GRACE_MS = 10_000;

function parseArgs(argv: readonly string[]): { town: string | undefined } {
  const i = argv.indexOf('--town');
  return { town: i >= 0 ? argv[i + 1] : undefined };
}

export async function runDaemon(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const args = parseArgs(argv);
  const root = args.town ? resolve(args.town) : findTownRoot(process.cwd());
  const config = loadTownConfig(root);
  const lock = acquireDaemonLock(root);
  const paths = daemonPaths(root);
  const logFile = openRotatingLog(paths.logFile, {
    maxBytes: config.daemon.log_max_bytes,
    keep: config.daemon.log_keep,
  });
  const log = logFile.logger;
  const db = openLedger(townLedgerPath(root));
  const store = new BeadStore(db, 'daemon');
  const env = { ...process.env, GT_TOWN: root };
  const ctx: DaemonContext = { root, store, log, env };

  let state: DaemonStatusFile['state'] = 'starting';
  const supervisor = new Supervisor({
    log,
    onTrip: (name, error, recent) => {
      log.error({ controller: name, recent_failures: recent }, 'controller crash-looping: breaker tripped');
      try {
        store.write(() => {
          recordActivity(db, { kind: 'controller-broken', actor: 'deacon', detail: `${name}: ${error}` });
        });
        createEscalation(new BeadStore(db, 'deacon'), {
          severity: 'HIGH',
          summary: `daemon controller ${name} is crash-looping (${recent} failures in 5 minutes)`,
          details: `Last error: ${error}\nThe Deacon retries it every 5 minutes. See gt daemon logs.`,
          source: SYSTEM_SENDER,
        });
      } catch (escalateError) {
        log.error({ err: escalateError }, 'could not escalate the broken controller');
      }
    },
  });
  const writeStatus = () => {
    try {
      writeStatusFile(root, {
        pid: process.pid,
        started_at: lock.identity.started_at,
        heartbeat_at: new Date().toISOString(),
        state,
        controllers: supervisor.statuses(),
      });
    } catch (error) {
      log.error({ err: error }, 'could not write the status file');
    }
  };

  const sync = async () => {
    try {
      await syncControllers(ctx, supervisor);
    } catch (error) {
      log.error({ err: error }, 'controller topology sync failed');
    }
  };

  log.info({ town: root, pid: process.pid }, 'daemon starting');
  await sync();
  state = 'running';
  writeStatus();
  log.info({ controllers: supervisor.names() }, 'daemon running');

  // data_version moves when ANOTHER connection commits: the watcher has its own, so it sees commits of
  // other processes and of this daemon's own controllers alike (a merge wakes the scheduler at once).
  const watch = openLedger(townLedgerPath(root));
  let lastVersion = watch.pragma('data_version', { simple: true }) as number;
  const ledgerTimer = setInterval(() => {
    try {
      const version = watch.pragma('data_version', { simple: true }) as number;
      if (version !== lastVersion) {
        lastVersion = version;
        void sync().then(() => supervisor.wakeAll());
      }
    } catch (error) {
      log.error({ err: error }, 'ledger watch failed');
    }
  }, LEDGER_POLL_MS);
  // The heartbeat also checks the log's size (one stat): rotation needs no timer of its own.
  const heartbeatTimer = setInterval(() => {
    // A town deleted under a running daemon (rm -rf, a test's temp dir): nothing left to run for.
    if (!existsSync(townConfigPath(root))) {
      log.warn({ town: root }, 'the town is gone: stopping');
      void shutdown('town-removed');
      return;
    }
    writeStatus();
    if (logFile.rotateIfNeeded()) log.info('log rotated');
  }, HEARTBEAT_MS);

  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    state = 'stopping';
    writeStatus();
    log.info({ signal }, 'daemon stopping');
    clearInterval(ledgerTimer);
    clearInterval(heartbeatTimer);
    await supervisor.stop(STOP_GRACE_MS);
    state = 'stopped';
    writeStatus();
    log.info('daemon stopped');
    logFile.flush();
    try {
      watch.close();
      db.close();
    } catch {}
    lock.release();
    resolveExit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, 'uncaught exception: exiting (a restart recomputes from the ledger)');
    logFile.flush();
    lock.release();
    process.exit(70);
  });
  process.on('unhandledRejection', (error) => {
    log.error({ err: error }, 'unhandled rejection');
  });
  return exited;
}
