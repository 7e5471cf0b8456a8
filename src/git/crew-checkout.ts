import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { GtError } from '../core/errors';
import { isWellFormedId } from '../core/ids';
import { rigLayout } from '../town/layout';
import { validateName } from '../town/names';
import { git, runGit, withRepoLock } from './git';
import {
  cloneCheckout,
  type RemoveCheckoutResult,
  removeCheckoutAt,
  rigDefaultBranch,
} from './polecat-checkout';

/**
 * A crew member's workspace: `rigs/<rig>/crew/<name>`, made exactly like a polecat checkout (a local clone
 * of the rig's bare repo, no local default branch, `push.default=current`, the backstop hooks), but long
 * lived: it is made by `gt crew add` and stays until `gt crew remove`.
 *
 * Branches (decision): one branch per bead, `crew/<name>/<bead>`, started from the current default branch
 * when the bead is slung to the crew member — so each merge request holds exactly one bead's work, as for
 * polecats. The workspace starts on `crew/<name>/home`, the crew member's own branch for work that is not a
 * bead. (A single `crew/<name>` branch cannot coexist with `crew/<name>/<bead>` refs in git, and would mix
 * beads in one MR.) Branches are never deleted by gt while they hold commits that are not on main.
 */
export function crewHomeBranch(name: string): string {
  return `crew/${name}/home`;
}

export function crewBranch(name: string, bead: string): string {
  return `crew/${name}/${bead}`;
}

export function crewCheckoutPath(townRoot: string, rig: string, name: string): string {
  return join(rigLayout(townRoot, rig).crew, name);
}

export interface CrewCheckout {
  path: string;
  branch: string;
  baseSha: string;
  defaultBranch: string;
}

async function defaultBranchSha(townRoot: string, rig: string, defaultBranch: string): Promise<string> {
  const layout = rigLayout(townRoot, rig);
  return git(['rev-parse', '--verify', '--quiet', `refs/heads/${defaultBranch}^{commit}`], {
    cwd: layout.bare,
  }).catch(() => {
    throw new GtError('GT_E_GIT', `rig ${rig} has no branch ${defaultBranch} in ${layout.bare}`, {
      hint: 'check default_branch in rig.toml',
    });
  });
}

/** `gt crew add`: the workspace on `crew/<name>/home` from the current default branch. */
export async function createCrewCheckout(
  townRoot: string,
  options: { rig: string; name: string; defaultBranch?: string },
): Promise<CrewCheckout> {
  const { rig, name } = options;
  validateName('rig', rig);
  validateName('crew', name);
  const layout = rigLayout(townRoot, rig);
  if (!existsSync(layout.bare)) {
    throw new GtError('GT_E_RIG_NOT_FOUND', `rig ${rig} has no bare repository at ${layout.bare}`, {
      hint: "add the rig with 'gt rig add' or repair it with 'gt doctor --fix'",
    });
  }
  const defaultBranch = options.defaultBranch ?? (await rigDefaultBranch(townRoot, rig));
  const branch = crewHomeBranch(name);
  const path = crewCheckoutPath(townRoot, rig, name);
  return withRepoLock(path, async () => {
    if (existsSync(path)) {
      throw new GtError('GT_E_INVALID_INPUT', `${path} already exists`, {
        hint: 'pick another crew name, or move that folder away (gt never deletes it)',
      });
    }
    const baseSha = await defaultBranchSha(townRoot, rig, defaultBranch);
    await cloneCheckout(layout.bare, layout.crew, path, branch, baseSha, defaultBranch);
    return { path: realpathSync(path), branch, baseSha, defaultBranch };
  });
}

/** `gt crew remove`: refuses uncommitted changes and any commit (any branch, stash) not on main. */
export async function removeCrewCheckout(
  townRoot: string,
  rig: string,
  name: string,
  options: { defaultBranch?: string } = {},
): Promise<RemoveCheckoutResult> {
  validateName('rig', rig);
  validateName('crew', name);
  const path = crewCheckoutPath(townRoot, rig, name);
  return removeCheckoutAt(townRoot, rig, rigLayout(townRoot, rig).crew, path, 'crew', options);
}

export interface CrewSwitch extends CrewCheckout {
  /** The branch the workspace was on before (restored by undo). */
  previous: string | null;
  /** True when the bead branch was made now (false: it existed and was checked out again). */
  created: boolean;
  /** Puts the workspace back on `previous` and deletes the bead branch if this call made it. */
  undo: () => Promise<void>;
}

/**
 * Sling to a crew member: the workspace moves to `crew/<name>/<bead>` — made from the current default
 * branch, or checked out again when it exists (a re-sling). Refused (nothing changed) when tracked files
 * have uncommitted changes: a person's work in progress is never carried across or lost.
 */
export async function switchCrewToBead(
  townRoot: string,
  options: { rig: string; name: string; bead: string; defaultBranch?: string },
): Promise<CrewSwitch> {
  const { rig, name, bead } = options;
  validateName('crew', name);
  if (!isWellFormedId(bead)) {
    throw new GtError('GT_E_INVALID_ID', `'${bead}' is not a bead id`, {
      hint: 'bead ids look like gt-a3f8k',
    });
  }
  const path = crewCheckoutPath(townRoot, rig, name);
  if (!existsSync(path)) {
    throw new GtError('GT_E_NOT_FOUND', `crew member ${rig}/${name} has no workspace at ${path}`, {
      hint: `remove and add it again: gt crew remove ${rig} ${name}; gt crew add ${rig} ${name}`,
    });
  }
  const defaultBranch = options.defaultBranch ?? (await rigDefaultBranch(townRoot, rig));
  const branch = crewBranch(name, bead);
  return withRepoLock(path, async () => {
    const dirty = (await git(['status', '--porcelain=v1', '--untracked-files=no'], { cwd: path }))
      .split('\n')
      .filter(Boolean);
    if (dirty.length > 0) {
      throw new GtError(
        'GT_E_DIRTY_WORKTREE',
        `crew workspace ${path} has uncommitted changes: ${dirty.map((l) => l.slice(3)).join(', ')}`,
        {
          hint: 'commit them (on the current branch) or stash them, then sling again',
          details: { files: dirty.map((l) => l.slice(3)) },
        },
      );
    }
    const previous = (await runGit(['symbolic-ref', '-q', '--short', 'HEAD'], { cwd: path })).stdout.trim();
    const previousRef = previous || (await git(['rev-parse', 'HEAD'], { cwd: path }));
    await git(
      [
        'fetch',
        '--quiet',
        '--no-tags',
        'origin',
        `+refs/heads/${defaultBranch}:refs/remotes/origin/${defaultBranch}`,
      ],
      { cwd: path },
    );
    const baseSha = await git(['rev-parse', '--verify', `refs/remotes/origin/${defaultBranch}^{commit}`], {
      cwd: path,
    });
    const exists =
      (await runGit(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], { cwd: path })).code === 0;
    if (previous !== branch) {
      if (exists) await git(['checkout', '--quiet', branch], { cwd: path });
      else await git(['checkout', '--quiet', '--no-track', '-b', branch, baseSha], { cwd: path });
    }
    const created = !exists;
    return {
      path: realpathSync(path),
      branch,
      baseSha,
      defaultBranch,
      previous: previous || null,
      created,
      undo: async () => {
        if (previous === branch) return;
        await withRepoLock(path, async () => {
          await git(['checkout', '--quiet', previousRef], { cwd: path });
          if (created) {
            // Only a branch with nothing beyond its base is deleted: never work.
            const head = await git(['rev-parse', `refs/heads/${branch}`], { cwd: path });
            if (head === baseSha) await git(['branch', '--quiet', '-D', branch], { cwd: path });
          }
        });
      },
    };
  });
}
