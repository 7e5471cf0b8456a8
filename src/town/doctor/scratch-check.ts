import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { GtError, isGtError } from '../../core/errors';
import { runGit } from '../../git/git';
import { withFileLock } from '../../runtime/lock';
import { isProcessAlive } from '../../runtime/proctree';
import { type RigLayout, refineryPaths } from '../layout';
import { type CheckResult, ownerPid } from './model';
import {
  describeFindings,
  isScratchName,
  parseWorktreeList,
  planScratch,
  type ScratchFinding,
  type ScratchState,
  type ScratchWorktree,
  scratchSlot,
} from './scratch-model';

/**
 * `rig:<r>:refinery-scratch`: the Refinery's scratch worktrees of a rig (see scratch-model.ts for the
 * rules). Reads git state; --fix prunes stale registrations and removes unused slots that hold nothing
 * unique, only while holding the rig's Refinery lock (so never under a running Refinery).
 */

/** Where the Refinery keeps a rig's scratch worktrees (as src/refinery/controller.ts lays them out). */
/** The scratch folder as configured and as its real path (git records worktrees by real path). */
export function scratchDirSpellings(town: string, rig: string): string[] {
  const dir = refineryPaths(town, rig).dir;
  try {
    return [...new Set([dir, realpathSync(dir)])];
  } catch {
    return [dir];
  }
}

/** The pid holding the rig's Refinery lock, when a live process holds it. */
function refineryLockOwner(town: string, rig: string): number | undefined {
  try {
    const pid = ownerPid(readFileSync(refineryPaths(town, rig).lock, 'utf8'));
    return pid !== undefined && isProcessAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a ref holds `sha`: any ref of the bare repo, or a local ref of the clone (not refs/remotes/:
 * those only mirror the bare repo as of the last fetch and vanish with the next `fetch --prune`). */
async function onSomeRef(sha: string, layout: RigLayout): Promise<boolean> {
  for (const [cwd, local] of [
    [layout.bare, false],
    [layout.refinery, true],
  ] as const) {
    const r = await runGit(['for-each-ref', '--format=%(refname)', '--contains', sha], { cwd });
    if (r.code !== 0) continue; // e.g. the commit is not in this repository
    const refs = r.stdout.split('\n').filter(Boolean);
    if (refs.some((ref) => !local || !ref.startsWith('refs/remotes/'))) return true;
  }
  return false;
}

/** Reads never take git's optional locks (index refresh), so they cannot fail a Refinery's checkout. */
const READ_ENV = { GIT_OPTIONAL_LOCKS: '0' };

async function readState(path: string, layout: RigLayout): Promise<ScratchState> {
  const state: ScratchState = {
    head: null,
    branch: null,
    detached: false,
    changed: [],
    mergeHead: null,
    mergeHeadOnRef: false,
    headOnRef: false,
    parents: [],
    parentsOffRef: [],
  };
  const head = await runGit(['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], {
    cwd: path,
    env: READ_ENV,
  });
  if (head.code !== 0) return { ...state, error: head.stderr.trim() || 'HEAD does not name a commit' };
  state.head = head.stdout.trim();
  const branch = await runGit(['symbolic-ref', '--quiet', 'HEAD'], { cwd: path, env: READ_ENV });
  state.detached = branch.code !== 0;
  state.branch = branch.code === 0 ? branch.stdout.trim() : null;
  const status = await runGit(['status', '--porcelain', '--untracked-files=no'], {
    cwd: path,
    env: READ_ENV,
  });
  if (status.code !== 0) return { ...state, error: status.stderr.trim() || 'git status failed' };
  state.changed = status.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(3));
  const merge = await runGit(['rev-parse', '--verify', '--quiet', 'MERGE_HEAD'], {
    cwd: path,
    env: READ_ENV,
  });
  if (merge.code === 0) {
    state.mergeHead = merge.stdout.trim();
    state.mergeHeadOnRef = await onSomeRef(state.mergeHead, layout);
  }
  state.headOnRef = await onSomeRef(state.head, layout);
  if (!state.headOnRef) {
    const parents = await runGit(['show', '-s', '--format=%P', state.head], { cwd: path, env: READ_ENV });
    if (parents.code !== 0) return { ...state, error: parents.stderr.trim() || 'cannot read HEAD' };
    state.parents = parents.stdout.trim().split(/\s+/).filter(Boolean);
    for (const parent of state.parents)
      if (!(await onSomeRef(parent, layout))) state.parentsOffRef.push(parent);
  }
  return state;
}

/** Every scratch worktree of the rig: registered in the clone, or a slot-named folder on disk. */
async function gatherScratch(
  town: string,
  rig: string,
  layout: RigLayout,
  /** Slots below this are at work under a running Refinery: their state is not read (nor reported). */
  busyBelow = 0,
): Promise<ScratchWorktree[]> {
  const dirs = scratchDirSpellings(town, rig);
  const byPath = new Map<string, ScratchWorktree>();
  const listed = await runGit(['worktree', 'list', '--porcelain'], { cwd: layout.refinery });
  if (listed.code !== 0) {
    throw new GtError(
      'GT_E_GIT',
      `cannot list the worktrees of ${layout.refinery}: ${listed.stderr.trim()}`,
      {
        hint: "see the rig's refinery check",
      },
    );
  }
  for (const entry of parseWorktreeList(listed.stdout)) {
    const slot = scratchSlot(dirs, entry.path);
    if (slot === undefined) continue;
    byPath.set(refineryPaths(town, rig).slot(slot), {
      path: entry.path,
      slot,
      registered: true,
      exists: existsSync(entry.path),
      checkout: existsSync(join(entry.path, '.git')),
      locked: entry.locked,
    });
  }
  const root = refineryPaths(town, rig).dir;
  if (existsSync(root)) {
    for (const item of readdirSync(root, { withFileTypes: true })) {
      if (!item.isDirectory() || !isScratchName(item.name)) continue;
      const path = join(root, item.name);
      if (byPath.has(path)) continue;
      byPath.set(path, {
        path,
        slot: scratchSlot([root], path) ?? 0,
        registered: false,
        exists: true,
        checkout: existsSync(join(path, '.git')),
        locked: false,
      });
    }
  }
  const worktrees = [...byPath.values()];
  // Only in a directory with its own .git: elsewhere git would walk up to whatever repository encloses it.
  for (const w of worktrees)
    if (w.registered && w.checkout && w.slot >= busyBelow) w.state = await readState(w.path, layout);
  return worktrees;
}

export async function refineryScratchCheck(
  town: string,
  rig: string,
  layout: RigLayout,
  parallelism: number,
): Promise<CheckResult | undefined> {
  const id = `rig:${rig}:refinery-scratch`;
  // A missing or broken clone is the refinery check's finding; there is nothing to enumerate.
  if (!existsSync(join(layout.refinery, '.git'))) return undefined;
  const owner = refineryLockOwner(town, rig);
  let worktrees: ScratchWorktree[];
  try {
    worktrees = await gatherScratch(town, rig, layout, owner === undefined ? 0 : parallelism);
  } catch (error) {
    if (!isGtError(error)) throw error;
    return { id, status: 'warn', message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  }
  const findings = planScratch(worktrees, parallelism, owner !== undefined);
  if (findings.length === 0) {
    const live = worktrees.filter((w) => w.registered && w.checkout).length;
    return {
      id,
      status: 'pass',
      message:
        live === 0
          ? 'no Refinery scratch worktrees yet'
          : `${live} Refinery scratch worktree(s), none stale (gate_parallelism = ${parallelism})`,
    };
  }
  const fixable = findings.some((f) => f.action !== 'keep');
  const busy =
    owner === undefined
      ? ''
      : ` The Refinery is running (pid ${owner} holds its lock): --fix waits until it is idle.`;
  return {
    id,
    status: 'warn',
    message: describeFindings(findings),
    hint: fixable
      ? `'gt doctor --fix' prunes stale registrations and removes unused slots that hold nothing unique, while the Refinery is idle.${busy}`
      : `nothing here is deleted automatically: copy out what matters. The Refinery resets the slots it uses on its next pass; an unused one goes with 'git -C ${layout.refinery} worktree remove --force <path>'.${busy}`,
    ...(fixable ? { fix: () => fixScratch(town, rig, layout, parallelism) } : {}),
  };
}

/** Under the rig's Refinery lock: re-reads everything, then prunes and removes what is still safe. */
async function fixScratch(
  town: string,
  rig: string,
  layout: RigLayout,
  parallelism: number,
): Promise<string> {
  const lock = refineryPaths(town, rig).lock;
  try {
    return await withFileLock(lock, 500, async () => {
      const findings = planScratch(await gatherScratch(town, rig, layout), parallelism, false);
      return await applyFindings(layout, findings);
    });
  } catch (error) {
    if (isGtError(error) && error.code === 'GT_E_SESSION') {
      throw new GtError('GT_E_REFINERY_BUSY', `the Refinery of rig ${rig} is running: nothing was removed`, {
        hint: `run 'gt doctor --fix' again when it is idle (its lock is ${lock})`,
      });
    }
    throw error;
  }
}

async function applyFindings(layout: RigLayout, findings: readonly ScratchFinding[]): Promise<string> {
  const done: Record<'prune' | 'remove', string[]> = { prune: [], remove: [] };
  const failed: string[] = [];
  const kept = findings.filter((f) => f.action === 'keep').map((f) => f.name);
  for (const f of findings) {
    if (f.action === 'keep') continue;
    // One record at a time (a whole-clone `worktree prune` would also touch records that are not ours).
    // --force: a scratch checkout always has untracked build output; what is tracked was checked above.
    const r = await runGit(['worktree', 'remove', '--force', f.path], { cwd: layout.refinery });
    if (r.code === 0 && !existsSync(f.path)) done[f.action].push(f.name);
    else failed.push(`${f.name} (${r.stderr.trim().split('\n').pop() || 'still on disk'})`);
  }
  const parts: string[] = [];
  if (done.prune.length)
    parts.push(`pruned ${done.prune.length} stale registration(s) (${done.prune.join(', ')})`);
  if (done.remove.length)
    parts.push(`removed ${done.remove.length} unused worktree(s) (${done.remove.join(', ')})`);
  if (kept.length) parts.push(`kept ${kept.length} (${kept.join(', ')}): see the message`);
  if (failed.length) {
    const message = `could not remove ${failed.join(', ')}`;
    if (done.prune.length + done.remove.length === 0) {
      throw new GtError('GT_E_GIT', message, { hint: `see git worktree list in ${layout.refinery}` });
    }
    parts.push(message);
  }
  return parts.length > 0 ? parts.join('; ') : 'nothing left to do';
}
