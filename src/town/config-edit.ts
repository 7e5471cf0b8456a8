import { existsSync, readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseToml, stringify } from 'smol-toml';
import type { z } from 'zod';
import { GtError } from '../core/errors';
import { git } from '../git/git';
import { writeFileAtomic } from './atomic';
import {
  formatIssues,
  knownKeys,
  rigConfigSchema,
  townConfigPath,
  townConfigSchema,
  validateToml,
} from './config';
import { rigLayout } from './layout';
import { requireRigRow, syncRigRow } from './rig-store';
import { EXPERIMENTAL_PUSH_URL, withTownLedger } from './rigs';
import { getPath, parseCliValue, setPath, setTomlValueText } from './toml-edit';

/** `gt config get|set`: reads and writes town.toml (or a rig's rig.toml) safely. */

interface Target {
  file: string;
  schema: z.ZodType;
  rig?: string;
}

function target(townRoot: string, rig: string | undefined): Target {
  if (rig === undefined) return { file: townConfigPath(townRoot), schema: townConfigSchema };
  withTownLedger(townRoot, (db) => requireRigRow(db, rig));
  return { file: rigLayout(townRoot, rig).config, schema: rigConfigSchema, rig };
}

function splitKey(key: string): string[] {
  const path = key.split('.');
  if (path.some((part) => part.length === 0)) {
    throw new GtError('GT_E_USAGE', `config key '${key}' is malformed`, {
      hint: 'e.g. scheduler.max_polecats',
    });
  }
  return path;
}

function loadValidated(t: Target): { value: unknown; raw: Record<string, unknown>; text: string } {
  if (!existsSync(t.file))
    throw new GtError('GT_E_CONFIG', `${t.file} does not exist`, { hint: "run 'gt doctor'" });
  const text = readFileSync(t.file, 'utf8');
  const result = validateToml(t.file, text, t.schema);
  if (!result.ok) {
    throw new GtError('GT_E_CONFIG', `invalid config:\n${formatIssues(result.issues)}`, {
      hint: `fix ${t.file} first (see 'gt doctor')`,
      details: { issues: result.issues },
    });
  }
  return { value: result.value, raw: result.raw, text };
}

function unknownKey(t: Target, key: string, path: string[]): GtError {
  const known = knownKeys(t.schema, path.slice(0, -1));
  return new GtError('GT_E_CONFIG', `${t.file}: unknown key '${key}'`, {
    hint:
      known.length > 0 ? `known keys here: ${known.join(', ')}` : 'see docs/towns-and-rigs.md for the keys',
  });
}

export function getConfig(
  townRoot: string,
  key: string | undefined,
  rig?: string,
): { file: string; key: string | null; value: unknown } {
  const t = target(townRoot, rig);
  const { value } = loadValidated(t);
  if (key === undefined) return { file: t.file, key: null, value };
  const path = splitKey(key);
  const found = getPath(value, path);
  if (found === undefined) {
    const parent = knownKeys(t.schema, path.slice(0, -1));
    if (!parent.includes(path[path.length - 1] as string) && parent.length > 0)
      throw unknownKey(t, key, path);
  }
  return { file: t.file, key, value: found ?? null };
}

export interface SetConfigResult {
  file: string;
  key: string;
  value: unknown;
  previous: unknown;
  /** False when the file had to be re-serialised (its comments could not be kept). */
  commentsKept: boolean;
}

export async function setConfig(
  townRoot: string,
  key: string,
  rawValue: string,
  rig?: string,
): Promise<SetConfigResult> {
  const t = target(townRoot, rig);
  const path = splitKey(key);
  if (rig !== undefined && key === 'prefix') {
    throw new GtError('GT_E_CONFIG', "a rig's bead prefix cannot be changed (beads already carry it)", {
      hint: 'remove and re-add the rig to use another prefix',
    });
  }
  const current = loadValidated(t);
  const value = parseCliValue(rawValue);
  const updated = setPath(current.raw, path, value);
  const check = t.schema.safeParse(updated);
  if (!check.success) {
    const validation = validateToml(t.file, stringify(updated), t.schema);
    const issues = validation.ok ? [] : validation.issues;
    const unknown = issues.find((issue) => issue.message.startsWith('unknown key'));
    if (unknown) throw unknownKey(t, key, path);
    throw new GtError('GT_E_CONFIG', `cannot set ${key} = ${rawValue}:\n${formatIssues(issues)}`, {
      hint: `${t.file} was left unchanged`,
      details: { issues },
    });
  }
  if (t.rig !== undefined && key === 'default_branch')
    await checkBranchExists(townRoot, t.rig, String(value));

  let text = setTomlValueText(current.text, path, value);
  let commentsKept = true;
  if (text === undefined || !sameDocument(safeParse(text), updated)) {
    text = stringify(updated);
    commentsKept = false;
  }
  writeFileAtomic(t.file, text.endsWith('\n') ? text : `${text}\n`);
  if (t.rig !== undefined)
    await applyRigIdentity(townRoot, t.rig, check.data as z.infer<typeof rigConfigSchema>);
  return { file: t.file, key, value, previous: getPath(current.raw, path) ?? null, commentsKept };
}

/** Compares documents by value (parsed TOML tables have no prototype; clones do). */
function sameDocument(a: unknown, b: unknown): boolean {
  return a !== undefined && isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
}

function safeParse(text: string): unknown {
  try {
    return parseToml(text);
  } catch {
    return undefined;
  }
}

async function checkBranchExists(townRoot: string, rig: string, branch: string): Promise<void> {
  const bare = rigLayout(townRoot, rig).bare;
  try {
    await git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], { cwd: bare });
  } catch {
    throw new GtError('GT_E_CONFIG', `rig '${rig}' has no branch '${branch}' in ${bare}`, {
      hint: 'the default branch must already exist in the rig',
    });
  }
}

/** Keeps the ledger row and the bare repo (guard branch, upstream push URL) in step with rig.toml. */
export async function applyRigIdentity(
  townRoot: string,
  rig: string,
  config: z.infer<typeof rigConfigSchema>,
): Promise<void> {
  withTownLedger(townRoot, (db) =>
    syncRigRow(db, rig, {
      defaultBranch: config.default_branch,
      experimental: config.experimental,
      upstream: config.upstream ?? null,
    }),
  );
  const bare = rigLayout(townRoot, rig).bare;
  if (!existsSync(bare)) return;
  await git(['config', 'gt.defaultBranch', config.default_branch], { cwd: bare });
  await git(['symbolic-ref', 'HEAD', `refs/heads/${config.default_branch}`], { cwd: bare });
  if (config.experimental) {
    await git(['config', 'remote.upstream.pushurl', EXPERIMENTAL_PUSH_URL], { cwd: bare });
  } else {
    await git(['config', '--unset-all', 'remote.upstream.pushurl'], { cwd: bare }).catch(() => undefined);
  }
  if (config.upstream) await git(['config', 'remote.upstream.url', config.upstream], { cwd: bare });
}
