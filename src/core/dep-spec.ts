import { type DepType, parseDepType } from './bead';
import { GtError } from './errors';

/** One entry of `bd create --deps`: `id`, `type:id`, or `blocks:id` (the reverse: id depends on the new bead). */
export interface DepSpec {
  type: DepType;
  target: string;
  /** true when the target depends on the new bead rather than the other way round. */
  reversed: boolean;
}

export function parseDepSpecs(input: string): DepSpec[] {
  return input
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map(parseDepSpec);
}

export function parseDepSpec(spec: string): DepSpec {
  const colon = spec.indexOf(':');
  if (colon === -1) return { type: 'blocks', target: spec, reversed: false };
  const kind = spec.slice(0, colon).trim().toLowerCase();
  const target = spec.slice(colon + 1).trim();
  if (target.length === 0) {
    throw new GtError('GT_E_INVALID_INPUT', `dependency '${spec}' names no bead`, {
      hint: 'write deps as <id>, <type>:<id> or blocks:<id>, e.g. --deps gt-a1b,discovered-from:gt-c2d',
    });
  }
  if (kind === 'blocks') return { type: 'blocks', target, reversed: true };
  return { type: parseDepType(kind), target, reversed: false };
}
