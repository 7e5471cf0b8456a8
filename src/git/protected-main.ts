import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../town/atomic';
import { git, runGit } from './git';

/**
 * The server-side guard of a rig's bare repo. `pre-receive` sees every ref a push wants to change, all at
 * once, and refuses the whole push when:
 *   - the default branch is created, updated or force-updated without the Refinery's credential;
 *   - the default branch would be deleted or moved backwards (even the Refinery only fast-forwards);
 *   - a polecat/* branch holding commits that are not on the default branch would be deleted.
 * Client-side `--no-verify` cannot skip it. It is plain POSIX sh plus git, so it needs nothing else.
 */
export const HOOK_NAME = 'pre-receive';
export const HOOK_VERSION = 1;
const HOOK_MARKER = `gt protected-main hook v${HOOK_VERSION}`;

export function protectedMainHookScript(): string {
  return `#!/bin/sh
# ${HOOK_MARKER}: installed by gt, restored by 'gt doctor --fix'. Do not edit.
# Only the Refinery (which carries GT_REFINERY_TOKEN) may move the default branch, and only forwards.
branch=$(git config --get gt.defaultBranch)
[ -n "$branch" ] || branch=main
main_ref="refs/heads/$branch"
expected=$(git config --get gt.refineryTokenHash)
credentialed=no
if [ -n "$GT_REFINERY_TOKEN" ] && [ -n "$expected" ]; then
  given=$(printf '%s' "$GT_REFINERY_TOKEN" | git hash-object --stdin)
  [ "$given" = "$expected" ] && credentialed=yes
fi
is_zero() { case "$1" in *[!0]*) return 1 ;; *) return 0 ;; esac; }
status=0
while read -r old new ref; do
  if [ "$ref" = "$main_ref" ]; then
    if is_zero "$new"; then
      echo "gt: refusing to delete $ref: the default branch is protected" >&2
      status=1
    elif [ "$credentialed" != yes ]; then
      echo "gt: refusing to update $ref: only the Refinery may write the default branch." >&2
      echo "gt: push your work to a branch and submit it with 'gt done'." >&2
      status=1
    elif ! is_zero "$old" && ! git merge-base --is-ancestor "$old" "$new" 2>/dev/null; then
      echo "gt: refusing non-fast-forward update of $ref" >&2
      status=1
    fi
    continue
  fi
  case "$ref" in
    refs/heads/polecat/*)
      if is_zero "$new" && ! is_zero "$old"; then
        if git rev-parse --verify --quiet "$main_ref" >/dev/null; then
          unmerged=$(git rev-list --max-count=1 "$old" --not "$main_ref" --)
        else
          unmerged=$old
        fi
        if [ -n "$unmerged" ]; then
          echo "gt: refusing to delete $ref: it holds commits that are not on $branch" >&2
          status=1
        fi
      fi
      ;;
  esac
done
exit $status
`;
}

export function hookPath(bareRepo: string): string {
  return join(bareRepo, 'hooks', HOOK_NAME);
}

/** Writes the hook and the repo config it relies on. Safe to repeat (doctor --fix uses it). */
export async function installProtectedMain(
  bareRepo: string,
  defaultBranch: string,
  token: string,
): Promise<void> {
  mkdirSync(join(bareRepo, 'hooks'), { recursive: true });
  const file = hookPath(bareRepo);
  writeFileAtomic(file, protectedMainHookScript(), 0o755);
  chmodSync(file, 0o755);
  // A global core.hooksPath (husky & co.) would otherwise make git skip this repo's hooks.
  await git(['config', 'core.hooksPath', 'hooks'], { cwd: bareRepo });
  await git(['config', 'gt.defaultBranch', defaultBranch], { cwd: bareRepo });
  await git(['config', 'gt.refineryTokenHash', await repoTokenHash(bareRepo, token)], { cwd: bareRepo });
  await git(['config', 'receive.denyDeleteCurrent', 'refuse'], { cwd: bareRepo });
}

/** The token's blob id in this repository's object format; what the hook compares against. */
export async function repoTokenHash(bareRepo: string, token: string): Promise<string> {
  return git(['hash-object', '--stdin'], { cwd: bareRepo, input: token });
}

export interface HookProblem {
  what: 'missing' | 'modified' | 'not-executable' | 'hooks-path' | 'default-branch' | 'token';
  message: string;
}

/** Everything that would let a push bypass the guard. Empty when the guard is intact. */
export async function inspectProtectedMain(
  bareRepo: string,
  defaultBranch: string,
  token: string | undefined,
): Promise<HookProblem[]> {
  const problems: HookProblem[] = [];
  const file = hookPath(bareRepo);
  if (!existsSync(file)) {
    problems.push({ what: 'missing', message: `hook ${file} is missing` });
  } else {
    if (readFileSync(file, 'utf8') !== protectedMainHookScript()) {
      problems.push({ what: 'modified', message: `hook ${file} differs from the one gt installs` });
    }
    if ((statSync(file).mode & 0o111) === 0) {
      problems.push({ what: 'not-executable', message: `hook ${file} is not executable` });
    }
  }
  const config = async (key: string) =>
    (await runGit(['config', '--get', key], { cwd: bareRepo })).stdout.trim();
  const hooksPath = await config('core.hooksPath');
  if (hooksPath !== 'hooks') {
    problems.push({
      what: 'hooks-path',
      message: `core.hooksPath is ${hooksPath ? `'${hooksPath}'` : 'unset'} in ${bareRepo} (must be 'hooks' so a global setting cannot bypass the guard)`,
    });
  }
  const branch = await config('gt.defaultBranch');
  if (branch !== defaultBranch) {
    problems.push({
      what: 'default-branch',
      message: `gt.defaultBranch is '${branch}' but rig.toml says '${defaultBranch}'`,
    });
  }
  if (token !== undefined) {
    const stored = await config('gt.refineryTokenHash');
    if (stored !== (await repoTokenHash(bareRepo, token))) {
      problems.push({
        what: 'token',
        message: `gt.refineryTokenHash does not match the town's Refinery credential`,
      });
    }
  }
  return problems;
}
