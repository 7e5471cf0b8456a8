import { GtError } from '../core/errors';

/**
 * Names of rigs, polecats and crew become directory names, branch components, tmux session names and
 * agent addresses, so they are held to one conservative rule set. Pure: no I/O.
 */
export type NameKind = 'rig' | 'polecat' | 'crew';

export const MAX_NAME_LENGTH = 40;

const ALLOWED = /^[a-z0-9][a-z0-9_-]*$/;

/** Names that would collide with a role or a folder of the town layout. */
const RESERVED = new Set([
  'mayor',
  'deacon',
  'witness',
  'refinery',
  'crew',
  'polecats',
  'polecat',
  'town',
  'rigs',
  'logs',
  'hq',
  'head',
]);
/** Device names some filesystems refuse as file names. */
const DEVICE_NAMES = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;

export interface NameProblem {
  rule: string;
  message: string;
}

/** Returns the first rule `name` breaks, or undefined when it is valid. */
export function checkName(kind: NameKind, name: string): NameProblem | undefined {
  const shown = JSON.stringify(name);
  if (name.length === 0) return { rule: 'non-empty', message: `${kind} name must not be empty` };
  if (name.length > MAX_NAME_LENGTH) {
    return {
      rule: 'max-length',
      message: `${kind} name ${shown} is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`,
    };
  }
  if (/[/\\]/.test(name)) {
    return { rule: 'no-path-separator', message: `${kind} name ${shown} contains a path separator` };
  }
  if (name.includes('..')) return { rule: 'no-dot-dot', message: `${kind} name ${shown} contains '..'` };
  if (name.startsWith('-')) {
    return {
      rule: 'no-leading-dash',
      message: `${kind} name ${shown} starts with '-' (would read as an option)`,
    };
  }
  if (name.startsWith('.')) {
    return { rule: 'no-leading-dot', message: `${kind} name ${shown} starts with '.' (hidden file)` };
  }
  if (/[\s\u0000-\u001f\u007f-\u009f]/.test(name)) {
    return {
      rule: 'no-whitespace-or-control',
      message: `${kind} name ${shown} contains whitespace or a control character`,
    };
  }
  if (/[A-Z]/.test(name) && ALLOWED.test(name.toLowerCase())) {
    return {
      rule: 'lowercase',
      message: `${kind} name ${shown} has upper-case letters (names must be lowercase so they cannot collide on case-insensitive filesystems)`,
    };
  }
  if (!ALLOWED.test(name)) {
    const bad = [...new Set([...name].filter((ch) => !/[a-z0-9_-]/.test(ch)))].join('');
    return {
      rule: 'charset',
      message: `${kind} name ${shown} ${bad ? `contains ${JSON.stringify(bad)}` : 'must start with a letter or digit'}; allowed are lowercase letters, digits, '-' and '_', starting with a letter or digit`,
    };
  }
  if (RESERVED.has(name)) {
    return {
      rule: 'reserved',
      message: `${kind} name ${shown} is reserved for the town's own roles and folders`,
    };
  }
  if (DEVICE_NAMES.test(name)) {
    return {
      rule: 'reserved',
      message: `${kind} name ${shown} is a reserved device name on some filesystems`,
    };
  }
  return undefined;
}

/** Throws GT_E_INVALID_NAME stating the rule broken; returns the name when valid. */
export function validateName(kind: NameKind, name: string): string {
  const problem = checkName(kind, name);
  if (problem) {
    throw new GtError(
      'GT_E_INVALID_NAME',
      `invalid ${kind} name: ${problem.message} (rule: ${problem.rule})`,
      {
        hint: `use 1-${MAX_NAME_LENGTH} lowercase letters, digits, '-' or '_', starting with a letter or digit, e.g. 'app' or 'web-api'`,
        details: { rule: problem.rule },
      },
    );
  }
  return name;
}
