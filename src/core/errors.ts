/**
 * User-facing errors carry a stable code (GT_E_…), a message saying what was wrong and where,
 * and a hint saying how to fix it. Anything else that escapes a command is an internal bug.
 */
export type ErrorCode =
  | 'GT_E_USAGE'
  | 'GT_E_NOT_FOUND'
  | 'GT_E_AMBIGUOUS_ID'
  | 'GT_E_INVALID_ID'
  | 'GT_E_INVALID_PRIORITY'
  | 'GT_E_INVALID_STATUS'
  | 'GT_E_INVALID_TYPE'
  | 'GT_E_INVALID_DEP_TYPE'
  | 'GT_E_INVALID_LABEL'
  | 'GT_E_INVALID_INPUT'
  | 'GT_E_INVALID_UTF8'
  | 'GT_E_EMPTY_TITLE'
  | 'GT_E_TOO_LARGE'
  | 'GT_E_SELF_DEPENDENCY'
  | 'GT_E_CYCLE'
  | 'GT_E_DEP_CONFLICT'
  | 'GT_E_BLOCKED'
  | 'GT_E_OPEN_CHILDREN'
  | 'GT_E_ALREADY_CLAIMED'
  | 'GT_E_NOT_CLAIMABLE'
  | 'GT_E_ALREADY_OPEN'
  | 'GT_E_ID_EXHAUSTED'
  | 'GT_E_NO_LEDGER'
  | 'GT_E_LEDGER_EXISTS'
  | 'GT_E_LEDGER_TOO_NEW'
  | 'GT_E_LEDGER_CORRUPT'
  | 'GT_E_LEDGER_FOREIGN'
  | 'GT_E_LEDGER_BUSY'
  | 'GT_E_IMPORT'
  | 'GT_E_IO'
  | 'GT_E_NO_TOWN'
  | 'GT_E_TOWN_EXISTS'
  | 'GT_E_DIR_NOT_EMPTY'
  | 'GT_E_CONFIG'
  | 'GT_E_INVALID_NAME'
  | 'GT_E_RIG_EXISTS'
  | 'GT_E_RIG_NOT_FOUND'
  | 'GT_E_UNMERGED_WORK'
  | 'GT_E_GIT'
  | 'GT_E_TOOL_MISSING'
  | 'GT_E_TOOL_TOO_OLD'
  | 'GT_E_UNKNOWN_AGENT'
  | 'GT_E_SESSION'
  | 'GT_E_NO_SESSION'
  | 'GT_E_CONVOY_NOT_FOUND'
  | 'GT_E_CONVOY_CLOSED'
  | 'GT_E_UNKNOWN_ADDRESS'
  | 'GT_E_NO_RECIPIENTS'
  | 'GT_E_EMPTY_SUBJECT'
  | 'GT_E_MESSAGE_NOT_FOUND'
  | 'GT_E_NOT_ALLOWED'
  | 'GT_E_INVALID_SEVERITY'
  | 'GT_E_ESCALATION_NOT_FOUND'
  | 'GT_E_ESCALATION_CLOSED'
  // the work loop (sling, prime, done, handoff)
  | 'GT_E_NOT_SLINGABLE'
  | 'GT_E_ALREADY_HOOKED'
  | 'GT_E_AGENT_BUSY'
  | 'GT_E_RIG_PARKED'
  | 'GT_E_CAPACITY'
  | 'GT_E_NOT_AN_AGENT'
  | 'GT_E_NO_HOOK'
  | 'GT_E_DIRTY_WORKTREE'
  | 'GT_E_EMPTY_BRANCH'
  | 'GT_E_WRONG_BRANCH'
  | 'GT_E_PUSH_FAILED'
  | 'GT_E_MR_NOT_FOUND'
  | 'GT_E_MR_STATE'
  | 'GT_E_ALREADY_REJECTED'
  | 'GT_E_REFINERY_BUSY'
  // the daemon (up/down, scheduler, emergency stop, demo)
  | 'GT_E_NOT_BUILT'
  | 'GT_E_DAEMON_RUNNING'
  | 'GT_E_DAEMON_LOCK'
  | 'GT_E_DAEMON_START'
  | 'GT_E_PAUSED'
  | 'GT_E_DEMO_FAILED';

export interface GtErrorOptions {
  hint?: string;
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class GtError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: GtErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GtError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }
}

export function isGtError(value: unknown): value is GtError {
  return value instanceof GtError;
}

/** Exit statuses: 1 for a refused request (beads-compatible), 2 for bad usage, 70 for our own bugs. */
export const EXIT_USER_ERROR = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERNAL = 70;

export function exitCodeFor(error: unknown): number {
  if (isGtError(error)) return error.code === 'GT_E_USAGE' ? EXIT_USAGE : EXIT_USER_ERROR;
  return EXIT_INTERNAL;
}
