import { GtError } from './errors';

export const STATUSES = [
  'open',
  'in_progress',
  'hooked',
  'in_review',
  'blocked',
  'deferred',
  'pinned',
  'closed',
] as const;
export type Status = (typeof STATUSES)[number];

/** Statuses that release the beads depending on them ("done" for readiness). */
export const RELEASING_STATUSES: readonly Status[] = ['closed', 'pinned'];

export const ISSUE_TYPES = [
  'task',
  'bug',
  'feature',
  'epic',
  'chore',
  'decision',
  'spike',
  'story',
  'milestone',
  'message',
  'molecule',
  'gate',
  'event',
  'convoy',
  'escalation',
  'merge-request',
  'agent',
  'role',
  'rig',
] as const;
export type IssueType = (typeof ISSUE_TYPES)[number];

/** Coordination types never offered as work by `bd ready` unless asked for by type. */
export const NON_WORK_TYPES: readonly string[] = [
  'message',
  'molecule',
  'gate',
  'event',
  'convoy',
  'escalation',
  'merge-request',
  'agent',
  'role',
  'rig',
];

const TYPE_ALIASES: Record<string, IssueType> = {
  enhancement: 'feature',
  feat: 'feature',
  dec: 'decision',
  adr: 'decision',
  investigation: 'spike',
  timebox: 'spike',
  'user-story': 'story',
  user_story: 'story',
  ms: 'milestone',
  mr: 'merge-request',
  mol: 'molecule',
};

export const DEP_TYPES = [
  'blocks',
  'parent-child',
  'related',
  'discovered-from',
  'conditional-blocks',
] as const;
export type DepType = (typeof DEP_TYPES)[number];
/** Edge types that hold the dependent bead back until the target is closed. */
export const BLOCKING_DEP_TYPES: readonly string[] = ['blocks', 'conditional-blocks'];

const DEP_ALIASES: Record<string, DepType> = {
  'blocked-by': 'blocks',
  'depends-on': 'blocks',
  'relates-to': 'related',
  parent: 'parent-child',
};

export interface Bead {
  id: string;
  title: string;
  description: string;
  design: string;
  acceptance_criteria: string;
  notes: string;
  status: Status;
  priority: number;
  issue_type: string;
  assignee: string | null;
  owner: string | null;
  rig: string | null;
  estimated_minutes: number | null;
  created_at: number;
  created_by: string;
  updated_at: number;
  started_at: number | null;
  closed_at: number | null;
  close_reason: string | null;
  due_at: number | null;
  defer_until: number | null;
  external_ref: string | null;
  metadata: string;
  is_blocked: number;
}

export interface Dependency {
  issue_id: string;
  depends_on_id: string;
  type: string;
  created_at: number;
  created_by: string;
  metadata: string;
}

export interface Comment {
  id: number;
  issue_id: string;
  author: string;
  text: string;
  created_at: number;
}

export interface BeadEvent {
  id: number;
  issue_id: string;
  event_type: string;
  actor: string;
  old_value: string | null;
  new_value: string | null;
  comment: string | null;
  created_at: number;
}

export const MAX_TITLE_CHARS = 500;
/** Long text fields (description, notes, comments…): big enough for any spec, small enough to stay fast. */
export const MAX_TEXT_BYTES = 1024 * 1024;

export function parsePriority(input: string | number): number {
  const text = String(input).trim();
  const match = /^[Pp]?([0-4])$/.exec(text);
  if (!match) {
    throw new GtError('GT_E_INVALID_PRIORITY', `invalid priority '${text}'`, {
      hint: 'use a number 0-4 or P0-P4 (0 = critical, 2 = medium (default), 4 = backlog); words like "high" are not accepted',
    });
  }
  return Number(match[1]);
}

export function parseStatus(input: string): Status {
  const text = input.trim().toLowerCase().replace(/-/g, '_');
  if ((STATUSES as readonly string[]).includes(text)) return text as Status;
  throw new GtError('GT_E_INVALID_STATUS', `invalid status '${input}'`, {
    hint: `use one of: ${STATUSES.join(', ')}`,
  });
}

export function parseIssueType(input: string): string {
  const text = input.trim().toLowerCase();
  const aliased = TYPE_ALIASES[text] ?? text;
  if ((ISSUE_TYPES as readonly string[]).includes(aliased)) return aliased;
  throw new GtError('GT_E_INVALID_TYPE', `invalid issue type '${input}'`, {
    hint: `use one of: ${ISSUE_TYPES.slice(0, 9).join(', ')} (or ${ISSUE_TYPES.slice(9).join(', ')})`,
  });
}

export function parseDepType(input: string): DepType {
  const text = input.trim().toLowerCase();
  const aliased = DEP_ALIASES[text] ?? text;
  if ((DEP_TYPES as readonly string[]).includes(aliased)) return aliased as DepType;
  throw new GtError('GT_E_INVALID_DEP_TYPE', `invalid dependency type '${input}'`, {
    hint: `use one of: ${DEP_TYPES.join(', ')}`,
  });
}

export function validateTitle(title: string): string {
  const trimmed = title.trim();
  if (trimmed.length === 0) {
    throw new GtError('GT_E_EMPTY_TITLE', 'a bead needs a non-empty title', {
      hint: 'pass a title: bd create "Fix the login redirect"',
    });
  }
  if ([...trimmed].length > MAX_TITLE_CHARS) {
    throw new GtError(
      'GT_E_TOO_LARGE',
      `title is ${[...trimmed].length} characters; the limit is ${MAX_TITLE_CHARS}`,
      {
        hint: 'keep the title short and put the detail in --description',
      },
    );
  }
  return trimmed;
}

export function validateText(field: string, text: string): string {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_TEXT_BYTES) {
    throw new GtError(
      'GT_E_TOO_LARGE',
      `${field} is ${bytes} bytes; the limit is ${MAX_TEXT_BYTES} bytes (1 MiB)`,
      {
        hint: `put large content in a file in the repository and reference its path in the ${field}`,
      },
    );
  }
  return text;
}

export function validateLabel(label: string): string {
  const trimmed = label.trim();
  if (trimmed.length === 0 || trimmed.length > 100 || /[\s,\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new GtError('GT_E_INVALID_LABEL', `invalid label '${label}'`, {
      hint: 'labels are 1-100 characters without spaces, commas or control characters, e.g. area:auth',
    });
  }
  return trimmed;
}

export function isReleasing(status: string): boolean {
  return (RELEASING_STATUSES as readonly string[]).includes(status);
}
