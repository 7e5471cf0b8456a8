import { parseIssueType, parsePriority, parseStatus, type Status } from '../../core/bead';
import { GtError } from '../../core/errors';
import { readTextSource } from '../input';

/** Commander collectors and parsers shared by bd commands. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function splitList(values: readonly string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((value) => value.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

export function statusesFrom(values: readonly string[] | undefined): Status[] | 'all' | undefined {
  const list = splitList(values);
  if (list.length === 0) return undefined;
  if (list.includes('all')) return 'all';
  return list.map(parseStatus);
}

export function typesFrom(values: readonly string[] | undefined): string[] {
  return splitList(values).map(parseIssueType);
}

export function priorityFrom(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parsePriority(value);
}

export function limitFrom(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new GtError('GT_E_USAGE', `invalid limit '${value}'`, {
      hint: 'use a whole number; 0 means no limit',
    });
  }
  return n;
}

/** The description from -d, --body-file/--description-file (path or '-'), or --stdin. */
export function descriptionFrom(options: {
  description?: string;
  body?: string;
  bodyFile?: string;
  descriptionFile?: string;
  stdin?: boolean;
}): string | undefined {
  if (options.description !== undefined) return options.description;
  if (options.body !== undefined) return options.body;
  const file = options.bodyFile ?? options.descriptionFile ?? (options.stdin ? '-' : undefined);
  return file === undefined ? undefined : readTextSource(file, 'description');
}
