import { createHash } from 'node:crypto';
import { GtError } from './errors';

/** Hash suffixes grow with the number of beads so that collisions stay rare (birthday bound ≤ 25%). */
export const MIN_HASH_LENGTH = 3;
export const MAX_HASH_LENGTH = 8;
const MAX_COLLISION_PROBABILITY = 0.25;

export function hashLengthFor(existing: number): number {
  for (let length = MIN_HASH_LENGTH; length < MAX_HASH_LENGTH; length++) {
    const space = 36 ** length;
    const probability = 1 - Math.exp(-(existing * existing) / (2 * space));
    if (probability <= MAX_COLLISION_PROBABILITY) return length;
  }
  return MAX_HASH_LENGTH;
}

/** A base36 suffix of exactly `length` characters from a SHA-256 of the seed. */
export function hashSuffix(seed: string, length: number): string {
  const digest = createHash('sha256').update(seed).digest();
  const value = digest.readBigUInt64BE(0);
  return value.toString(36).padStart(length, '0').slice(-length);
}

/** Candidate ids for a new bead, in the order they should be tried: longer ones only after collisions. */
export function* candidateIds(prefix: string, seed: string, existing: number): Generator<string> {
  for (let length = hashLengthFor(existing); length <= MAX_HASH_LENGTH; length++) {
    for (let nonce = 0; nonce < 10; nonce++) {
      yield `${prefix}-${hashSuffix(`${seed}|${nonce}`, length)}`;
    }
  }
}

const PREFIX_PATTERN = /^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$/;

/** Prefixes are lowercase identifiers (hyphens allowed inside), at most 20 characters. */
export function validatePrefix(prefix: string): string {
  if (prefix.length === 0 || prefix.length > 20 || !PREFIX_PATTERN.test(prefix)) {
    throw new GtError('GT_E_INVALID_INPUT', `invalid bead id prefix '${prefix}'`, {
      hint: "use 1-20 lowercase letters, digits or '_', starting with a letter (hyphens allowed inside), e.g. 'gt' or 'web'",
    });
  }
  return prefix;
}

/** Derives a prefix from a directory or rig name: 'My Web-App' → 'my-web-app' → shortened to ≤ 20. */
export function derivePrefix(name: string): string {
  let prefix = name
    .toLowerCase()
    .replace(/^\.+/, '')
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!/^[a-z]/.test(prefix)) prefix = `bd${prefix ? `_${prefix}` : ''}`.replace(/-/g, '_');
  return prefix.slice(0, 20).replace(/-+$/, '');
}

export function childId(parentId: string, n: number): string {
  return `${parentId}.${n}`;
}

/** The prefix of an id: everything before the last '-' of its top-level part. */
export function prefixOf(id: string): string {
  const topLevel = id.split('.')[0] ?? id;
  const dash = topLevel.lastIndexOf('-');
  return dash <= 0 ? '' : topLevel.slice(0, dash);
}

const ID_PATTERN = /^[a-z][a-z0-9_-]*-[a-z0-9]+(\.[0-9]+)*$/;

/** Explicit ids (import, --id) must look like ids: '<prefix>-<suffix>[.<n>…]'. */
export function isWellFormedId(id: string): boolean {
  return id.length <= 100 && ID_PATTERN.test(id);
}
