import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { GtError } from '../core/errors';
import { LATEST_LEDGER_VERSION, MIGRATIONS } from './migrations';

export type Db = Database.Database;

/** 'GTLG': marks a SQLite file as a gt ledger so we never migrate someone else's database. */
export const LEDGER_APPLICATION_ID = 0x47544c47;

/** Many agents write at once: wait for the lock rather than fail (see DESIGN §2.10). */
const BUSY_TIMEOUT_MS = 30_000;

export interface OpenLedgerOptions {
  /** Create the file (and folders) if missing; otherwise a missing ledger is GT_E_NO_LEDGER. */
  create?: boolean;
  readonly?: boolean;
}

/** Opens (and migrates) the ledger at `path`. Refuses corrupt, foreign and newer-version files untouched. */
export function openLedger(path: string, options: OpenLedgerOptions = {}): Db {
  const exists = existsSync(path);
  if (!exists && !options.create) {
    throw new GtError('GT_E_NO_LEDGER', `no ledger at ${path}`, {
      hint: "run 'bd init' in your project (or 'gt install <dir>' for a town) to create one",
    });
  }
  if (exists && statSync(path).isDirectory()) {
    throw new GtError('GT_E_LEDGER_CORRUPT', `ledger path ${path} is a directory, not a database file`, {
      hint: 'point the ledger setting at a file',
    });
  }
  if (!exists) mkdirSync(dirname(path), { recursive: true });

  let db: Db;
  try {
    db = new Database(path, { fileMustExist: !options.create, timeout: BUSY_TIMEOUT_MS });
  } catch (error) {
    throw corruptError(path, error);
  }
  try {
    configure(db, Boolean(options.readonly));
    migrate(db, path);
  } catch (error) {
    db.close();
    if (error instanceof GtError) throw error;
    throw corruptError(path, error);
  }
  return db;
}

function configure(db: Db, readonly: boolean): void {
  // Reading the header is the first real I/O: a non-SQLite file fails here with SQLITE_NOTADB.
  const mode = db.pragma('journal_mode', { simple: true }) as string;
  if (mode !== 'wal' && !readonly) db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
}

function migrate(db: Db, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const appId = db.pragma('application_id', { simple: true }) as number;
  checkIdentity(path, version, appId, db);
  if (version === LATEST_LEDGER_VERSION) return;

  if (version > 0) backupBeforeMigration(db, path, version);
  const apply = db.transaction(() => {
    // Re-read inside the write lock: another process may have migrated while we waited.
    const current = db.pragma('user_version', { simple: true }) as number;
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }
    db.pragma(`application_id = ${LEDGER_APPLICATION_ID}`);
  });
  apply.immediate();
}

function checkIdentity(path: string, version: number, appId: number, db: Db): void {
  if (appId !== 0 && appId !== LEDGER_APPLICATION_ID) {
    throw new GtError('GT_E_LEDGER_FOREIGN', `${path} is a SQLite database that does not belong to gt`, {
      hint: 'point gt at its own ledger file; this one was left untouched',
    });
  }
  if (appId === 0 && version === 0) {
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as {
      n: number;
    };
    if (tables.n > 0) {
      throw new GtError(
        'GT_E_LEDGER_FOREIGN',
        `${path} is a SQLite database with other tables, not a gt ledger`,
        {
          hint: 'point gt at its own ledger file; this one was left untouched',
        },
      );
    }
  }
  if (version > LATEST_LEDGER_VERSION) {
    throw new GtError(
      'GT_E_LEDGER_TOO_NEW',
      `ledger ${path} is at schema version ${version}, newer than this gt understands (${LATEST_LEDGER_VERSION})`,
      { hint: 'upgrade gt to the version that wrote this ledger; it was left untouched (never downgraded)' },
    );
  }
}

function backupBeforeMigration(db: Db, path: string, version: number): void {
  db.pragma('wal_checkpoint(TRUNCATE)');
  copyFileSync(path, `${path}.v${version}.bak`);
}

function corruptError(path: string, cause: unknown): GtError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  if (/SQLITE_BUSY|database is locked/i.test(detail)) {
    return new GtError('GT_E_LEDGER_BUSY', `ledger ${path} stayed locked for ${BUSY_TIMEOUT_MS / 1000}s`, {
      hint: 'another process holds a long write lock; retry, or look for a stuck gt/bd process',
      cause,
    });
  }
  return new GtError('GT_E_LEDGER_CORRUPT', `cannot read ledger ${path}: ${detail}`, {
    hint: 'the file is not a readable SQLite database; restore it from a backup (it was not modified)',
    cause,
  });
}

const statementCache = new WeakMap<Db, Map<string, Database.Statement>>();

/**
 * Prepared statements are compiled once per connection. Callers that use `.pluck()` on a statement must
 * always do so for that SQL text (the mode sticks to the cached statement).
 */
export function prepared<P extends unknown[] | object = unknown[], R = unknown>(
  db: Db,
  sql: string,
): Database.Statement<P, R> {
  let cache = statementCache.get(db);
  if (!cache) {
    cache = new Map();
    statementCache.set(db, cache);
  }
  let statement = cache.get(sql);
  if (!statement) {
    statement = db.prepare(sql);
    cache.set(sql, statement);
  }
  return statement as unknown as Database.Statement<P, R>;
}
