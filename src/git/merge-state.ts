import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Whether a merge is in progress in the checkout `work` (MERGE_HEAD in its git dir), read from the files
 * without running git. Unknown layouts answer true, so a caller that aborts merges does so when unsure.
 */
export function mergeInProgress(work: string): boolean {
  const dotGit = join(work, '.git');
  try {
    // A linked worktree's .git is a file naming its git dir.
    const pointer = /^gitdir: (.+)$/m.exec(readFileSync(dotGit, 'utf8'))?.[1]?.trim();
    return pointer ? existsSync(join(resolve(work, pointer), 'MERGE_HEAD')) : true;
  } catch {
    return existsSync(join(dotGit, 'MERGE_HEAD'));
  }
}
