import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { GtError } from '../core/errors';
import { writeFileAtomic } from './atomic';
import { townLayout } from './layout';

/**
 * The Refinery's credential. The protected-main hook in every rig's bare repo accepts an update of the
 * default branch only when the pushing process carries this token in REFINERY_TOKEN_ENV. The token
 * lives in the town state dir (0600); each bare repo stores only its git blob hash (gt.refineryTokenHash),
 * which the hook recomputes with `git hash-object` — no extra tools needed in the hook.
 */
export const REFINERY_TOKEN_ENV = 'GT_REFINERY_TOKEN';

export function createRefinerySecret(townRoot: string): string {
  const token = randomBytes(32).toString('hex');
  writeFileAtomic(townLayout(townRoot).refinerySecret, `${token}\n`, 0o600);
  chmodSync(townLayout(townRoot).refinerySecret, 0o600);
  return token;
}

export function readRefinerySecret(townRoot: string): string {
  const file = townLayout(townRoot).refinerySecret;
  if (!existsSync(file)) {
    throw new GtError('GT_E_CONFIG', `the Refinery credential ${file} is missing`, {
      hint: "run 'gt doctor --fix' to create a new one and re-key every rig",
    });
  }
  const token = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(token)) {
    throw new GtError('GT_E_CONFIG', `the Refinery credential ${file} is malformed`, {
      hint: "run 'gt doctor --fix' to create a new one and re-key every rig",
    });
  }
  return token;
}

export function secretMode(townRoot: string): number | undefined {
  const file = townLayout(townRoot).refinerySecret;
  return existsSync(file) ? statSync(file).mode & 0o777 : undefined;
}

/**
 * The environment the Refinery adds to its `git push` of the default branch. Only the Refinery process
 * may call this; agents' sessions never receive it.
 */
export function refineryPushEnv(townRoot: string): Record<string, string> {
  return { [REFINERY_TOKEN_ENV]: readRefinerySecret(townRoot) };
}
