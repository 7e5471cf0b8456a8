import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';

/**
 * The daemon's structured log: pino JSON lines to logs/daemon.log, rotated by size (daemon.log.1 … .N,
 * oldest dropped). Rotation is checked on a timer, not per line, so logging stays cheap.
 */
export interface RotatingLog {
  logger: Logger;
  /** Rotates now if the file is over the limit. Returns whether it rotated. */
  rotateIfNeeded: () => boolean;
  flush: () => void;
}

export function rotateFiles(file: string, keep: number): void {
  if (keep <= 0) {
    rmSync(file, { force: true });
    return;
  }
  rmSync(`${file}.${keep}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) {
    if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
  }
  if (existsSync(file)) renameSync(file, `${file}.1`);
}

export function openRotatingLog(file: string, options: { maxBytes: number; keep: number }): RotatingLog {
  mkdirSync(dirname(file), { recursive: true });
  const destination = pino.destination({ dest: file, sync: true, mkdir: true });
  const logger = pino({ base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  return {
    logger,
    rotateIfNeeded: () => {
      let size = 0;
      try {
        size = statSync(file).size;
      } catch {
        return false;
      }
      if (size < options.maxBytes) return false;
      rotateFiles(file, options.keep);
      destination.reopen();
      return true;
    },
    flush: () => destination.flushSync(),
  };
}
