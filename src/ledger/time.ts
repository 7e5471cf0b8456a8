/** Ledger times are integer milliseconds (UTC); JSON shows RFC 3339. */
export function nowMs(): number {
  return Date.now();
}

export function toRfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

export function toRfc3339OrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : toRfc3339(ms);
}

/** Parses an RFC 3339 / ISO 8601 time from imported data; returns null when absent or unparsable. */
export function parseTime(value: unknown): number | null {
  if (typeof value !== 'string' || value.length === 0) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}
