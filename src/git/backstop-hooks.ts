import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../town/atomic';
import { git, runGit } from './git';

/**
 * The second wall (docs/guard.md): git hooks installed in every polecat checkout, for an agent that runs
 * git without going through its tool-call guard. They live in `<checkout>/.git/gt-hooks`, and the
 * checkout's `core.hooksPath` points there (a local setting, so a global hooksPath — husky & co. — cannot
 * switch them off, and the repository's own files cannot either).
 *
 *   pre-commit            refuses commits on the default branch, and on a detached HEAD at main's tip
 *   pre-push              refuses pushes whose remote ref is the default branch (any spelling reaches it
 *                         as refs/heads/<branch>), deletions of any ref, non-fast-forward updates, and
 *                         --mirror/--prune (whose deletions git does not show the hook; read from the
 *                         parent process's arguments with ps)
 *   reference-transaction refuses any local update of refs/heads/<default> (git ≥ 2.28; ignored before)
 *
 * `--no-verify` or `-c core.hooksPath=/dev/null` skip them: the bare repo's pre-receive hook is the wall
 * that cannot be skipped. Plain POSIX sh + git, like that hook.
 */
export const BACKSTOP_DIR = 'gt-hooks';
export const BACKSTOP_VERSION = 1;
const MARKER = `gt polecat backstop v${BACKSTOP_VERSION}`;

const PRELUDE = `#!/bin/sh
# ${MARKER}: installed by gt in a polecat checkout. Do not edit.
branch=$(git config --get gt.defaultBranch)
[ -n "$branch" ] || branch=main
lower() { printf '%s' "$1" | tr 'A-Z' 'a-z'; }
main_lc=$(lower "refs/heads/$branch")
`;

export const BACKSTOP_HOOKS: Record<string, string> = {
  'pre-commit': `${PRELUDE}current=$(git symbolic-ref -q HEAD)
if [ -n "$current" ]; then
  if [ "$(lower "$current")" = "$main_lc" ]; then
    echo "gt: refusing to commit on $branch: only the Refinery writes the default branch." >&2
    echo "gt: commit on your polecat branch (git switch polecat/...)." >&2
    exit 1
  fi
  exit 0
fi
# Detached HEAD: refuse when it sits on the tip of the default branch (a commit there is main's next commit).
head=$(git rev-parse -q --verify HEAD)
for ref in "refs/heads/$branch" "refs/remotes/origin/$branch"; do
  tip=$(git rev-parse -q --verify "$ref")
  if [ -n "$head" ] && [ "$head" = "$tip" ]; then
    echo "gt: refusing to commit on a detached HEAD at the tip of $branch; work on your polecat branch." >&2
    exit 1
  fi
done
exit 0
`,
  'pre-push': `${PRELUDE}zero=0000000000000000000000000000000000000000
is_zero() { case "$1" in *[!0]*) return 1 ;; *) return 0 ;; esac; }
status=0
# git does not list the remote refs that --mirror and --prune delete on this hook's input: look at the
# push command itself (our parent process) and refuse those options outright.
for word in $(ps -o args= -p "$PPID" 2>/dev/null); do
  case "$word" in
    --mi*|--pru*)
      echo "gt: refusing git push $word: it deletes remote refs (the default branch among them)." >&2
      exit 1
      ;;
  esac
done
while read -r local_ref local_sha remote_ref remote_sha; do
  [ -n "$remote_ref" ] || continue
  if [ "$(lower "$remote_ref")" = "$main_lc" ]; then
    echo "gt: refusing to push to $remote_ref: only the Refinery writes $branch. Push your branch and run 'gt done'." >&2
    status=1
    continue
  fi
  if is_zero "$local_sha"; then
    echo "gt: refusing to delete $remote_ref: agents never delete refs." >&2
    status=1
    continue
  fi
  if ! is_zero "$remote_sha"; then
    if ! git cat-file -e "$remote_sha^{commit}" 2>/dev/null || ! git merge-base --is-ancestor "$remote_sha" "$local_sha"; then
      echo "gt: refusing non-fast-forward push to $remote_ref: force pushes are not allowed." >&2
      status=1
    fi
  fi
done
exit $status
`,
  'reference-transaction': `${PRELUDE}[ "$1" = prepared ] || exit 0
status=0
while read -r old new ref; do
  if [ "$(lower "$ref")" = "$main_lc" ]; then
    echo "gt: refusing to change $ref in a polecat checkout: only the Refinery moves $branch." >&2
    status=1
  fi
done
exit $status
`,
};

export function backstopDir(checkout: string): string {
  return join(checkout, '.git', BACKSTOP_DIR);
}

/** Writes the hooks and the checkout config they rely on. Safe to repeat. */
export async function installBackstops(checkout: string, defaultBranch: string): Promise<string> {
  const dir = backstopDir(checkout);
  mkdirSync(dir, { recursive: true });
  for (const [name, script] of Object.entries(BACKSTOP_HOOKS)) {
    const file = join(dir, name);
    writeFileAtomic(file, script, 0o755);
    chmodSync(file, 0o755);
  }
  await git(['config', 'gt.defaultBranch', defaultBranch], { cwd: checkout });
  await git(['config', 'core.hooksPath', dir], { cwd: checkout });
  return dir;
}

export interface BackstopProblem {
  hook: string;
  message: string;
}

/** What would let a commit or push in this checkout skip the backstops. Empty when intact. */
export async function inspectBackstops(checkout: string, defaultBranch: string): Promise<BackstopProblem[]> {
  const problems: BackstopProblem[] = [];
  const dir = backstopDir(checkout);
  for (const [name, script] of Object.entries(BACKSTOP_HOOKS)) {
    const file = join(dir, name);
    if (!existsSync(file)) problems.push({ hook: name, message: `${file} is missing` });
    else if (readFileSync(file, 'utf8') !== script)
      problems.push({ hook: name, message: `${file} was modified` });
  }
  const hooksPath = (await runGit(['config', '--get', 'core.hooksPath'], { cwd: checkout })).stdout.trim();
  if (hooksPath !== dir)
    problems.push({ hook: 'core.hooksPath', message: `core.hooksPath is '${hooksPath}', not ${dir}` });
  const branch = (await runGit(['config', '--get', 'gt.defaultBranch'], { cwd: checkout })).stdout.trim();
  if (branch !== defaultBranch) {
    problems.push({
      hook: 'gt.defaultBranch',
      message: `gt.defaultBranch is '${branch}', not '${defaultBranch}'`,
    });
  }
  return problems;
}
