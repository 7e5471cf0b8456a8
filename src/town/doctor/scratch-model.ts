import { basename, dirname, resolve } from 'node:path';

/**
 * The `refinery-scratch` doctor check's pure decisions: which of a rig's Refinery scratch worktrees
 * (`work`, `work-1`, … under `.gt/refinery/<rig>/`, one per gate slot) are stale, and which of those
 * may be pruned or removed because they hold nothing unique. The facts are gathered by scratch-check.ts.
 */

/** One record of `git worktree list --porcelain`. */
export interface WorktreeEntry {
  path: string;
  head: string | null;
  /** `refs/heads/…` when a branch is checked out. */
  branch: string | null;
  detached: boolean;
  bare: boolean;
  locked: boolean;
  /** git ≥ 2.31 says so; older ones do not (the caller also checks that the directory exists). */
  prunable: boolean;
}

export function parseWorktreeList(porcelain: string): WorktreeEntry[] {
  const entries: WorktreeEntry[] = [];
  let current: WorktreeEntry | undefined;
  for (const line of porcelain.split('\n')) {
    if (line.startsWith('worktree ')) {
      current = {
        path: line.slice('worktree '.length),
        head: null,
        branch: null,
        detached: false,
        bare: false,
        locked: false,
        prunable: false,
      };
      entries.push(current);
    } else if (current) {
      const [word, ...rest] = line.split(' ');
      if (word === 'HEAD') current.head = rest.join(' ') || null;
      else if (word === 'branch') current.branch = rest.join(' ') || null;
      else if (word === 'detached') current.detached = true;
      else if (word === 'bare') current.bare = true;
      else if (word === 'locked') current.locked = true;
      else if (word === 'prunable') current.prunable = true;
    }
  }
  return entries;
}

const SCRATCH_NAME = /^work(?:-([1-9]\d{0,3}))?$/;

/** Whether a folder name is a scratch worktree's: `work` (slot 0) or `work-<n>`. */
export function isScratchName(name: string): boolean {
  return SCRATCH_NAME.test(name);
}

/**
 * The gate slot of a scratch worktree path (`<scratch dir>/work` → 0, `<scratch dir>/work-3` → 3), or
 * undefined for any other path. `scratchDirs` are the scratch folder's spellings (as configured and its
 * real path: git records worktrees by real path).
 */
export function scratchSlot(scratchDirs: readonly string[], path: string): number | undefined {
  const full = resolve(path);
  if (!scratchDirs.some((dir) => resolve(dir) === dirname(full))) return undefined;
  const match = SCRATCH_NAME.exec(basename(full));
  if (!match) return undefined;
  return match[1] === undefined ? 0 : Number(match[1]);
}

/** What the check knows about one scratch worktree: its registration in the clone and its state. */
export interface ScratchWorktree {
  path: string;
  slot: number;
  /** Registered in the Refinery clone (`git worktree list`). */
  registered: boolean;
  /** The directory is on disk. */
  exists: boolean;
  /** It has its `.git` file (a directory without one is no longer a checkout). */
  checkout: boolean;
  locked: boolean;
  /** Present when registered and a checkout. */
  state?: ScratchState;
}

export interface ScratchState {
  /** Set when the state could not be read; nothing else is then trusted. */
  error?: string;
  head: string | null;
  branch: string | null;
  detached: boolean;
  /** Tracked files with uncommitted changes (staged or not); untracked files are not counted. */
  changed: string[];
  /** MERGE_HEAD, when a merge is in progress. */
  mergeHead: string | null;
  mergeHeadOnRef: boolean;
  /** Whether HEAD itself is reachable from a ref of the clone or the bare repo. */
  headOnRef: boolean;
  parents: string[];
  /** Parents of HEAD that no ref of the clone or the bare repo reaches. */
  parentsOffRef: string[];
}

export type ScratchAction = 'prune' | 'remove' | 'keep';

export interface ScratchFinding {
  path: string;
  slot: number;
  name: string;
  /** What is stale about it. */
  problem: string;
  action: ScratchAction;
  /** Why it is kept (action 'keep'). */
  kept?: string;
}

const short = (sha: string) => sha.slice(0, 12);

/**
 * Why removing this worktree could lose something, or undefined when it holds nothing unique: it is
 * detached (a Refinery candidate), its only uncommitted changes to tracked files are those of a merge in
 * progress whose incoming commit a ref holds, and no commit becomes unreachable — HEAD is on a ref, or it
 * is a merge (as every Refinery candidate is) whose parents all are.
 */
export function removalBlocker(worktree: ScratchWorktree): string | undefined {
  if (worktree.locked) return 'it is locked (git worktree lock)';
  const state = worktree.state;
  if (!state) return 'its state is unknown';
  if (state.error) return `its state could not be read: ${state.error}`;
  if (!state.detached || !state.head)
    return `it has ${state.branch ?? 'a branch'} checked out (a Refinery worktree is detached)`;
  if (state.changed.length > 0 && !state.mergeHead)
    return `it has uncommitted changes to tracked files (${listSome(state.changed)})`;
  if (state.mergeHead && !state.mergeHeadOnRef)
    return `its merge in progress brings commit ${short(state.mergeHead)}, which no ref holds`;
  if (!state.headOnRef) {
    if (state.parents.length < 2)
      return `its HEAD ${short(state.head)} is on no ref and is not a Refinery merge (someone's commit?)`;
    if (state.parentsOffRef.length > 0)
      return `commit(s) ${state.parentsOffRef.map(short).join(', ')} below its HEAD are on no ref of the clone or the bare repo`;
  }
  return undefined;
}

function listSome(items: readonly string[], max = 3): string {
  return items.length <= max
    ? items.join(', ')
    : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** What is unusual about a live worktree's checkout: a merge in progress, tracked changes. */
function leftovers(state: ScratchState | undefined): string[] {
  if (!state || state.error) return [];
  const out: string[] = [];
  if (state.mergeHead) out.push(`a merge in progress (MERGE_HEAD ${short(state.mergeHead)})`);
  if (state.changed.length > 0) out.push(`uncommitted changes to tracked files (${listSome(state.changed)})`);
  return out;
}

/**
 * The stale scratch worktrees of one rig, each with what --fix may do about it:
 * - registered, directory gone → prune the registration (unless locked);
 * - slot ≥ gate_parallelism (a full checkout nothing uses) → remove it if it holds nothing unique;
 * - a slot in use left mid-merge or with tracked changes → reported only (the Refinery resets it on its
 *   next pass), and not at all while the Refinery runs (it is then simply at work);
 * - a folder named like a slot that the clone does not know → reported only (its contents are unknown).
 */
export function planScratch(
  worktrees: readonly ScratchWorktree[],
  parallelism: number,
  refineryRunning: boolean,
): ScratchFinding[] {
  const findings: ScratchFinding[] = [];
  for (const w of [...worktrees].sort((a, b) => a.slot - b.slot)) {
    const base = { path: w.path, slot: w.slot, name: basename(w.path) };
    const surplus = w.slot >= parallelism;
    if (w.registered && !w.exists) {
      findings.push({
        ...base,
        problem: 'its directory is gone (a stale registration in the Refinery clone)',
        ...(w.locked ? { action: 'keep', kept: 'it is locked (git worktree lock)' } : { action: 'prune' }),
      });
    } else if (w.registered && !w.checkout) {
      findings.push({
        ...base,
        problem: 'its folder is no longer a git checkout (no .git file) but still registered',
        action: 'keep',
        kept: 'its contents are unknown to git: check them, move the folder away, then run --fix again',
      });
    } else if (!w.registered && w.exists) {
      findings.push({
        ...base,
        problem: surplus
          ? `an unused slot (gate_parallelism = ${parallelism}) that is not a worktree of the Refinery clone`
          : 'not a worktree of the Refinery clone: the Refinery cannot re-create its slot here',
        action: 'keep',
        kept: 'its contents are unknown to git: check them, then move the folder away',
      });
    } else if (w.registered && surplus) {
      const blocker = removalBlocker(w);
      const extra = leftovers(w.state).filter((what) => !blocker?.includes(what));
      findings.push({
        ...base,
        problem: `slot ${w.slot} is unused (gate_parallelism = ${parallelism}) but still a full checkout${extra.length ? `, with ${extra.join(' and ')}` : ''}`,
        ...(blocker ? { action: 'keep', kept: blocker } : { action: 'remove' }),
      });
    } else if (w.registered && !refineryRunning) {
      const extra = leftovers(w.state);
      if (extra.length > 0) {
        findings.push({
          ...base,
          problem: `left with ${extra.join(' and ')} (an interrupted Refinery pass?)`,
          action: 'keep',
          kept: "the Refinery's next pass resets it (merge --abort, checkout --force), discarding such changes",
        });
      }
    }
  }
  return findings;
}

/** The check's message: one line per finding, with what --fix would do. */
export function describeFindings(findings: readonly ScratchFinding[]): string {
  const lines = findings.map((f) => {
    const what =
      f.action === 'prune' ? 'fix: prune' : f.action === 'remove' ? 'fix: remove' : `kept: ${f.kept}`;
    return `${f.name}: ${f.problem} [${what}]`;
  });
  return `${findings.length} stale Refinery scratch worktree(s):\n${lines.join('\n')}`;
}
