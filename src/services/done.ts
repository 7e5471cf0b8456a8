import { existsSync } from 'node:fs';
import { GtError } from '../core/errors';
import { oneLine } from '../core/text';
import { git, runGit } from '../git/git';
import { prepared } from '../ledger/open';
import type { BeadStore } from '../ledger/store';
import { nowMs, toRfc3339 } from '../ledger/time';
import { requireRigRow } from '../town/rig-store';
import { crashPoint } from './faults';
import { getAgent, type Identity, worktreePath } from './polecats';
import { endSession, insideSession, spawnAfterHelper } from './work-sessions';

/**
 * `gt done`: a polecat submits its branch (DESIGN §4.4). Every step checks whether it already happened,
 * so a re-run after a crash anywhere converges:
 *
 *   1. checkout on the polecat's branch; uncommitted changes to tracked files refused (listed) unless
 *      --commit; an empty branch (no commits beyond main) refused
 *   2. push the branch to the rig's bare repo — skipped when the remote ref already equals HEAD — and
 *      verify the remote ref equals local HEAD
 *   3. ONE transaction: MR recorded (queued; UNIQUE(bead, head) makes it idempotent; older open MRs of
 *      the bead are superseded), bead → in_review (NOT closed: it closes when merged), polecat → done,
 *      its history row ended 'submitted'
 *   4. the session ends (frees the slot and the machine); --keep-session leaves it idle
 *
 * The polecat keeps the bead on its hook (agents.hooked_bead) until the Refinery merges or rejects it.
 */
export interface DoneOptions {
  message?: string;
  commit?: boolean;
  keepSession?: boolean;
}

export interface MrJson {
  id: number;
  rig: string;
  bead_id: string;
  agent_id: string;
  branch: string;
  head_sha: string;
  base_sha: string;
  state: string;
  rejected_reason: string | null;
  attempts: number;
  created_at: string;
  updated_at: string;
}

interface MrRow extends Omit<MrJson, 'created_at' | 'updated_at'> {
  created_at: number;
  updated_at: number;
}

export function mrToJson(row: MrRow): MrJson {
  return { ...row, created_at: toRfc3339(row.created_at), updated_at: toRfc3339(row.updated_at) };
}

export interface DoneResult {
  agent: string;
  bead: string;
  rig: string;
  branch: string;
  head_sha: string;
  base_sha: string;
  commits: number;
  committed: string | null;
  push: 'pushed' | 'already-pushed';
  mr: MrJson & { created: boolean };
  superseded: number[];
  bead_status: string;
  agent_state: string;
  session: 'ending' | 'ended' | 'kept' | 'none';
}

async function dirtyFiles(cwd: string): Promise<{ tracked: string[]; any: boolean }> {
  const tracked = (await git(['status', '--porcelain=v1', '--untracked-files=no'], { cwd }))
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(3));
  const all = (await git(['status', '--porcelain=v1', '--untracked-files=normal'], { cwd }))
    .split('\n')
    .filter(Boolean);
  return { tracked, any: all.length > 0 };
}

async function remoteSha(cwd: string, branch: string): Promise<string | null> {
  const r = await runGit(['ls-remote', '--quiet', 'origin', `refs/heads/${branch}`], { cwd });
  if (r.code !== 0) {
    throw new GtError('GT_E_PUSH_FAILED', `cannot read the rig's repo from ${cwd}: ${r.stderr.trim()}`, {
      hint: "check the checkout's origin (the rig's repo.git); gt doctor",
    });
  }
  const sha = r.stdout.split(/\s/)[0];
  return sha ? sha : null;
}

export async function submitDone(
  root: string,
  store: BeadStore,
  identity: Identity,
  options: DoneOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<DoneResult> {
  const db = store.db;
  if (!identity.agent || (identity.role !== 'polecat' && identity.role !== 'crew')) {
    throw new GtError('GT_E_NOT_AN_AGENT', 'gt done is run by a polecat in its own checkout', {
      hint: 'run it inside the polecat session (GT_AGENT is set there) or in rigs/<rig>/polecats/<name>',
    });
  }
  const row = getAgent(db, identity.agent);
  if (!row) {
    throw new GtError('GT_E_NOT_AN_AGENT', `no agent ${identity.agent} in this town`, {
      hint: "see 'gt agents'",
    });
  }
  const beadId = row.hooked_bead;
  if (!beadId) {
    throw new GtError('GT_E_NO_HOOK', `${row.id} has nothing on its hook`, {
      hint: 'nothing to submit; if the bead was moved to another agent, stop working on it',
    });
  }
  const bead = store.require(beadId);
  const cwd = worktreePath(root, row) ?? env.GT_WORKTREE;
  if (!cwd || !existsSync(cwd)) {
    throw new GtError('GT_E_NOT_AN_AGENT', `${row.id} has no checkout${cwd ? ` at ${cwd}` : ''}`, {
      hint: 'gt done needs the polecat checkout its bead was slung to',
    });
  }
  if (!row.rig || !row.branch) {
    throw new GtError('GT_E_NOT_AN_AGENT', `${row.id} has no rig branch recorded`, {
      hint: 'only agents slung to a rig submit with gt done',
    });
  }
  const rig = requireRigRow(db, row.rig);
  const branch = row.branch;

  // 1. The checkout: the right branch, no uncommitted tracked changes, something to submit.
  const current = (await runGit(['symbolic-ref', '-q', '--short', 'HEAD'], { cwd })).stdout.trim();
  if (current !== branch) {
    throw new GtError(
      'GT_E_WRONG_BRANCH',
      `the checkout is on ${current ? oneLine(current) : 'a detached HEAD'}, not your branch ${branch}`,
      { hint: `git switch ${branch} (your work must be on it), then gt done again` },
    );
  }
  let committed: string | null = null;
  const dirty = await dirtyFiles(cwd);
  if (dirty.tracked.length > 0 && !options.commit) {
    const shown = dirty.tracked.slice(0, 20).map(oneLine);
    throw new GtError(
      'GT_E_DIRTY_WORKTREE',
      `uncommitted changes to tracked files: ${shown.join(', ')}${dirty.tracked.length > 20 ? ` (+${dirty.tracked.length - 20} more)` : ''}`,
      {
        hint: 'commit them (git add / git commit), or run gt done --commit to commit everything',
        details: { files: dirty.tracked },
      },
    );
  }
  if (options.commit && dirty.any) {
    await git(['add', '-A'], { cwd });
    const message = options.message?.trim() || `${bead.id}: ${oneLine(bead.title)}`;
    await git(['commit', '--quiet', '-m', message], { cwd });
    committed = await git(['rev-parse', 'HEAD'], { cwd });
  }
  const d = rig.defaultBranch;
  await git(['fetch', '--quiet', '--no-tags', 'origin', `+refs/heads/${d}:refs/remotes/origin/${d}`], {
    cwd,
  });
  const head = await git(['rev-parse', 'HEAD'], { cwd });
  const base = await git(['merge-base', 'HEAD', `refs/remotes/origin/${d}`], { cwd });
  const commits = Number(await git(['rev-list', '--count', `${base}..HEAD`], { cwd }));
  if (commits === 0) {
    throw new GtError('GT_E_EMPTY_BRANCH', `${branch} has no commits beyond ${d}: nothing to submit`, {
      hint: 'commit your work first; if the bead needs no change, say so with gt escalate',
    });
  }
  // The exact commit the Refinery already turned down: submitting it again could only fail again (and
  // would leave the bead in review with nothing in the queue). Rework means a new commit.
  const rejected = prepared<
    [string, string],
    { id: number; rejected_reason: string | null; detail: string | null }
  >(
    db,
    `SELECT m.id, m.rejected_reason, (SELECT e.detail FROM mr_events e WHERE e.mr_id = m.id AND e.to_state = 'rejected'
        ORDER BY e.id DESC LIMIT 1) AS detail
       FROM merge_requests m WHERE m.bead_id = ? AND m.head_sha = ? AND m.state = 'rejected'`,
  ).get(bead.id, head);
  if (rejected) {
    const why = [rejected.rejected_reason, rejected.detail].filter(Boolean).join(': ') || 'rejected';
    throw new GtError(
      'GT_E_ALREADY_REJECTED',
      `merge request #${rejected.id} for this exact commit (${head.slice(0, 12)}) was rejected (${oneLine(why).slice(0, 300)})`,
      {
        hint: 'read why (gt mail inbox), fix it on your branch and commit, then gt done again',
        details: { mr: rejected.id, head_sha: head },
      },
    );
  }

  // 2. Push (idempotent) and verify.
  let push: DoneResult['push'] = 'already-pushed';
  if ((await remoteSha(cwd, branch)) !== head) {
    const r = await runGit(['push', '--quiet', '--porcelain', 'origin', `HEAD:refs/heads/${branch}`], {
      cwd,
    });
    if (r.code !== 0) {
      throw new GtError(
        'GT_E_PUSH_FAILED',
        `pushing ${branch} to the rig's repo failed: ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`,
        {
          hint: 'fix what the message says (a non-fast-forward means your branch was rewritten: merge, do not force)',
        },
      );
    }
    push = 'pushed';
  }
  const remote = await remoteSha(cwd, branch);
  if (remote !== head) {
    throw new GtError(
      'GT_E_PUSH_FAILED',
      `the rig's repo has ${branch} at ${remote ?? 'nothing'}, not ${head}`,
      {
        hint: 'run gt done again',
      },
    );
  }
  crashPoint('done:after-push', env);

  // 3. Record, all at once.
  const recorded = store.write(() => {
    const now = nowMs();
    const inserted = prepared(
      db,
      `INSERT INTO merge_requests (rig, bead_id, agent_id, branch, head_sha, base_sha, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?) ON CONFLICT (bead_id, head_sha) DO NOTHING`,
    ).run(rig.name, bead.id, row.id, branch, head, base, now, now);
    const mr = prepared<[string, string], MrRow>(
      db,
      'SELECT * FROM merge_requests WHERE bead_id = ? AND head_sha = ?',
    ).get(bead.id, head)!;
    const created = inserted.changes === 1;
    const superseded: number[] = [];
    if (created) {
      prepared(
        db,
        `INSERT INTO mr_events (mr_id, event, from_state, to_state, actor, detail, created_at)
           VALUES (?, 'created', NULL, 'queued', ?, ?, ?)`,
      ).run(mr.id, row.id, `gt done: ${branch} at ${head}`, now);
      const older = prepared<[string, number], { id: number; state: string }>(
        db,
        `SELECT id, state FROM merge_requests WHERE bead_id = ? AND id <> ? AND state IN ('queued','sheriff','ready')`,
      ).all(bead.id, mr.id);
      for (const o of older) {
        prepared(
          db,
          "UPDATE merge_requests SET state = 'rejected', rejected_reason = ?, updated_at = ? WHERE id = ?",
        ).run(`superseded by MR #${mr.id}`, now, o.id);
        prepared(
          db,
          `INSERT INTO mr_events (mr_id, event, from_state, to_state, actor, detail, created_at)
             VALUES (?, 'superseded', ?, 'rejected', ?, ?, ?)`,
        ).run(o.id, o.state, row.id, `superseded by MR #${mr.id}`, now);
        superseded.push(o.id);
      }
    }
    const current = store.get(bead.id)!;
    if (current.status !== 'in_review' && current.status !== 'closed') {
      store.update(bead.id, { status: 'in_review' });
    }
    prepared(
      db,
      "UPDATE agents SET state = 'done', last_activity_at = ?, updated_at = ? WHERE id = ? AND state <> 'done'",
    ).run(now, now, row.id);
    prepared(
      db,
      "UPDATE agent_history SET ended_at = ?, outcome = 'submitted' WHERE agent_id = ? AND bead_id = ? AND ended_at IS NULL",
    ).run(now, row.id, bead.id);
    return { mr: { ...mrToJson(mr), created }, superseded };
  });
  crashPoint('done:after-record', env);

  // 4. The session.
  let session: DoneResult['session'] = 'none';
  const after = getAgent(db, row.id)!;
  if (after.session) {
    if (options.keepSession) session = 'kept';
    else if (insideSession(after, env)) {
      spawnAfterHelper('end', after.id, env);
      session = 'ending';
    } else {
      await endSession(root, db, after);
      session = 'ended';
    }
  }
  return {
    agent: row.id,
    bead: bead.id,
    rig: rig.name,
    branch,
    head_sha: head,
    base_sha: base,
    commits,
    committed,
    push,
    mr: recorded.mr,
    superseded: recorded.superseded,
    bead_status: store.get(bead.id)!.status,
    agent_state: getAgent(db, row.id)!.state,
    session,
  };
}

export function listMergeRequests(store: BeadStore, filters: { rig?: string; bead?: string } = {}): MrJson[] {
  const where: string[] = [];
  const params: string[] = [];
  if (filters.rig) {
    where.push('rig = ?');
    params.push(filters.rig);
  }
  if (filters.bead) {
    where.push('bead_id = ?');
    params.push(filters.bead);
  }
  return prepared<string[], MrRow>(
    store.db,
    `SELECT * FROM merge_requests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`,
  )
    .all(...params)
    .map(mrToJson);
}
