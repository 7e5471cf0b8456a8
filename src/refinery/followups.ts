import { fenceUntrusted } from '../core/fence';
import { runGit, withRepoLock } from '../git/git';
import { removePolecatCheckout } from '../git/polecat-checkout';
import { prepared } from '../ledger/open';
import type { BeadStore } from '../ledger/store';
import { nowMs } from '../ledger/time';
import { onBeadsClosed } from '../services/convoy';
import { createEscalation } from '../services/escalation';
import { SYSTEM_SENDER, sendMail } from '../services/mail';
import { loadNotifyConfig } from '../services/notify';
import { addMrEvent, type MrRow, REWORK_REASONS } from './ledger';

/** The rig's repository facts a sweep needs (from rig.toml and the rig row, read by the controller). */
export interface SweepRepo {
  bare: string;
  main: string;
  maxRework: number;
}

/**
 * The Refinery's follow-ups of its decisions (docs/refinery.md): a merged MR's bead is closed, its
 * polecat's checkout removed and its branch deleted — only once its head is verified on main, and the
 * branch only if it still points at that head; a rejected MR's bead goes back to its polecat (or to open)
 * with mail carrying the reason and the end of the gate log, escalated after max_rework rejections;
 * convoys the merges complete land. Each MR is followed up once (`followup = 'pending'` → 'done').
 */
export class FollowupSweeps {
  private readonly root: string;
  private readonly store: BeadStore;
  private readonly rig: string;
  private readonly log: (line: string) => void;
  private repo!: SweepRepo;
  private chain: Promise<number> = Promise.resolve(0);

  constructor(options: { root: string; store: BeadStore; rig: string; log: (line: string) => void }) {
    this.root = options.root;
    this.store = options.store;
    this.rig = options.rig;
    this.log = options.log;
  }

  /** One sweep over every pending follow-up; sweeps run one at a time (a second waits for the first). */
  sweep(repo: SweepRepo): Promise<number> {
    const run = () => {
      this.repo = repo;
      return this.sweepNow();
    };
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => 0);
    return next;
  }

  private async sweepNow(): Promise<number> {
    const pending = prepared<[string], MrRow>(
      this.store.db,
      "SELECT * FROM merge_requests WHERE rig = ? AND followup = 'pending' ORDER BY id",
    ).all(this.rig);
    const onMain = await this.headsOnMain(pending.filter((mr) => mr.state === 'merged'));
    const merged: Array<{ mr: MrRow; cleanup: string }> = [];
    for (const mr of pending) {
      if (mr.state === 'merged') {
        if (onMain.has(mr.id)) merged.push({ mr, cleanup: await this.closeMerged(mr) });
        // Never: merged is recorded only after main == candidate. Leave it pending and say so.
        else this.log(`MR ${mr.id}: head ${mr.head_sha} not on ${this.repo.main}; follow-up deferred`);
      } else if (mr.state === 'rejected') {
        this.followRejected(mr);
      }
    }
    const deleted = await this.deleteMergedBranches(merged.map((m) => m.mr));
    for (const { mr, cleanup } of merged) this.recordMergedFollowup(mr, cleanup, deleted.has(mr.id));
    const closed = merged.map((m) => m.mr.bead_id);
    // Convoys these merges complete land now, and the town's [notify] command hears about it.
    if (closed.length > 0) {
      await onBeadsClosed(this.store, closed, {
        root: this.root,
        notify: loadNotifyConfig(this.root).config,
      });
    }
    return pending.length;
  }

  /**
   * Which merged MRs' heads are on main: one `for-each-ref --merged` over their branches (a branch still at
   * its head and merged into main), and `merge-base --is-ancestor` only for a branch that moved or is gone.
   */
  private async headsOnMain(mrs: readonly MrRow[]): Promise<Set<number>> {
    const out = new Set<number>();
    if (mrs.length === 0) return out;
    const { bare, main } = this.repo;
    const listed = await runGit(
      [
        'for-each-ref',
        `--merged=refs/heads/${main}`,
        '--format=%(objectname) %(refname)',
        ...mrs.map((mr) => `refs/heads/${mr.branch}`),
      ],
      { cwd: bare },
    );
    const merged = new Set(listed.code === 0 ? listed.stdout.split('\n').filter(Boolean) : []);
    for (const mr of mrs) {
      if (merged.has(`${mr.head_sha} refs/heads/${mr.branch}`)) {
        out.add(mr.id);
        continue;
      }
      const r = await runGit(['merge-base', '--is-ancestor', mr.head_sha, `refs/heads/${main}`], {
        cwd: bare,
      });
      if (r.code === 0) out.add(mr.id);
    }
    return out;
  }

  /** A merged MR's bead closed and its polecat's checkout removed (its commits are on main). */
  private async closeMerged(mr: MrRow): Promise<string> {
    const bead = this.store.get(mr.bead_id);
    if (bead && bead.status !== 'closed') this.store.close(mr.bead_id, `merged in ${mr.merged_sha}`, true);
    const agent = prepared<
      [string],
      { id: string; role: string; hooked_bead: string | null; rig: string | null; name: string }
    >(this.store.db, 'SELECT id, role, hooked_bead, rig, name FROM agents WHERE id = ?').get(mr.agent_id);
    const ours =
      agent?.role === 'polecat' &&
      agent.rig === this.rig &&
      (agent.hooked_bead === mr.bead_id || agent.hooked_bead === null);
    if (!agent || !ours) return 'no polecat';
    try {
      const removed = await removePolecatCheckout(this.root, this.rig, agent.name, {
        defaultBranch: this.repo.main,
      });
      this.store.write(() => {
        prepared(
          this.store.db,
          `UPDATE agents SET hooked_bead = NULL, state = CASE WHEN state IN ('done','idle') THEN 'idle' ELSE state END,
             worktree = NULL, branch = NULL, updated_at = ? WHERE id = ? AND (hooked_bead = ? OR hooked_bead IS NULL)`,
        ).run(nowMs(), agent.id, mr.bead_id);
      });
      return removed.removed ? 'checkout removed' : 'no checkout';
    } catch (error) {
      return `checkout kept: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  /**
   * The merged MRs' branches deleted from the rig's repo, each only if it still points at the merged head:
   * one `update-ref --stdin` transaction, or one deletion at a time if any branch moved or is gone.
   */
  private async deleteMergedBranches(mrs: readonly MrRow[]): Promise<Set<number>> {
    const out = new Set<number>();
    if (mrs.length === 0) return out;
    const { bare } = this.repo;
    const input = mrs.map((mr) => `delete refs/heads/${mr.branch} ${mr.head_sha}\n`).join('');
    const all = await withRepoLock(bare, () => runGit(['update-ref', '--stdin'], { cwd: bare, input }));
    if (all.code === 0) {
      for (const mr of mrs) out.add(mr.id);
      return out;
    }
    for (const mr of mrs) {
      const one = await withRepoLock(bare, () =>
        runGit(['update-ref', '-d', `refs/heads/${mr.branch}`, mr.head_sha], { cwd: bare }),
      );
      if (one.code === 0) out.add(mr.id);
    }
    return out;
  }

  private recordMergedFollowup(mr: MrRow, cleanup: string, branchDeleted: boolean): void {
    this.store.write(() => {
      prepared(
        this.store.db,
        "UPDATE merge_requests SET followup = 'done', updated_at = ? WHERE id = ? AND followup = 'pending'",
      ).run(nowMs(), mr.id);
      addMrEvent(
        this.store.db,
        mr.id,
        'closed-bead',
        'merged',
        'merged',
        `${mr.bead_id} closed: merged in ${mr.merged_sha}; ${cleanup}; branch ${branchDeleted ? 'deleted' : 'kept (moved or gone)'}`,
      );
    });
  }

  private followRejected(mr: MrRow): void {
    const db = this.store.db;
    const { maxRework } = this.repo;
    this.store.write(() => {
      const rework = prepared<[string], { n: number }>(
        db,
        `SELECT count(*) AS n FROM merge_requests WHERE bead_id = ? AND state = 'rejected'
           AND rejected_reason IN (${REWORK_REASONS.map((r) => `'${r}'`).join(',')})`,
      ).get(mr.bead_id)!.n;
      const bead = this.store.get(mr.bead_id);
      const newer = prepared<[string, number], { n: number }>(
        db,
        "SELECT count(*) AS n FROM merge_requests WHERE bead_id = ? AND id > ? AND state IN ('queued','sheriff','ready','testing','merged')",
      ).get(mr.bead_id, mr.id)!.n;
      const agent = prepared<[string], { id: string; state: string; hooked_bead: string | null }>(
        db,
        'SELECT id, state, hooked_bead FROM agents WHERE id = ?',
      ).get(mr.agent_id);
      const holder = agent && agent.hooked_bead === mr.bead_id ? agent : undefined;
      let destination = 'unchanged (a newer MR of the bead is in the queue)';
      if (bead && bead.status !== 'closed' && newer === 0) {
        if (holder) {
          const status = holder.state === 'working' || holder.state === 'starting' ? 'in_progress' : 'hooked';
          if (bead.status !== status) this.store.update(bead.id, { status });
          destination = `back to ${holder.id} (${status})`;
        } else {
          this.store.update(bead.id, { status: 'open', assignee: null });
          destination = 'open (the polecat is gone)';
        }
      }
      const runs = prepared<[number, number], { id: number; log_tail: string | null; error: string | null }>(
        db,
        `SELECT g.id, g.log_tail, g.error FROM gate_runs g WHERE (g.mr_id = ? OR g.batch_id IN
           (SELECT b.id FROM mq_batches b, json_each(b.members) j WHERE j.value = ?)) AND g.state IN ('fail','error')
           ORDER BY g.id DESC LIMIT 1`,
      ).get(mr.id, mr.id);
      const events = prepared<[number], { detail: string | null }>(
        db,
        "SELECT detail FROM mr_events WHERE mr_id = ? AND to_state = 'rejected' ORDER BY id DESC LIMIT 1",
      ).get(mr.id);
      const reason = mr.rejected_reason ?? 'rejected';
      const body = [
        `Your merge request #${mr.id} (${mr.branch} at ${mr.head_sha}) for ${mr.bead_id} was rejected: ${reason}.`,
        events?.detail ? `Detail: ${events.detail}` : '',
        `Rework attempt ${rework} of ${maxRework}. Fix it on your branch, run the checks, then gt done again.`,
        '',
        runs?.log_tail
          ? fenceUntrusted(
              `End of the ${runs.error ? `run ${runs.id} (${runs.error})` : `run ${runs.id}`} log`,
              runs.log_tail.slice(-3000),
            )
          : '',
      ]
        .filter((l, i) => l !== '' || i === 3)
        .join('\n');
      if (holder) {
        sendMail(this.store, {
          from: SYSTEM_SENDER,
          to: holder.id,
          subject: `MR #${mr.id} rejected (${reason}): ${mr.bead_id}`.slice(0, 200),
          body: body.slice(0, 60_000),
          kind: 'refinery',
        });
      }
      let escalated = '';
      if (rework >= maxRework && REWORK_REASONS.includes(reason) && newer === 0) {
        const esc = createEscalation(this.store, {
          severity: 'HIGH',
          summary: `${mr.bead_id}: merge request rejected ${rework} times (last: ${reason})`,
          details: body.slice(0, 60_000),
          source: SYSTEM_SENDER,
          bead: mr.bead_id,
        });
        escalated = `; escalated ${esc.id}`;
      }
      prepared(
        db,
        "UPDATE merge_requests SET followup = 'done', updated_at = ? WHERE id = ? AND followup = 'pending'",
      ).run(nowMs(), mr.id);
      addMrEvent(
        db,
        mr.id,
        'returned',
        'rejected',
        'rejected',
        `bead ${destination}${holder ? '; mail sent' : ''}${escalated}`,
      );
    });
  }
}
