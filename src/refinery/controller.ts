import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GtError } from '../core/errors';
import {
  batchSizeFor,
  bisectionPath,
  earlyLanding,
  estimatedFailureRate,
  type FlakePolicy,
  nextStep,
  type Observation,
  orderQueue,
  probePrefixes,
  queueFailureRate,
  type Step,
  siblingWorthIt,
  speculationDepth,
} from '../core/refinery/plan';
import { git, parseGitVersion, runGit, withRepoLock } from '../git/git';
import { mergeInProgress } from '../git/merge-state';
import { prepared } from '../ledger/open';
import type { BeadStore } from '../ledger/store';
import { nowMs } from '../ledger/time';
import { withFileLock } from '../runtime/lock';
import { crashPoint } from '../services/faults';
import { gateTimeoutMs, loadRigConfigFile, type RigConfig } from '../town/config';
import { refineryPaths, rigLayout, townLayout } from '../town/layout';
import { requireRigRow } from '../town/rig-store';
import { refineryPushEnv } from '../town/secret';
import { FollowupSweeps } from './followups';
import { type GateCommand, type GateRunResult, groupAlive, killGroup, runGate } from './gate-runner';
import {
  addMrEvent,
  type BatchRow,
  batchRuns,
  getBatch,
  getMr,
  type MrRow,
  mrsInState,
  openBatches,
  type QueuedMr,
  transitionMr,
} from './ledger';

/**
 * The Refinery controller for one rig (docs/refinery.md). Every pass recomputes from the ledger and the
 * repositories: it first settles whatever a previous (possibly killed) pass left in flight, then runs
 * rounds — Sheriff over queued MRs, decisions that need no run, then up to gate_parallelism gate runs at
 * once — until nothing is open or ready, following decisions up (beads, convoys, mail) as it goes.
 *
 * Invariants:
 *  - main moves only to a commit with a 'pass' gate run recorded for it, by a compare-and-swap push
 *    (--force-with-lease on the batch's base); if main moved, nothing lands and the batch is retested;
 *  - a batch's landing intent (state 'landing' + landing_sha) is written before the push, so after a
 *    crash "main == landing_sha" means landed and anything else means not (yet) landed;
 *  - an MR becomes 'merged' only after main is verified to equal the candidate that contains it.
 */
export interface RefineryOptions {
  root: string;
  store: BeadStore;
  rig: string;
  env?: NodeJS.ProcessEnv;
  /** 'naive': one MR at a time, no batching (the benchmark's baseline). */
  mode?: 'batch' | 'naive';
  flakePolicy?: FlakePolicy;
  /** Test hooks. */
  hooks?: {
    beforeLand?: (info: { batchId: number; candidate: string; base: string }) => Promise<void> | void;
    afterGate?: (info: { candidate: string; verdict: string }) => Promise<void> | void;
  };
  log?: (line: string) => void;
  /** Kill grace for timed-out gates (ms). */
  killGraceMs?: number;
}

export interface PassSummary {
  rig: string;
  recovered: string[];
  sheriff: { passed: number[]; rejected: number[] };
  batches: Array<{
    id: number;
    members: number[];
    conflicts: number[];
    landed: number[];
    rejected: number[];
    requeued: number[];
    landedSha: string | null;
    gateRuns: number;
    path: string;
    outcome: string;
  }>;
  followups: number;
  idle: boolean;
}

/** The fixed date (ms) of a batch chain's intermediate merge commits (2001-09-09; any fixed date works). */
const CHAIN_COMMIT_TIME = 1_000_000_000_000;

const IDENTITY_ENV = {
  GIT_AUTHOR_NAME: 'Gas Town Refinery',
  GIT_AUTHOR_EMAIL: 'refinery@gastown.invalid',
  GIT_COMMITTER_NAME: 'Gas Town Refinery',
  GIT_COMMITTER_EMAIL: 'refinery@gastown.invalid',
};

interface RigSetup {
  config: RigConfig;
  main: string;
  bare: string;
  clone: string;
  work: string;
  logs: string;
  upstream: string | null;
  experimental: boolean;
}

export class Refinery {
  readonly root: string;
  readonly store: BeadStore;
  readonly rig: string;
  private readonly options: RefineryOptions;
  private setup!: RigSetup;
  private upstreamSynced = false;

  constructor(options: RefineryOptions) {
    this.options = options;
    this.root = options.root;
    this.store = options.store;
    this.rig = options.rig;
  }

  private get db() {
    return this.store.db;
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private env(): NodeJS.ProcessEnv {
    return this.options.env ?? process.env;
  }

  /** One full pass under the rig's Refinery lock. */
  async pass(): Promise<PassSummary> {
    const { lock } = refineryPaths(this.root, this.rig);
    try {
      return await withFileLock(lock, 1000, () => this.passLocked());
    } catch (error) {
      if (error instanceof GtError && error.code === 'GT_E_SESSION') {
        throw new GtError('GT_E_REFINERY_BUSY', `another Refinery is running for rig ${this.rig}`, {
          hint: `only one Refinery per rig; its lock is ${lock}`,
        });
      }
      throw error;
    }
  }

  /** Passes until nothing is left to do now (what `gt refinery run --once` does). */
  async drain(maxPasses = 1000): Promise<PassSummary[]> {
    const out: PassSummary[] = [];
    for (let i = 0; i < maxPasses; i++) {
      const s = await this.pass();
      out.push(s);
      if (s.idle) break;
    }
    return out;
  }

  private async loadSetup(): Promise<RigSetup> {
    const rigRow = requireRigRow(this.db, this.rig);
    const layout = rigLayout(this.root, this.rig);
    const config = loadRigConfigFile(layout.config);
    const scratch = refineryPaths(this.root, this.rig);
    mkdirSync(scratch.dir, { recursive: true });
    return {
      config,
      main: config.default_branch ?? rigRow.defaultBranch,
      bare: layout.bare,
      clone: layout.refinery,
      work: scratch.slot(0),
      logs: join(townLayout(this.root).logs, 'refinery', this.rig),
      upstream: config.upstream ?? rigRow.upstream,
      experimental: config.experimental || rigRow.experimental,
    };
  }

  private async passLocked(): Promise<PassSummary> {
    this.setup = await this.loadSetup();
    await this.ensureClone();
    const summary: PassSummary = {
      rig: this.rig,
      recovered: [],
      sheriff: { passed: [], rejected: [] },
      batches: [],
      followups: 0,
      idle: false,
    };
    await this.recover(summary);
    // Follow-ups of earlier decisions (close beads, land convoys, clean up, mail) run while the Sheriff and
    // the next batch's gate run: they touch other refs and other checkouts, and never main.
    const followups = this.followups();
    try {
      await this.runRounds(summary);
      summary.idle =
        openBatches(this.db, this.rig).length === 0 &&
        mrsInState(this.db, this.rig, ['queued', 'sheriff', 'ready']).length === 0;
    } finally {
      summary.followups += await followups;
    }
    // At the end of the queue, this pass's own decisions are followed up before returning.
    if (summary.idle) summary.followups += await this.followups();
    // Upstream: once per controller start (catch up after a crash), then whenever something landed.
    if (!this.upstreamSynced || summary.batches.some((b) => b.landedSha) || summary.recovered.length > 0) {
      await this.pushUpstream();
      this.upstreamSynced = true;
    }
    return summary;
  }

  // ---------------------------------------------------------------- repositories

  private async ensureClone(): Promise<void> {
    const { clone, bare, main } = this.setup;
    if (!existsSync(join(clone, '.git'))) {
      await git(['clone', '--quiet', '--no-checkout', bare, clone], { cwd: join(clone, '..') });
    }
    void main;
  }

  /** main as the bare repo has it right now: the only truth about what has landed. */
  async mainSha(): Promise<string> {
    return git(['rev-parse', '--verify', `refs/heads/${this.setup.main}^{commit}`], { cwd: this.setup.bare });
  }

  private async fetch(): Promise<void> {
    await git(['fetch', '--quiet', '--prune', '--no-tags', 'origin', '+refs/heads/*:refs/remotes/origin/*'], {
      cwd: this.setup.clone,
    });
  }

  /** Which of these commits the Refinery clone has; fetches once if any is missing. */
  private async presentCommits(shas: readonly string[]): Promise<Set<string>> {
    const check = async () => {
      const r = await runGit(['cat-file', '--batch-check=%(objectname) %(objecttype)'], {
        cwd: this.setup.clone,
        input: `${shas.join('\n')}\n`,
      });
      return new Set(
        r.stdout
          .split('\n')
          .map((l) => l.split(' '))
          .filter((p) => p[1] === 'commit')
          .map((p) => p[0]!),
      );
    };
    let present = await check();
    if (shas.some((s) => !present.has(s))) {
      await this.fetch();
      present = await check();
    }
    return present;
  }

  /** Scratch worktree of gate slot `slot` (slot 0 is the Sheriff's and the merges' worktree too). */
  private workDir(slot = 0): string {
    return refineryPaths(this.root, this.rig).slot(slot);
  }

  private checkoutChain: Promise<void> = Promise.resolve();

  /**
   * The scratch worktree of `slot`, clean and detached at `sha`. Each slot has its own worktree (own index
   * and HEAD); (re)creating one is serialised, as parallel `git worktree add/prune` on one clone must not race.
   */
  private async checkout(sha: string, slot = 0): Promise<void> {
    const work = this.workDir(slot);
    if (existsSync(join(work, '.git'))) {
      // Only the Sheriff's merges leave MERGE_HEAD behind (when killed mid-merge).
      if (mergeInProgress(work)) {
        await runGit(['merge', '--abort'], { cwd: work });
      }
      const r = await runGit(['checkout', '--quiet', '--detach', '--force', sha], { cwd: work });
      if (r.code === 0) {
        await git(['clean', '-ffdxq'], { cwd: work });
        return;
      }
    }
    const next = this.checkoutChain.then(
      () => this.recreateWorktree(sha, work),
      () => this.recreateWorktree(sha, work),
    );
    this.checkoutChain = next.catch(() => undefined);
    return next;
  }

  private async recreateWorktree(sha: string, work: string): Promise<void> {
    const { clone } = this.setup;
    await runGit(['worktree', 'remove', '--force', work], { cwd: clone });
    await git(['worktree', 'prune'], { cwd: clone });
    await git(['worktree', 'add', '--quiet', '--detach', '--force', work, sha], { cwd: clone });
  }

  private mergeTreeSupport: boolean | undefined;

  private async hasMergeTree(): Promise<boolean> {
    if (this.mergeTreeSupport === undefined) {
      const v = parseGitVersion(await git(['version'], { cwd: this.setup.clone })) ?? [0, 0, 0];
      this.mergeTreeSupport = v[0]! > 2 || (v[0] === 2 && v[1]! >= 38);
    }
    return this.mergeTreeSupport;
  }

  private commitEnv(time: number): NodeJS.ProcessEnv {
    const date = `@${Math.floor(time / 1000)} +0000`;
    return { ...IDENTITY_ENV, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
  }

  /** Merges `head` into the worktree's HEAD; false (and a clean worktree) on conflict. */
  private async mergeInto(head: string, message: string, time: number): Promise<boolean> {
    const r = await runGit(['merge', '--no-ff', '--no-edit', '--quiet', '-m', message, head], {
      cwd: this.setup.work,
      env: this.commitEnv(time),
    });
    if (r.code === 0) return true;
    await runGit(['merge', '--abort'], { cwd: this.setup.work });
    await runGit(['reset', '--quiet', '--hard', 'HEAD'], { cwd: this.setup.work });
    return false;
  }

  // ---------------------------------------------------------------- recovery

  private async recover(summary: PassSummary): Promise<void> {
    // Gate runs a killed Refinery left behind: kill what is still running, record them as aborted.
    const running = prepared<[string], { id: number; pid: number | null }>(
      this.db,
      "SELECT id, pid FROM gate_runs WHERE rig = ? AND state = 'running'",
    ).all(this.rig);
    for (const run of running) {
      if (run.pid && groupAlive(run.pid)) killGroup(run.pid, 'SIGKILL');
      prepared(
        this.db,
        "UPDATE gate_runs SET state = 'aborted', finished_at = ? WHERE id = ? AND state = 'running'",
      ).run(nowMs(), run.id);
      summary.recovered.push(`gate run ${run.id} aborted`);
    }
    // An MR left in 'sheriff' by a crash is simply checked again.
    for (const mr of mrsInState(this.db, this.rig, ['sheriff'])) {
      this.store.write(() =>
        transitionMr(this.db, mr.id, 'sheriff', 'queued', 'sheriff-restarted', 'Refinery restarted'),
      );
    }
    // MRs in 'testing' without an open batch cannot exist (they are moved in one transaction), but a
    // hand-edited ledger must not strand them.
    const open = new Set(openBatches(this.db, this.rig).map((b) => b.id));
    for (const mr of mrsInState(this.db, this.rig, ['testing'])) {
      if (mr.batch_id === null || !open.has(mr.batch_id)) {
        this.store.write(() =>
          transitionMr(this.db, mr.id, 'testing', 'ready', 'requeued', 'no open batch', { batchId: null }),
        );
        summary.recovered.push(`MR ${mr.id} requeued (no open batch)`);
      }
    }
    // Open batches: a landing whose push happened before the crash is recorded; everything else is resumed
    // by the rounds, which reuse the recorded verdicts (and discard what can no longer land).
    const main = await this.mainSha();
    for (const batch of openBatches(this.db, this.rig)) {
      const step = JSON.parse(batch.outcome ?? 'null') as Step | null;
      if (batch.state === 'landing' && batch.landing_sha === main && step?.kind === 'decide') {
        this.finishBatch(batch, step, main);
        summary.recovered.push(`batch ${batch.id} landed ${main.slice(0, 12)} before the crash: recorded`);
        continue;
      }
      summary.recovered.push(`batch ${batch.id} resumed`);
    }
  }

  // ---------------------------------------------------------------- sheriff

  private async sheriff(summary: PassSummary): Promise<void> {
    const queued = orderQueue(
      mrsInState(this.db, this.rig, ['queued']).map((m) => ({ ...m, createdAt: m.created_at })),
    );
    if (queued.length === 0) return;
    const present = await this.presentCommits(queued.map((m) => m.head_sha));
    for (const mr of queued) {
      const ok = this.store.write(() =>
        transitionMr(this.db, mr.id, 'queued', 'sheriff', 'accepted', `head ${mr.head_sha.slice(0, 12)}`),
      );
      if (!ok) continue;
      const sheriff = this.setup.config.commands.sheriff;
      if (!present.has(mr.head_sha)) {
        this.reject(mr.id, 'sheriff', 'cancelled', `branch head ${mr.head_sha} is not in the rig's repo`);
        summary.sheriff.rejected.push(mr.id);
        continue;
      }
      if (!sheriff) {
        // Nothing to run: conflicts are found when the batch is merged, so no scratch merge here.
        this.store.write(() =>
          transitionMr(
            this.db,
            mr.id,
            'sheriff',
            'ready',
            'sheriff-skipped',
            'no sheriff command in rig.toml',
          ),
        );
        summary.sheriff.passed.push(mr.id);
        continue;
      }
      const main = await this.mainSha();
      await this.checkout(main);
      if (!(await this.mergeInto(mr.head_sha, `sheriff: MR #${mr.id}`, nowMs()))) {
        this.reject(
          mr.id,
          'sheriff',
          'conflict',
          `${mr.branch} does not merge cleanly onto ${this.setup.main} ${main.slice(0, 12)}`,
        );
        summary.sheriff.rejected.push(mr.id);
        continue;
      }
      const candidate = await git(['rev-parse', 'HEAD'], { cwd: this.setup.work });
      const run = await this.runChecked(
        'sheriff',
        { mrId: mr.id, base: main, candidate, reason: 'sheriff' },
        sheriff.command,
        gateTimeoutMs(this.setup.config, 'sheriff'),
      );
      if (run.result.verdict === 'pass') {
        this.store.write(() =>
          transitionMr(this.db, mr.id, 'sheriff', 'ready', 'sheriff-passed', `run ${run.id}`),
        );
        summary.sheriff.passed.push(mr.id);
      } else {
        this.reject(mr.id, 'sheriff', 'sheriff-failed', `sheriff run ${run.id}: ${describe(run.result)}`);
        summary.sheriff.rejected.push(mr.id);
      }
    }
  }

  private reject(id: number, from: MrRow['state'], reason: string, detail: string): boolean {
    return this.store.write(() =>
      transitionMr(this.db, id, from, 'rejected', 'rejected', `${reason}: ${detail}`, {
        reason,
        followup: 'pending',
        batchId: null,
      }),
    );
  }

  // ---------------------------------------------------------------- gate runs

  private async runChecked(
    kind: 'sheriff' | 'gate',
    where: {
      mrId?: number;
      batchId?: number;
      prefix?: number;
      base: string;
      candidate: string;
      reason: string;
      /** Gate slot (scratch worktree) to run in; 0 unless gates run in parallel. */
      slot?: number;
    },
    command: GateCommand,
    timeoutMs: number,
  ): Promise<{ id: number; result: GateRunResult }> {
    // The test intent, recorded before anything runs.
    const id = Number(
      prepared(
        this.db,
        `INSERT INTO gate_runs (rig, kind, batch_id, mr_id, prefix, reason, base_sha, candidate_sha, state, started_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)`,
      ).run(
        this.rig,
        kind,
        where.batchId ?? null,
        where.mrId ?? null,
        where.prefix ?? null,
        where.reason,
        where.base,
        where.candidate,
        nowMs(),
      ).lastInsertRowid,
    );
    const logPath = join(this.setup.logs, `run-${id}.log`);
    prepared(this.db, 'UPDATE gate_runs SET log_path = ? WHERE id = ?').run(logPath, id);
    const slot = where.slot ?? 0;
    const cwd = this.workDir(slot);
    await this.checkout(where.candidate, slot);
    const env = { GT_RIG: this.rig, GT_REFINERY_RUN: String(id), GT_REFINERY_CANDIDATE: where.candidate };
    let result: GateRunResult | undefined;
    const setup = this.setup.config.commands.setup;
    if (setup) {
      result = await runGate({
        command: setup.command,
        cwd,
        timeoutMs: gateTimeoutMs(this.setup.config, 'setup'),
        logPath: join(this.setup.logs, `run-${id}.setup.log`),
        env,
        killGraceMs: this.options.killGraceMs,
        onStart: (pid) => prepared(this.db, 'UPDATE gate_runs SET pid = ? WHERE id = ?').run(pid, id),
      });
      if (result.verdict !== 'pass') {
        result = {
          ...result,
          verdict: 'error',
          error: `setup failed: ${result.error ?? `exit ${result.exitCode}`}`,
        };
      } else result = undefined;
    }
    crashPoint(`refinery:before-${kind}`, this.env());
    result ??= await runGate({
      command,
      cwd,
      timeoutMs,
      logPath,
      env,
      killGraceMs: this.options.killGraceMs,
      onStart: (pid) => prepared(this.db, 'UPDATE gate_runs SET pid = ? WHERE id = ?').run(pid, id),
    });
    prepared(
      this.db,
      `UPDATE gate_runs SET state = ?, exit_code = ?, error = ?, log_tail = ?, finished_at = ?
         WHERE id = ? AND state = 'running'`,
    ).run(result.verdict, result.exitCode, result.error, result.tail.slice(-4096), nowMs(), id);
    this.log(`${kind} run ${id} on ${where.candidate.slice(0, 12)} (${where.reason}): ${describe(result)}`);
    await this.options.hooks?.afterGate?.({ candidate: where.candidate, verdict: result.verdict });
    return { id, result };
  }

  // ---------------------------------------------------------------- batches

  /** Recent gate verdicts of this rig's MRs, newest first (true = rejected by the gate). */
  private recentVerdicts(): boolean[] {
    return prepared<[string], { bad: number }>(
      this.db,
      `SELECT (state = 'rejected') AS bad FROM merge_requests
         WHERE rig = ? AND (state = 'merged' OR (state = 'rejected' AND rejected_reason IN ('gate-failed','gate-error')))
         ORDER BY updated_at DESC, id DESC LIMIT 32`,
    )
      .all(this.rig)
      .map((r) => r.bad === 1);
  }

  /**
   * The failure rate of the MRs next in line (`queueFailureRate`: the rig's rate, lowered for MRs that
   * already passed inside some candidate) and the batch size it gives (naive mode: always 1).
   */
  queueRisk(): { failureRate: number; size: number } {
    const rate = estimatedFailureRate(this.recentVerdicts());
    if (this.options.mode === 'naive') return { failureRate: rate, size: 1 };
    const r = this.setup.config.refinery;
    const bounds = { min: r?.batch_min ?? 1, max: r?.batch_max ?? 8 };
    const next = orderQueue(
      mrsInState(this.db, this.rig, ['ready']).map((m) => ({ ...m, createdAt: m.created_at })),
    ).slice(0, bounds.max);
    const failureRate = this.riskOf(next, rate);
    return { failureRate, size: batchSizeFor(failureRate, bounds) };
  }

  /** The failure rate of these MRs (see `queueFailureRate`); `rate` is the rig's. */
  private riskOf(
    mrs: ReadonlyArray<Pick<MrRow, 'id' | 'created_at'>>,
    rate = estimatedFailureRate(this.recentVerdicts()),
  ): number {
    const cleared = this.passedBefore(mrs);
    return queueFailureRate(
      rate,
      mrs.map((m) => cleared.has(m.id)),
    );
  }

  batchSize(): number {
    return this.queueRisk().size;
  }

  /** Which of these MRs were inside a candidate prefix that passed the gate (on any base). */
  private passedBefore(mrs: ReadonlyArray<Pick<MrRow, 'id' | 'created_at'>>): Set<number> {
    if (mrs.length === 0) return new Set();
    const since = Math.min(...mrs.map((m) => m.created_at));
    return new Set(
      prepared<[string, number, string], { id: number }>(
        this.db,
        `SELECT DISTINCT j.value AS id
           FROM mq_batches b JOIN gate_runs g ON g.batch_id = b.id, json_each(b.members) j
          WHERE b.rig = ? AND b.created_at >= ? AND g.kind = 'gate' AND g.state = 'pass' AND j.key < g.prefix
            AND j.value IN (SELECT value FROM json_each(?))`,
      )
        .all(this.rig, since, JSON.stringify(mrs.map((m) => m.id)))
        .map((r) => r.id),
    );
  }

  /** Gate runs at once: `[refinery] gate_parallelism` (1 = one after another; naive mode: always 1). */
  parallelism(): number {
    if (this.options.mode === 'naive') return 1;
    return this.setup.config.refinery?.gate_parallelism ?? 1;
  }

  /**
   * A new batch of ready MRs merged onto `base`: main for the head batch, or the full candidate of the
   * batch ahead for a speculative one (Zuul's dependent pipeline). Null when nothing is ready.
   */
  private async newBatch(base: string, speculative = false): Promise<BatchRow | null> {
    const ready = mrsInState(this.db, this.rig, ['ready']);
    if (ready.length === 0) return null;
    if (!this.setup.config.commands.gate) {
      this.log(`rig ${this.rig} has no [commands.gate]: nothing can land`);
    }
    const size = this.batchSize();
    const picked = orderQueue(ready.map((m) => ({ ...m, createdAt: m.created_at }))).slice(0, size);
    const present = await this.presentCommits([base, ...picked.map((m) => m.head_sha)]);
    const time = nowMs();
    const fast = await this.hasMergeTree();
    if (!fast) await this.checkout(base);
    let current = base;
    const kept: QueuedMr[] = [];
    const conflicts: Array<{ mr: QueuedMr; detail: string }> = [];
    const trees: string[] = [];
    for (const mr of picked) {
      if (!present.has(mr.head_sha)) {
        conflicts.push({ mr, detail: `branch head ${mr.head_sha} is not in the rig's repo` });
        continue;
      }
      let tree: string | null = null;
      if (fast) {
        const step = await this.mergeStep(current, mr);
        tree = step.tree;
        current = step.next;
      } else if (await this.mergeInto(mr.head_sha, `MR #${mr.id}: merge ${mr.branch}`, time)) {
        tree = await git(['rev-parse', 'HEAD^{tree}'], { cwd: this.setup.work });
      }
      if (tree) {
        kept.push(mr);
        trees.push(tree);
      } else {
        conflicts.push({
          mr,
          detail: `${mr.branch} conflicts with ${this.setup.main} ${base.slice(0, 12)} + earlier MRs of the batch`,
        });
      }
    }
    return this.store.write(() => {
      const now = nowMs();
      let batch: BatchRow | null = null;
      if (kept.length > 0) {
        const id = Number(
          prepared(
            this.db,
            `INSERT INTO mq_batches (rig, state, base_sha, members, trees, commit_time, created_at, updated_at)
               VALUES (?, 'active', ?, ?, ?, ?, ?, ?)`,
          ).run(this.rig, base, JSON.stringify(kept.map((m) => m.id)), JSON.stringify(trees), time, now, now)
            .lastInsertRowid,
        );
        kept.forEach((mr, i) => {
          transitionMr(
            this.db,
            mr.id,
            'ready',
            'testing',
            'batched',
            `batch ${id}: position ${i + 1} of ${kept.length} on ${base.slice(0, 12)}${speculative ? ' (speculative: stacked on the batch ahead)' : ''}`,
            {
              batchId: id,
              attempt: true,
            },
          );
        });
        batch = getBatch(this.db, id)!;
      }
      for (const c of conflicts) {
        // A speculative base holds MRs that may not land: a conflict with it is no verdict yet. The MR stays
        // ready and is merged again when its batch is built on main.
        if (speculative) continue;
        transitionMr(this.db, c.mr.id, 'ready', 'rejected', 'rejected', `conflict: ${c.detail}`, {
          reason: c.detail.includes('is not in') ? 'cancelled' : 'conflict',
          followup: 'pending',
          batchId: null,
        });
      }
      return batch;
    });
  }

  private readonly merges = new Map<string, { tree: string | null; next: string }>();

  /**
   * One merge of a batch's chain, in the object store (git >= 2.38, ort): `head` onto `current`. Returns
   * the merged tree (null on conflict) and the commit the next merge builds on. The chain's commits are
   * only merge inputs (candidates are built separately), so they get a fixed date: the same merge gives the
   * same commit, and each is computed once (see `warmNextBatch`).
   */
  private async mergeStep(
    current: string,
    mr: Pick<MrRow, 'id' | 'branch' | 'head_sha'>,
  ): Promise<{ tree: string | null; next: string }> {
    const key = `${current}:${mr.id}:${mr.head_sha}`;
    const known = this.merges.get(key);
    if (known) return known;
    const r = await runGit(['merge-tree', '--write-tree', '--no-messages', current, mr.head_sha], {
      cwd: this.setup.clone,
    });
    let step: { tree: string | null; next: string };
    if (r.code === 0) {
      const tree = r.stdout.split('\n')[0]!.trim();
      const message = `MR #${mr.id}: merge ${mr.branch}`;
      const next = await git(['commit-tree', tree, '-p', current, '-p', mr.head_sha, '-m', message], {
        cwd: this.setup.clone,
        env: this.commitEnv(CHAIN_COMMIT_TIME),
      });
      step = { tree, next };
    } else if (r.code === 1) {
      step = { tree: null, next: current };
    } else {
      throw new GtError('GT_E_GIT', `git merge-tree failed: ${r.stderr.trim()}`);
    }
    if (this.merges.size > 4096) this.merges.clear();
    this.merges.set(key, step);
    return step;
  }

  /**
   * While a round's gates run, the merges of the batch most likely built next are computed ahead, onto
   * each base it may have (main if nothing lands; the main-flow batch's tip if it lands whole), so that
   * building it after the round costs no git runs. Only a cache: a wrong guess costs CPU, never a verdict.
   */
  private async warmNextBatch(jobs: ReadonlyArray<{ batch: BatchRow; reason: string }>): Promise<void> {
    try {
      if (!(await this.hasMergeTree())) return;
      const main = await this.mainSha();
      const head = jobs.find((j) => j.reason === 'batch' && j.batch.base_sha === main);
      const size = this.batchSize();
      const ready = orderQueue(
        mrsInState(this.db, this.rig, ['ready']).map((m) => ({ ...m, createdAt: m.created_at })),
      ).slice(0, 2 * size);
      if (ready.length === 0) return;
      // The next batch on main (nothing lands) or on the head's tip (it lands whole, or stacks), and the
      // batch after it on main (a sibling).
      const chains: Array<{ base: string; mrs: typeof ready }> = [{ base: main, mrs: ready.slice(0, size) }];
      if (head) chains.push({ base: await this.tip(head.batch), mrs: ready.slice(0, size) });
      if (ready.length > size) chains.push({ base: main, mrs: ready.slice(size) });
      const present = await this.presentCommits([
        ...chains.map((c) => c.base),
        ...ready.map((m) => m.head_sha),
      ]);
      await Promise.all(
        chains.map(async ({ base, mrs }) => {
          if (!present.has(base)) return;
          let current = base;
          for (const mr of mrs) {
            if (present.has(mr.head_sha)) current = (await this.mergeStep(current, mr)).next;
          }
        }),
      );
    } catch (error) {
      this.log(`merge warm-up skipped: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** The candidate commit for prefix k: tree after k merges, parents main + the k heads (deterministic). */
  private async candidate(batch: BatchRow, members: MrRow[], k: number): Promise<string> {
    // Deterministic (fixed tree, parents, message and dates), so each is built once: planning asks often.
    const key = `${batch.id}:${k}:${batch.base_sha}`;
    const known = this.candidates.get(key);
    if (known) return known;
    const sha = await this.buildCandidate(batch, members, k);
    if (this.candidates.size > 4096) this.candidates.clear();
    this.candidates.set(key, sha);
    return sha;
  }

  private readonly candidates = new Map<string, string>();

  private async buildCandidate(batch: BatchRow, members: MrRow[], k: number): Promise<string> {
    const trees = JSON.parse(batch.trees) as string[];
    const args = ['commit-tree', trees[k - 1]!, '-p', batch.base_sha];
    for (const mr of members.slice(0, k)) args.push('-p', mr.head_sha);
    const lines = [`Refinery batch ${batch.id}: merge ${k} MR${k === 1 ? '' : 's'}`, ''];
    for (const mr of members.slice(0, k))
      lines.push(`MR #${mr.id} ${mr.bead_id} ${mr.branch} ${mr.head_sha}`);
    args.push('-m', lines.join('\n'));
    return git(args, { cwd: this.setup.clone, env: this.commitEnv(batch.commit_time) });
  }

  /** The verdicts recorded for a batch (aborted and running gate runs are no verdict). */
  private observations(batchId: number): Observation[] {
    const inherited = JSON.parse(getBatch(this.db, batchId)?.inherited ?? '[]') as Observation[];
    return inherited.concat(
      batchRuns(this.db, batchId)
        .filter((r) => r.kind === 'gate' && (r.state === 'pass' || r.state === 'fail' || r.state === 'error'))
        .map((r) => ({ prefix: r.prefix!, verdict: r.state as Observation['verdict'] })),
    );
  }

  private membersOf(batch: BatchRow): MrRow[] {
    return (JSON.parse(batch.members) as number[]).map((id) => getMr(this.db, id)!);
  }

  /** The batch's full candidate (prefix n): the base a speculative batch behind it is stacked on. */
  private async tip(batch: BatchRow): Promise<string> {
    const members = this.membersOf(batch);
    return this.candidate(batch, members, members.length);
  }

  private emptyReport(batch: BatchRow): PassSummary['batches'][number] {
    return {
      id: batch.id,
      members: JSON.parse(batch.members) as number[],
      conflicts: [],
      landed: [],
      rejected: [],
      requeued: [],
      landedSha: null,
      gateRuns: 0,
      path: '',
      outcome: '',
    };
  }

  /** A batch's state for planning: its members, recorded verdicts, the planner's next step, and whether red. */
  private view(batch: BatchRow): BatchView {
    const members = this.membersOf(batch);
    const obs = this.observations(batch.id);
    return {
      batch,
      members,
      obs,
      step: nextStep(members.length, obs, this.options.flakePolicy),
      red: obs.some((o) => o.verdict !== 'pass'),
    };
  }

  /** Whether `sha` is main or one of its ancestors: a commit main once was, so tested green. */
  private async onMainHistory(sha: string): Promise<boolean> {
    // Once on main's history, always (main only moves forward); a "no" is asked again next time.
    if (this.onMain.has(sha)) return true;
    const r = await runGit(['merge-base', '--is-ancestor', sha, `refs/heads/${this.setup.main}`], {
      cwd: this.setup.bare,
    });
    if (r.code !== 0) return false;
    if (this.onMain.size > 4096) this.onMain.clear();
    this.onMain.add(sha);
    return true;
  }

  private readonly onMain = new Set<string>();

  /**
   * Rounds of gate runs until no batch is open and nothing is ready (docs/refinery.md, "Rounds"). Each
   * round first settles every batch that can be decided without another run, then plans the runs (the
   * bisection probes of red batches, oldest first; then the batch on main and, while branches are healthy,
   * batches stacked on it) and runs them at once in up to gate_parallelism slots. A red batch is bisected
   * on the base it was tested on while new batches keep landing beside it. Returns whether anything ran.
   */
  private async runRounds(summary: PassSummary): Promise<boolean> {
    const runs = new Map<number, number>();
    const followups: Array<Promise<number>> = [];
    let worked = false;
    try {
      for (;;) {
        // MRs queued while gates ran get their Sheriff check between rounds.
        await this.sheriff(summary);
        const decided = await this.settle({ summary, runs });
        worked ||= decided;
        const jobs = await this.planRound();
        // Decisions are followed up (beads closed, convoys landed, mail) once the next round is under way:
        // they are not on the path from one gate run to the next.
        const followUp = () => {
          if (decided) followups.push(this.followups());
        };
        if (jobs.length === 0) {
          followUp();
          return worked;
        }
        worked = true;
        // All settle before anything is decided (or an error is raised): no gate outlives its round.
        const running = Promise.allSettled(
          jobs.map(async (j, slot) => {
            await this.testPrefix(j.batch, j.members, j.prefix, j.reason, slot);
            runs.set(j.batch.id, (runs.get(j.batch.id) ?? 0) + 1);
          }),
        );
        followUp();
        const warm = this.warmNextBatch(jobs);
        const settled = await running;
        await warm;
        for (const r of settled) if (r.status === 'rejected') throw r.reason;
      }
    } finally {
      for (const n of await Promise.all(followups)) summary.followups += n;
    }
  }

  /**
   * Decides every open batch that needs no more runs, until none is left; true if anything was decided.
   *  - based on main: a passing prefix lands (when several could, the one landing the most MRs: the others
   *    are then on an old main); a culprit is rejected, the MRs after it go back to the queue;
   *  - red, based on an older main (main moved while it was bisected): its verdicts still isolate a culprit
   *    on that green base, so the culprit is rejected, but nothing of it lands: the rest is retested;
   *  - not red, based on an older main: its runs say nothing about the new main, so it is requeued;
   *  - stacked on a batch that will not land whole (red, decided or gone): speculation discarded.
   */
  private async settle(tally: Tally): Promise<boolean> {
    let decidedAny = false;
    for (;;) {
      const main = await this.mainSha();
      const views = openBatches(this.db, this.rig).map((b) => this.view(b));
      // The tip of each open batch on main or stacked on one (ids ascend up a stack) → can it land whole.
      const tips = new Map<string, boolean>();
      for (const v of views) {
        if (v.batch.base_sha !== main && !tips.has(v.batch.base_sha)) continue;
        tips.set(await this.tip(v.batch), !v.red && tips.get(v.batch.base_sha) !== false);
      }
      let action: (() => Promise<void>) | null = null;
      let best = -1;
      for (const v of views) {
        const { batch, step } = v;
        if (batch.base_sha === main) {
          // A red batch's green prefix lands without waiting for the culprit (the rest carries on).
          const decision =
            step.kind === 'decide' ? step : earlyLanding(v.members.length, v.obs, this.options.flakePolicy);
          if (!decision) continue;
          // Land the decision that lands the most MRs first; rejections need no landing and go first.
          const weight = decision.land === 0 ? Number.MAX_SAFE_INTEGER : decision.land;
          if (weight > best) {
            best = weight;
            action = () => this.decideOnMain({ ...v, step: decision }, tally);
          }
          continue;
        }
        if (action) continue;
        const stackedOn = tips.get(batch.base_sha);
        if (stackedOn === true) continue; // speculative: waits for the batch beneath to land whole
        if (stackedOn === undefined && (await this.onMainHistory(batch.base_sha))) {
          if (v.red) {
            if (step.kind === 'decide') action = async () => this.decideOnOldBase(v, tally);
            continue;
          }
          action = async () =>
            this.discard(v, tally, `main moved to ${main.slice(0, 12)}: retest`, 'main moved: requeued');
          continue;
        }
        action = async () =>
          this.discard(
            v,
            tally,
            `speculation discarded: its base ${batch.base_sha.slice(0, 12)} did not land (${this.setup.main} is ${main.slice(0, 12)})`,
            'speculation discarded: requeued',
          );
      }
      if (!action) return decidedAny;
      await action();
      decidedAny = true;
    }
  }

  private async decideOnMain(v: BatchView, { summary, runs }: Tally): Promise<void> {
    const { batch, members, step } = v;
    if (step.kind !== 'decide') return;
    const report = this.emptyReport(batch);
    report.path = bisectionPath(v.obs, step);
    report.gateRuns = runs.get(batch.id) ?? 0;
    summary.batches.push(report);
    let landed: string | null = null;
    if (step.land > 0) {
      const candidate = await this.candidate(batch, members, step.land);
      if ((await this.land(batch, step, candidate)) === 'moved') {
        report.requeued = members.map((m) => m.id);
        report.outcome = 'main moved: retest';
        return;
      }
      landed = candidate;
    }
    this.finishBatch(getBatch(this.db, batch.id)!, step, landed);
    report.landed = members.slice(0, step.land).map((m) => m.id);
    report.rejected = step.culprit ? [members[step.culprit - 1]!.id] : [];
    report.requeued = step.requeue.map((i) => members[i - 1]!.id);
    report.landedSha = landed;
    report.outcome = step.carried
      ? 'green prefix landed early: the rest continues on it'
      : step.flaky
        ? 'decided (a red run did not reproduce: flake)'
        : 'decided';
  }

  /** A red batch decided on an older main: the culprit is rejected; everyone else is retested on main. */
  private async decideOnOldBase(v: BatchView, { summary, runs }: Tally): Promise<void> {
    const { batch, members, step } = v;
    if (step.kind !== 'decide') return;
    const culprit = step.land === members.length ? null : step.culprit;
    const decision: Step = {
      ...step,
      land: 0,
      culprit,
      requeue: members.map((_, i) => i + 1).filter((i) => i !== culprit),
    };
    this.finishBatch(batch, decision, null);
    summary.batches.push({
      ...this.emptyReport(batch),
      rejected: culprit ? [members[culprit - 1]!.id] : [],
      requeued: decision.requeue.map((i) => members[i - 1]!.id),
      gateRuns: runs.get(batch.id) ?? 0,
      path: bisectionPath(v.obs, decision),
      outcome: `decided on ${batch.base_sha.slice(0, 12)}, an older ${this.setup.main}: the rest is retested`,
    });
  }

  private async discard(v: BatchView, { summary, runs }: Tally, why: string, outcome: string): Promise<void> {
    this.abandonBatch(v.batch, why);
    summary.batches.push({
      ...this.emptyReport(v.batch),
      requeued: v.members.map((m) => m.id),
      gateRuns: runs.get(v.batch.id) ?? 0,
      path: bisectionPath(v.obs),
      outcome,
    });
  }

  /**
   * The runs of the next round, at most gate_parallelism: the next probes of every red batch (oldest
   * first; an n-ary split with parallel_bisection), then the batch on main (a new one from the ready queue
   * if there is none), then batches stacked on it while the estimated chance that everything beneath lands
   * whole is high enough (`speculationDepth`). With one slot this is the classic order: a red batch is
   * bisected to its decision before the next batch is tested.
   */
  private async planRound(): Promise<
    Array<{ batch: BatchRow; members: MrRow[]; prefix: number; reason: string }>
  > {
    const slots = this.parallelism();
    const bisectSlots = this.setup.config.refinery?.parallel_bisection ? slots : 1;
    const jobs: Array<{ batch: BatchRow; members: MrRow[]; prefix: number; reason: string }> = [];
    const main = await this.mainSha();
    const views = openBatches(this.db, this.rig).map((b) => this.view(b));
    for (const v of views) {
      if (!v.red) continue;
      const room = Math.min(bisectSlots, slots - jobs.length);
      if (room <= 0) break;
      for (const p of probePrefixes(v.members.length, v.obs, room, this.options.flakePolicy)) {
        jobs.push({ batch: v.batch, members: v.members, prefix: p.prefix, reason: p.reason });
      }
    }
    if (jobs.length >= slots) return jobs;
    const open = views.find((v) => !v.red && v.batch.base_sha === main);
    const head = open?.batch ?? (await this.newBatch(main));
    if (!head) return jobs;
    const headMembers = open?.members ?? this.membersOf(head);
    const free = slots - jobs.length;
    jobs.push({ batch: head, members: headMembers, prefix: headMembers.length, reason: 'batch' });
    // Stacking bets on the head landing, a sibling on it failing: both judged by its MRs' risk.
    const failureRate = this.riskOf(headMembers);
    const size = headMembers.length;
    if (free > 1) {
      const depth = speculationDepth(free, failureRate, size);
      for (const b of await this.speculativeStack(head, depth - 1)) {
        const bm = this.membersOf(b);
        if (this.observations(b.id).some((o) => o.prefix === bm.length)) continue;
        jobs.push({ batch: b, members: bm, prefix: bm.length, reason: 'speculative' });
      }
    }
    // A slot still free and the head likely red: the next MRs are tested beside it, on main.
    if (jobs.length < slots && !views.some((v) => v.red) && siblingWorthIt(failureRate, size)) {
      const sibling = await this.newBatch(main);
      if (sibling) {
        const sm = this.membersOf(sibling);
        jobs.push({ batch: sibling, members: sm, prefix: sm.length, reason: 'sibling' });
      }
    }
    return jobs;
  }

  /**
   * The open batches stacked behind `head`, extended with new speculative batches up to `count` of them.
   * A batch is stacked only on one with no red verdict (a red one will not land whole).
   */
  private async speculativeStack(head: BatchRow, count: number): Promise<BatchRow[]> {
    const open = openBatches(this.db, this.rig).filter((b) => b.id !== head.id);
    const stack: BatchRow[] = [];
    let below = head;
    for (let i = 0; i < count; i++) {
      if (this.observations(below.id).some((o) => o.verdict !== 'pass')) break;
      const base = await this.tip(below);
      const next = open.find((b) => b.base_sha === base) ?? (await this.newBatch(base, true));
      if (!next) break;
      stack.push(next);
      below = next;
    }
    return stack;
  }

  /** One gate run of prefix `prefix` of `batch` in gate slot `slot`, with its trail events. */
  private async testPrefix(batch: BatchRow, members: MrRow[], prefix: number, reason: string, slot: number) {
    const n = members.length;
    const gate = this.setup.config.commands.gate;
    const candidate = await this.candidate(batch, members, prefix);
    const { id, result } = gate
      ? await this.runChecked(
          'gate',
          { batchId: batch.id, prefix, base: batch.base_sha, candidate, reason, slot },
          gate.command,
          gateTimeoutMs(this.setup.config, 'gate'),
        )
      : await this.noGate(batch, prefix, candidate, reason);
    this.store.write(() => {
      for (const mr of members.slice(0, prefix)) {
        addMrEvent(
          this.db,
          mr.id,
          'tested',
          'testing',
          'testing',
          `batch ${batch.id} prefix ${prefix}/${n} (${reason}) ${candidate.slice(0, 12)}: ${result.verdict} (run ${id})`,
        );
      }
    });
  }

  private async noGate(batch: BatchRow, prefix: number, candidate: string, reason: string) {
    const result: GateRunResult = {
      verdict: 'error',
      exitCode: null,
      signal: null,
      timedOut: false,
      error: 'no [commands.gate] in rig.toml',
      durationMs: 0,
      tail: 'the rig has no gate command: nothing can be tested, so nothing lands\n',
    };
    const id = Number(
      prepared(
        this.db,
        `INSERT INTO gate_runs (rig, kind, batch_id, prefix, reason, base_sha, candidate_sha, state, error, log_tail, started_at, finished_at)
           VALUES (?, 'gate', ?, ?, ?, ?, ?, 'error', ?, ?, ?, ?)`,
      ).run(
        this.rig,
        batch.id,
        prefix,
        reason,
        batch.base_sha,
        candidate,
        result.error,
        result.tail,
        nowMs(),
        nowMs(),
      ).lastInsertRowid,
    );
    return { id, result };
  }

  /** Compare-and-swap main from the batch's base to the tested candidate. */
  private async land(batch: BatchRow, step: Step, candidate: string): Promise<'landed' | 'moved'> {
    const passed = prepared<[number, string], { n: number }>(
      this.db,
      "SELECT count(*) AS n FROM gate_runs WHERE batch_id = ? AND candidate_sha = ? AND kind = 'gate' AND state = 'pass'",
    ).get(batch.id, candidate)!.n;
    if (passed === 0) {
      // Cannot happen (the planner lands only passing prefixes); refuse rather than land an untested tree.
      throw new GtError('GT_E_GIT', `refusing to land ${candidate}: no passing gate run recorded for it`);
    }
    this.store.write(() => {
      prepared(
        this.db,
        "UPDATE mq_batches SET state = 'landing', landing_sha = ?, landing_prefix = ?, outcome = ?, updated_at = ? WHERE id = ?",
      ).run(candidate, (step as { land: number }).land, JSON.stringify(step), nowMs(), batch.id);
    });
    await this.options.hooks?.beforeLand?.({ batchId: batch.id, candidate, base: batch.base_sha });
    crashPoint('refinery:before-cas', this.env());
    const { main, clone } = this.setup;
    const push = await withRepoLock(this.setup.bare, () =>
      runGit(
        [
          'push',
          '--quiet',
          '--porcelain',
          `--force-with-lease=refs/heads/${main}:${batch.base_sha}`,
          'origin',
          `${candidate}:refs/heads/${main}`,
        ],
        { cwd: clone, env: refineryPushEnv(this.root) },
      ),
    );
    crashPoint('refinery:after-cas', this.env());
    const now = await this.mainSha();
    if (now === candidate) {
      this.log(`landed ${candidate.slice(0, 12)} on ${main} (batch ${batch.id})`);
      return 'landed';
    }
    const why = push.stderr.trim().split('\n').slice(-3).join(' | ');
    if (now === batch.base_sha) {
      // main did not move, yet the push failed: not a race but a broken credential, hook or repo. The batch
      // stays 'landing' (its candidate passed); the next pass retries the same push. Retesting would loop.
      throw new GtError('GT_E_PUSH_FAILED', `the Refinery could not move ${main} to ${candidate}: ${why}`, {
        hint: "run 'gt doctor' (refinery-credential, rig guard); the tested batch lands on the next run",
      });
    }
    this.log(`CAS on ${main} failed (now ${now.slice(0, 12)}): ${why}`);
    this.abandonBatch(
      getBatch(this.db, batch.id)!,
      `main moved to ${now.slice(0, 12)} during the test of ${candidate.slice(0, 12)}: retest on the new main`,
    );
    return 'moved';
  }

  private abandonBatch(batch: BatchRow, why: string): void {
    this.store.write(() => {
      const r = prepared(
        this.db,
        "UPDATE mq_batches SET state = 'abandoned', outcome = ?, updated_at = ? WHERE id = ? AND state IN ('active','landing')",
      ).run(JSON.stringify({ kind: 'abandoned', why }), nowMs(), batch.id);
      if (r.changes !== 1) return;
      for (const id of JSON.parse(batch.members) as number[]) {
        transitionMr(this.db, id, 'testing', 'ready', 'requeued', `batch ${batch.id}: ${why}`, {
          batchId: null,
        });
      }
    });
  }

  /** Records a decision: merged / rejected / requeued, in one transaction, once. */
  private finishBatch(batch: BatchRow, step: Step, landed: string | null): void {
    if (step.kind !== 'decide') return;
    const ids = JSON.parse(batch.members) as number[];
    const path = bisectionPath(
      batchRuns(this.db, batch.id)
        .filter((r) => r.kind === 'gate' && r.state !== 'running' && r.state !== 'aborted')
        .map((r) => ({ prefix: r.prefix!, verdict: r.state as Observation['verdict'] })),
      step,
    );
    this.store.write(() => {
      const r = prepared(
        this.db,
        "UPDATE mq_batches SET state = 'done', outcome = ?, path = ?, updated_at = ? WHERE id = ? AND state IN ('active','landing')",
      ).run(JSON.stringify(step), path, nowMs(), batch.id);
      if (r.changes !== 1) return; // already recorded: no double merge
      const rest = step.carried && landed ? this.continueBatch(batch, step, landed) : null;
      ids.forEach((id, i) => {
        const pos = i + 1;
        if (pos <= step.land && landed) {
          transitionMr(
            this.db,
            id,
            'testing',
            'merged',
            'landed',
            `batch ${batch.id} [${path}]: ${this.setup.main} → ${landed}`,
            {
              mergedSha: landed,
              followup: 'pending',
            },
          );
        } else if (rest !== null) {
          transitionMr(
            this.db,
            id,
            'testing',
            'testing',
            'carried',
            `batch ${batch.id} [${path}]: its first ${step.land} landed; continues as batch ${rest} on ${landed!.slice(0, 12)} with its red verdicts`,
            { batchId: rest },
          );
        } else if (pos === step.culprit) {
          const runs = batchRuns(this.db, batch.id).filter((g) => g.prefix === pos && g.state !== 'pass');
          const last = runs[runs.length - 1];
          transitionMr(
            this.db,
            id,
            'testing',
            'rejected',
            'rejected',
            `${step.culprit ? step.culpritReason : 'gate-failed'}: batch ${batch.id} [${path}]${last ? ` run ${last.id}` : ''}`,
            {
              reason: step.culpritReason ?? 'gate-failed',
              followup: 'pending',
            },
          );
        } else {
          transitionMr(
            this.db,
            id,
            'testing',
            'ready',
            'requeued',
            `batch ${batch.id} [${path}]: not landed with this batch, retest on the new main`,
            {
              batchId: null,
            },
          );
        }
      });
    });
  }

  /**
   * The batch that continues after an early landing: the MRs after the landed prefix, based on the landed
   * commit, with the parent's trees and its red verdicts carried over (see `earlyLanding`). Inside the
   * transaction of `finishBatch`; returns the new batch's id.
   */
  private continueBatch(batch: BatchRow, step: Extract<Step, { kind: 'decide' }>, landed: string): number {
    const members = (JSON.parse(batch.members) as number[]).slice(step.land);
    const trees = (JSON.parse(batch.trees) as string[]).slice(step.land);
    const now = nowMs();
    return Number(
      prepared(
        this.db,
        `INSERT INTO mq_batches (rig, state, base_sha, members, trees, commit_time, parent_id, inherited, created_at, updated_at)
           VALUES (?, 'active', ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        this.rig,
        landed,
        JSON.stringify(members),
        JSON.stringify(trees),
        batch.commit_time,
        batch.id,
        JSON.stringify(step.carried ?? []),
        now,
        now,
      ).lastInsertRowid,
    );
  }

  // ---------------------------------------------------------------- follow-ups

  private sweeps: FollowupSweeps | undefined;

  /** One follow-up sweep at a time (src/refinery/followups.ts); a second call waits for the first. */
  private followups(): Promise<number> {
    this.sweeps ??= new FollowupSweeps({
      root: this.root,
      store: this.store,
      rig: this.rig,
      log: (l) => this.log(l),
    });
    const { bare, main, config } = this.setup;
    return this.sweeps.sweep({ bare, main, maxRework: config.refinery?.max_rework ?? 3 });
  }

  // ---------------------------------------------------------------- upstream

  private async pushUpstream(): Promise<void> {
    const { upstream, experimental, bare, main } = this.setup;
    if (!upstream || experimental) return;
    const remotes = (await runGit(['remote'], { cwd: bare })).stdout.split('\n');
    if (!remotes.includes('upstream')) return;
    const ls = await runGit(['ls-remote', '--quiet', 'upstream', `refs/heads/${main}`], {
      cwd: bare,
      timeoutMs: 60_000,
    });
    const theirs = ls.stdout.split(/\s/)[0] ?? '';
    const ours = await this.mainSha();
    if (theirs === ours) return;
    const r = await runGit(['push', '--quiet', 'upstream', `refs/heads/${main}:refs/heads/${main}`], {
      cwd: bare,
      timeoutMs: 120_000,
    });
    this.log(
      r.code === 0
        ? `pushed ${main} ${ours.slice(0, 12)} upstream`
        : `upstream push failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`,
    );
  }
}

/** An open batch as the rounds see it (`Refinery.view`). */
interface BatchView {
  batch: BatchRow;
  members: MrRow[];
  obs: Observation[];
  step: Step;
  red: boolean;
}

/** Where a pass's decisions are reported: the summary and the gate runs per batch so far. */
interface Tally {
  summary: PassSummary;
  runs: Map<number, number>;
}

function describe(r: GateRunResult): string {
  if (r.verdict === 'pass') return `pass (${r.durationMs} ms)`;
  if (r.verdict === 'error') return `gate-error: ${r.error}`;
  return `fail (exit ${r.exitCode}, ${r.durationMs} ms)`;
}

export async function runRefineryPass(options: RefineryOptions): Promise<PassSummary> {
  return new Refinery(options).pass();
}
