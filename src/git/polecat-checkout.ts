import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { GtError } from '../core/errors';
import { isWellFormedId } from '../core/ids';
import { rigLayout } from '../town/layout';
import { validateName } from '../town/names';
import { installBackstops } from './backstop-hooks';
import { git, runGit, withRepoLock } from './git';

/**
 * A polecat's checkout: `rigs/<rig>/polecats/<name>`, a clone of the rig's bare repo on branch
 * `polecat/<name>/<bead>`, started from the bare repo's current default branch.
 *
 * Deliberately a clone, not a `git worktree` of repo.git: a linked worktree shares refs with the bare repo,
 * so a plain `git commit` on main there would move main without any push — the pre-receive hook would never
 * see it. In a clone, the only way to change repo.git's main is a push, which the hook judges.
 *
 * The clone is a local clone (git hard-links the object files; no copy, no network), not `--shared` or
 * `--reference`: those make the checkout depend on objects inside repo.git, so a `git gc` there could
 * corrupt a checkout holding unpushed work. Hard links cost the same and share nothing that can vanish.
 *
 * The checkout has no local default branch (so `git checkout main` cannot quietly create one from
 * origin), `push.default=current` (a bare `git push` sends the polecat branch to its own name), and the
 * backstop hooks of backstop-hooks.ts.
 */
export interface PolecatCheckout {
  /** Absolute path of the checkout. */
  path: string;
  branch: string;
  /** The default branch's commit the branch starts from. */
  baseSha: string;
  defaultBranch: string;
  rig: string;
  polecat: string;
  bead: string;
}

export interface CreateCheckoutOptions {
  rig: string;
  polecat: string;
  bead: string;
  /** Overrides the default branch recorded in the bare repo (gt.defaultBranch) / rig.toml. */
  defaultBranch?: string;
}

export function polecatBranch(polecat: string, bead: string): string {
  return `polecat/${polecat}/${bead}`;
}

export function polecatCheckoutPath(townRoot: string, rig: string, polecat: string): string {
  return join(rigLayout(townRoot, rig).polecats, polecat);
}

/** The rig's default branch: gt.defaultBranch of its bare repo (set with the guard), else rig.toml. */
export async function rigDefaultBranch(townRoot: string, rig: string): Promise<string> {
  const layout = rigLayout(townRoot, rig);
  const fromRepo = (
    await runGit(['config', '--get', 'gt.defaultBranch'], { cwd: layout.bare })
  ).stdout.trim();
  if (fromRepo) return fromRepo;
  if (existsSync(layout.config)) {
    const m = /^\s*default_branch\s*=\s*"([^"]+)"/m.exec(readFileSync(layout.config, 'utf8'));
    if (m) return m[1]!;
  }
  throw new GtError('GT_E_CONFIG', `cannot tell the default branch of rig ${rig}`, {
    hint: "run 'gt doctor --fix' to restore the rig's guard settings",
  });
}

export async function createPolecatCheckout(
  townRoot: string,
  options: CreateCheckoutOptions,
): Promise<PolecatCheckout> {
  const { rig, polecat, bead } = options;
  validateName('rig', rig);
  validateName('polecat', polecat);
  if (!isWellFormedId(bead)) {
    throw new GtError('GT_E_INVALID_ID', `'${bead}' is not a bead id`, {
      hint: 'bead ids look like gt-a3f8k',
    });
  }
  const layout = rigLayout(townRoot, rig);
  if (!existsSync(layout.bare)) {
    throw new GtError('GT_E_RIG_NOT_FOUND', `rig ${rig} has no bare repository at ${layout.bare}`, {
      hint: "add the rig with 'gt rig add' or repair it with 'gt doctor --fix'",
    });
  }
  const defaultBranch = options.defaultBranch ?? (await rigDefaultBranch(townRoot, rig));
  const branch = polecatBranch(polecat, bead);
  const path = polecatCheckoutPath(townRoot, rig, polecat);

  return withRepoLock(path, async () => {
    if (existsSync(path)) {
      throw new GtError(
        'GT_E_INVALID_INPUT',
        `polecat ${polecat} of rig ${rig} already has a checkout at ${path}`,
        {
          hint: 'finish or remove the existing checkout first (its work is never deleted unmerged)',
        },
      );
    }
    await git(['check-ref-format', '--branch', branch], { cwd: layout.bare });
    const baseSha = await git(['rev-parse', '--verify', '--quiet', `refs/heads/${defaultBranch}^{commit}`], {
      cwd: layout.bare,
    }).catch(() => {
      throw new GtError('GT_E_GIT', `rig ${rig} has no branch ${defaultBranch} in ${layout.bare}`, {
        hint: 'check default_branch in rig.toml',
      });
    });
    await cloneCheckout(layout.bare, layout.polecats, path, branch, baseSha, defaultBranch);
    return { path: realpathSync(path), branch, baseSha, defaultBranch, rig, polecat, bead };
  });
}

/**
 * The clone both polecat and crew checkouts are made of: a local clone of the bare repo at `path` (inside
 * `parent`), on a new `branch` from `baseSha`, no other local branch, `push.default=current`, the backstop
 * hooks. A half-made checkout is removed (nothing in it is work yet).
 */
export async function cloneCheckout(
  bare: string,
  parent: string,
  path: string,
  branch: string,
  baseSha: string,
  defaultBranch: string,
): Promise<void> {
  mkdirSync(parent, { recursive: true });
  try {
    await git(['clone', '--quiet', '--local', '--no-checkout', '--origin', 'origin', bare, path], {
      cwd: parent,
    });
    await git(['checkout', '--quiet', '--no-track', '-b', branch, baseSha], { cwd: path });
    // No local default branch: nothing to commit on by accident, nothing for `git checkout main` to reuse.
    const locals = await git(['for-each-ref', '--format=%(refname)', 'refs/heads/'], { cwd: path });
    for (const ref of locals.split('\n').filter(Boolean)) {
      if (ref !== `refs/heads/${branch}`) await git(['update-ref', '-d', ref], { cwd: path });
    }
    await git(['config', 'push.default', 'current'], { cwd: path });
    await installBackstops(path, defaultBranch);
    const head = await git(['rev-parse', 'HEAD'], { cwd: path });
    if (head !== baseSha)
      throw new GtError('GT_E_GIT', `checkout ${path} is at ${head}, expected ${baseSha}`);
  } catch (error) {
    // Nothing in a half-made checkout is work yet.
    rmSync(path, { recursive: true, force: true });
    throw error;
  }
}

export interface RemoveCheckoutResult {
  path: string;
  removed: boolean;
  /** The default branch's commit the checkout's work was verified against. */
  verifiedAgainst?: string;
}

export interface UnmergedCommit {
  ref: string;
  sha: string;
}

/**
 * Commits in the checkout (any local branch, a detached HEAD, the stash) that are not on the bare repo's
 * default branch. Fetches first, so "on main" means on main in repo.git right now.
 */
export async function unmergedCommits(
  checkout: string,
  defaultBranch: string,
): Promise<{ mainSha: string; unmerged: UnmergedCommit[] }> {
  await git(
    [
      'fetch',
      '--quiet',
      '--no-tags',
      'origin',
      `+refs/heads/${defaultBranch}:refs/remotes/origin/${defaultBranch}`,
    ],
    {
      cwd: checkout,
    },
  );
  const mainRef = `refs/remotes/origin/${defaultBranch}`;
  const mainSha = await git(['rev-parse', '--verify', mainRef], { cwd: checkout });
  const refs = (
    await git(['for-each-ref', '--format=%(refname)', 'refs/heads/', 'refs/stash'], { cwd: checkout })
  )
    .split('\n')
    .filter(Boolean);
  const heads = [...refs];
  const detached = await runGit(['symbolic-ref', '-q', 'HEAD'], { cwd: checkout });
  if (detached.code !== 0) heads.push('HEAD');
  const unmerged: UnmergedCommit[] = [];
  for (const ref of heads) {
    const r = await runGit(['rev-list', '--max-count=1', ref, '--not', mainRef, '--'], { cwd: checkout });
    if (r.code !== 0) throw new GtError('GT_E_GIT', `cannot check ${ref} in ${checkout}: ${r.stderr.trim()}`);
    const sha = r.stdout.trim();
    if (sha) unmerged.push({ ref, sha });
  }
  return { mainSha, unmerged };
}

/**
 * Removes a polecat checkout, but never work: refuses while the checkout has uncommitted changes or any
 * commit that is not on the bare repo's default branch (pushed is not enough: it must be merged).
 */
export async function removePolecatCheckout(
  townRoot: string,
  rig: string,
  polecat: string,
  options: { defaultBranch?: string } = {},
): Promise<RemoveCheckoutResult> {
  validateName('rig', rig);
  validateName('polecat', polecat);
  const path = polecatCheckoutPath(townRoot, rig, polecat);
  return removeCheckoutAt(townRoot, rig, rigLayout(townRoot, rig).polecats, path, 'polecat', options);
}

/**
 * Removes the checkout at `path` (directly inside `parent`), refusing uncommitted changes and commits that
 * are not on the default branch. Shared by polecat and crew checkouts.
 */
export async function removeCheckoutAt(
  townRoot: string,
  rig: string,
  parent: string,
  path: string,
  kind: 'polecat' | 'crew',
  options: { defaultBranch?: string } = {},
): Promise<RemoveCheckoutResult> {
  return withRepoLock(path, async () => {
    if (!existsSync(path)) return { path, removed: false };
    const polecats = realpathSync(parent);
    const real = realpathSync(path);
    const rel = relative(polecats, real);
    if (rel === '' || rel.startsWith('..') || rel.includes(sep)) {
      throw new GtError('GT_E_INVALID_INPUT', `${path} is not a ${kind} checkout of rig ${rig}`);
    }
    const defaultBranch = options.defaultBranch ?? (await rigDefaultBranch(townRoot, rig));
    const status = await git(['status', '--porcelain', '--untracked-files=all'], { cwd: path });
    if (status.trim()) {
      const files = status.split('\n').slice(0, 10).join('\n');
      throw new GtError('GT_E_UNMERGED_WORK', `${kind} checkout ${path} has uncommitted changes:\n${files}`, {
        hint: `commit them on the ${kind} branch and submit them (gt done), or remove them yourself`,
        details: { path },
      });
    }
    const { mainSha, unmerged } = await unmergedCommits(path, defaultBranch);
    if (unmerged.length > 0) {
      throw new GtError(
        'GT_E_UNMERGED_WORK',
        `${kind} checkout ${path} holds commits that are not on ${defaultBranch}: ${unmerged.map((u) => `${u.ref} (${u.sha.slice(0, 12)})`).join(', ')}`,
        {
          hint: 'the checkout is removed only after its work has landed on the default branch',
          details: { path, unmerged },
        },
      );
    }
    rmSync(path, { recursive: true, force: true });
    return { path, removed: true, verifiedAgainst: mainSha };
  });
}
