/** Doctor's vocabulary and its pure decisions (version rules, lock-file parsing). No I/O. */

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  id: string;
  status: CheckStatus;
  message: string;
  hint?: string;
  /** A safe repair for this finding; run by `gt doctor --fix`. Returns what it did. */
  fix?: () => Promise<string>;
}

export interface ReportedCheck {
  id: string;
  status: CheckStatus;
  message: string;
  hint?: string;
  fixable: boolean;
  /** What --fix did about it, if anything. */
  fixed?: string;
  fixError?: string;
}

export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** `tmux 3.3a`, `tmux next-3.4`, `tmux 3.0` → [3, 3]; `tmux master` → undefined (a dev build: assume new). */
export function parseTmuxVersion(output: string): number[] | undefined {
  const match = /(\d+)\.(\d+)/.exec(output);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

export function parseNodeVersion(version: string): number[] {
  return version
    .replace(/^v/, '')
    .split('.')
    .map((part) => Number.parseInt(part, 10) || 0);
}

export const MIN_VERSIONS = { git: [2, 25], tmux: [3, 0], node: [20, 0] } as const;

/**
 * Lock and pid files name their owner: a JSON object with a `pid`, or a pid as the first number in the
 * file. Returns undefined when the file names no process (its staleness is then unknown).
 */
export function ownerPid(content: string): number | undefined {
  const trimmed = content.trim();
  if (trimmed.startsWith('{')) {
    try {
      const pid = (JSON.parse(trimmed) as { pid?: unknown }).pid;
      return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }
  const match = /^\s*(\d+)/.exec(trimmed);
  const pid = match ? Number(match[1]) : undefined;
  return pid !== undefined && pid > 0 ? pid : undefined;
}

/** A git lock file older than this is left over from a crashed git; younger ones may be in use. */
export const STALE_GIT_LOCK_MS = 15 * 60_000;

export function summarise(checks: readonly ReportedCheck[]): { pass: number; warn: number; fail: number } {
  return {
    pass: checks.filter((c) => c.status === 'pass').length,
    warn: checks.filter((c) => c.status === 'warn').length,
    fail: checks.filter((c) => c.status === 'fail').length,
  };
}
