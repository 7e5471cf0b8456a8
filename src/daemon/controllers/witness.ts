import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  compareMarks,
  decodeMark,
  encodeMark,
  formatMs,
  isStallAction,
  judgePolecat,
  LIVE_STATES,
  mergeMark,
  type PolecatFacts,
  type ProgressMark,
  type Verdict,
  type WitnessPolicy,
} from '../../core/health';
import { polecatCheckoutPath, removePolecatCheckout } from '../../git/polecat-checkout';
import { type Db, prepared } from '../../ledger/open';
import { BeadStore } from '../../ledger/store';
import { REWORK_REASONS } from '../../refinery/ledger';
import type { AgentRow } from '../../runtime/agent-rows';
import { withFileLock } from '../../runtime/lock';
import { sessionName } from '../../runtime/names';
import { nudgeAgent } from '../../runtime/nudge';
import { providerFor, runtimeKind } from '../../runtime/town-runtime';
import { startAgentSession, startupPrompt } from '../../services/agent-sessions';
import { createEscalation, notifyEscalation } from '../../services/escalation';
import { SYSTEM_SENDER } from '../../services/mail';
import { loadNotifyConfig } from '../../services/notify';
import { worktreePath } from '../../services/polecats';
import { polecatSessionEnv } from '../../services/work-sessions';
import { loadRigConfigFile, loadTownConfig, townConfigPath } from '../../town/config';
import { parseDuration } from '../../town/duration';
import { rigLayout, townLayout } from '../../town/layout';
import { getRigRow } from '../../town/rig-store';
import { recordActivity } from '../activity';
import type { Controller, DaemonContext } from '../controller';
import { cheapMark, polecatLiveness, treeHash } from '../evidence';
import { pauseState } from '../pause';

/**
 * The Witness of one rig (docs/daemon-witness.md): every check_interval (and whenever the ledger changes)
 * it gathers evidence about each polecat, asks the pure judge (src/core/health.ts) what it is and what to
 * do, and does it: record progress, nudge, restart on the same hook and worktree, escalate, restart for
 * rework after a rejection, or clean up after a merge. Nothing is kept in memory that a restart needs —
 * the ladder (nudged_at, hook_restarts, escalated_at) and the evidence mark are in the agents row; what is
 * in memory only spaces out retries and git calls.
 */
export const WITNESS_ACTOR = 'witness';

type WitnessRow = AgentRow & {
  health: string | null;
  progress_mark: string | null;
  progress_at: number | null;
  nudged_at: number | null;
  hook_restarts: number;
  escalated_at: number | null;
};

interface LoadedPolicy {
  policy: WitnessPolicy;
  checkIntervalMs: number;
  /** Least time between two `git status` of one polecat. */
  treeEveryMs: number;
}

const DEFAULTS = {
  stallAfterMs: 5 * 60_000,
  nudgeGraceMs: 2 * 60_000,
  maxRestarts: 3,
  checkIntervalMs: 2000,
};
/** A failed cleanup or rework start is retried after this long. */
const RETRY_MS = 60_000;
/** After a nudge, how long the pane takes to show what was typed (its echo is not progress). */
const ECHO_WAIT_MS = 400;

function ms(text: string | undefined, fallback: number): number {
  return (text !== undefined ? parseDuration(text) : undefined) ?? fallback;
}

export function loadWitnessPolicy(root: string, rig: string): LoadedPolicy {
  const town = loadTownConfig(root);
  const w = town.witness;
  const rigFile = rigLayout(root, rig).config;
  const rigConfig = existsSync(rigFile) ? loadRigConfigFile(rigFile) : undefined;
  const checkIntervalMs = Math.max(250, ms(w.check_interval, DEFAULTS.checkIntervalMs));
  const stallAfterMs = ms(w.stall_after, DEFAULTS.stallAfterMs);
  const nudgeGraceMs = ms(w.nudge_grace, DEFAULTS.nudgeGraceMs);
  return {
    policy: {
      stallAfterMs,
      nudgeGraceMs,
      maxRestarts: w.max_restarts,
      maxRework: rigConfig?.refinery?.max_rework ?? 3,
      echoSettleMs: Math.min(2000, nudgeGraceMs / 2),
      startingGraceMs: 120_000,
    },
    checkIntervalMs,
    treeEveryMs: Math.min(10_000, Math.max(checkIntervalMs, stallAfterMs / 3)),
  };
}

function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Witness {
  readonly name: string;
  private loaded: LoadedPolicy;
  private configStamp = '';
  /** When each polecat's worktree state was last sampled (git status). */
  private readonly treeSampledAt = new Map<string, number>();
  /** `<agent>:<action>` → not before (a cleanup or a rework start that failed). */
  private readonly retryAt = new Map<string, number>();
  private readonly escalationStore: BeadStore;

  constructor(
    private readonly ctx: DaemonContext,
    readonly rig: string,
  ) {
    this.name = `witness:${rig}`;
    this.escalationStore = new BeadStore(ctx.store.db, WITNESS_ACTOR);
    this.loaded = this.reloadPolicy(true);
  }

  get intervalMs(): number {
    return this.loaded.checkIntervalMs;
  }

  private get db(): Db {
    return this.ctx.store.db;
  }

  /** Re-reads town.toml / rig.toml when either changed; a broken file keeps the last good policy. */
  private reloadPolicy(first = false): LoadedPolicy {
    const stamp = `${mtime(townConfigPath(this.ctx.root))}:${mtime(rigLayout(this.ctx.root, this.rig).config)}`;
    if (!first && stamp === this.configStamp) return this.loaded;
    this.configStamp = stamp;
    try {
      this.loaded = loadWitnessPolicy(this.ctx.root, this.rig);
    } catch (error) {
      this.ctx.log.warn(
        { controller: this.name, err: error },
        'witness config unreadable; keeping the last good one',
      );
      if (first) {
        this.loaded = {
          policy: {
            ...DEFAULTS,
            maxRework: 3,
            echoSettleMs: 2000,
            startingGraceMs: 120_000,
          },
          checkIntervalMs: DEFAULTS.checkIntervalMs,
          treeEveryMs: 10_000,
        };
      }
    }
    return this.loaded;
  }

  private rows(): WitnessRow[] {
    return prepared<[string], WitnessRow>(
      this.db,
      "SELECT * FROM agents WHERE rig = ? AND role = 'polecat' ORDER BY id",
    ).all(this.rig);
  }

  private row(id: string): WitnessRow | undefined {
    return prepared<[string], WitnessRow>(this.db, 'SELECT * FROM agents WHERE id = ?').get(id);
  }

  async tick(): Promise<boolean> {
    if (pauseState(this.db).paused) return false; // gt stop --all: nothing is judged or touched
    const rows = this.rows();
    if (rows.length === 0) return false;
    const { policy } = this.reloadPolicy();
    let changed = false;
    const bookkeeping: Array<() => void> = [];
    for (const row of rows) {
      try {
        if (await this.check(row, policy, bookkeeping)) changed = true;
      } catch (error) {
        this.ctx.log.error({ controller: this.name, agent: row.id, err: error }, 'witness check failed');
      }
    }
    if (bookkeeping.length > 0) {
      this.ctx.store.write(() => {
        for (const write of bookkeeping) write();
      });
    }
    return changed;
  }

  /** One polecat: facts → verdict → action. Returns true when it acted (not for evidence bookkeeping). */
  private async check(
    row: WitnessRow,
    policy: WitnessPolicy,
    bookkeeping: Array<() => void>,
  ): Promise<boolean> {
    if (row.state === 'stopped') return false; // a person stopped it (or gt stop --all): left alone
    const root = this.ctx.root;
    const db = this.db;
    const now = Date.now();
    const bead = row.hooked_bead
      ? prepared<[string], { status: string }>(db, 'SELECT status FROM beads WHERE id = ?').get(
          row.hooked_bead,
        )
      : undefined;
    const beadStatus = bead?.status ?? null;
    const worktree = worktreePath(root, row);
    const checkoutDir = polecatCheckoutPath(root, this.rig, row.name);
    const live = LIVE_STATES.includes(row.state) && beadStatus !== null && beadStatus !== 'closed';

    // Idle polecats are the common case and must cost next to nothing: a stat, no process.
    if (!row.hooked_bead && row.state === 'idle' && !row.session && !existsSync(checkoutDir)) {
      if (row.health !== 'idle') bookkeeping.push(() => this.setHealth(row, 'idle'));
      return false;
    }

    const liveness = live
      ? await polecatLiveness(root, row)
      : { session: Boolean(row.session), process: false, confirmed: false };
    const previous = decodeMark(row.progress_mark);
    let mark: ProgressMark | null = null;
    let change: PolecatFacts['change'] = 'none';
    if (live && liveness.session && liveness.process) {
      mark = mergeMark(previous, cheapMark(root, row, worktree));
      change = compareMarks(previous, mark);
    }
    const mr =
      row.hooked_bead && (row.state === 'done' || row.state === 'idle' || !live)
        ? this.mrFacts(row.hooked_bead)
        : null;
    const facts: PolecatFacts = {
      state: row.state,
      hookedBead: row.hooked_bead,
      beadStatus,
      session: liveness.session,
      process: liveness.process,
      change,
      progressAt: row.progress_at,
      nudgedAt: row.nudged_at,
      hookRestarts: row.hook_restarts,
      escalatedAt: row.escalated_at,
      updatedAt: row.updated_at,
      openMr: mr?.open ?? false,
      returned: mr?.returned ?? false,
      followupPending: mr?.followupPending ?? false,
      rework: mr?.rework ?? 0,
      leftovers: Boolean(row.session) || existsSync(checkoutDir),
      paused: false,
    };
    let verdict = judgePolecat(facts, policy, now);

    // Before acting on a stall, look at the worktree too (a git call, so only now and at most every
    // treeEveryMs): an agent editing files without output or commits is working.
    if (isStallAction(verdict) && mark && worktree) {
      const last = this.treeSampledAt.get(row.id) ?? 0;
      if (now - last >= this.loaded.treeEveryMs || mark.tree === null) {
        const tree = await treeHash(worktree);
        this.treeSampledAt.set(row.id, Date.now());
        if (tree !== null) {
          const hadTree = mark.tree !== null;
          mark = { ...mark, tree };
          facts.change = compareMarks(previous, mark);
          verdict = judgePolecat(facts, policy, now);
          // Never seen before: nothing to compare with yet. Record it and decide on the next check.
          if (!hadTree && facts.change === 'none')
            verdict = { ...verdict, action: 'rebaseline', reason: 'sampling the worktree' };
        }
      }
    }

    switch (verdict.action) {
      case 'none':
        if (mark && previous && encodeMark(mark) !== row.progress_mark) {
          const m = mark;
          bookkeeping.push(() => this.saveMark(row, m, 'keep'));
        }
        if (row.health !== verdict.health) bookkeeping.push(() => this.setHealth(row, verdict.health));
        return false;
      case 'rebaseline': {
        const m = mark;
        if (m)
          bookkeeping.push(() =>
            this.saveMark(row, m, facts.change === 'first' ? 'first' : 'keep', verdict.health),
          );
        return false;
      }
      case 'record-progress': {
        const m = mark;
        if (m) bookkeeping.push(() => this.saveMark(row, m, 'progress'));
        return false;
      }
      case 'nudge':
        return this.nudge(row, verdict, worktree);
      case 'restart':
        return this.restart(row, verdict, !facts.session || !facts.process);
      case 'escalate':
        return this.escalate(row, verdict, !facts.session || !facts.process);
      case 'rework-restart':
        return this.rework(row, verdict, mr);
      case 'cleanup':
        return this.cleanup(row, verdict, beadStatus);
    }
  }

  private mrFacts(beadId: string): {
    open: boolean;
    returned: boolean;
    followupPending: boolean;
    rework: number;
    latest: string;
  } {
    const db = this.db;
    const latest = prepared<
      [string],
      { id: number; state: string; rejected_reason: string | null; followup: string | null }
    >(
      db,
      'SELECT id, state, rejected_reason, followup FROM merge_requests WHERE bead_id = ? ORDER BY id DESC LIMIT 1',
    ).get(beadId);
    const counts = prepared<[string], { open: number; pending: number; rework: number }>(
      db,
      `SELECT coalesce(sum(state IN ('queued','sheriff','ready','testing')), 0) AS open,
              coalesce(sum(followup = 'pending'), 0) AS pending,
              coalesce(sum(state = 'rejected' AND rejected_reason IN (${REWORK_REASONS.map((r) => `'${r}'`).join(',')})), 0) AS rework
         FROM merge_requests WHERE bead_id = ?`,
    ).get(beadId) ?? { open: 0, pending: 0, rework: 0 };
    const returned =
      latest !== undefined &&
      latest.state === 'rejected' &&
      REWORK_REASONS.includes(latest.rejected_reason ?? '') &&
      latest.followup !== 'pending';
    return {
      open: counts.open > 0,
      returned,
      followupPending: counts.pending > 0,
      rework: counts.rework,
      latest: latest
        ? `MR #${latest.id} ${latest.state}${latest.rejected_reason ? ` (${latest.rejected_reason})` : ''}`
        : 'no MR',
    };
  }

  // ---------------------------------------------------------------- bookkeeping (batched per tick)

  private setHealth(row: WitnessRow, health: string): void {
    prepared(this.db, 'UPDATE agents SET health = ? WHERE id = ?').run(health, row.id);
  }

  /**
   * Records the evidence mark. 'progress' also sets the time and ends any stall; 'first' (a new session:
   * sling, restart, rework) starts the stall clock now; 'keep' leaves the clock alone.
   */
  private saveMark(
    row: WitnessRow,
    mark: ProgressMark,
    mode: 'progress' | 'first' | 'keep',
    health?: string,
  ): void {
    const now = Date.now();
    if (mode === 'progress') {
      prepared(
        this.db,
        `UPDATE agents SET progress_mark = ?, progress_at = ?, nudged_at = NULL, health = 'working',
           state = CASE WHEN state = 'stalled' THEN 'working' ELSE state END
         WHERE id = ? AND hooked_bead IS ?`,
      ).run(encodeMark(mark), now, row.id, row.hooked_bead);
    } else {
      prepared(
        this.db,
        `UPDATE agents SET progress_mark = ?, progress_at = CASE WHEN ? OR progress_at IS NULL THEN ? ELSE progress_at END,
           health = coalesce(?, health)
         WHERE id = ? AND hooked_bead IS ?`,
      ).run(encodeMark(mark), mode === 'first' ? 1 : 0, now, health ?? null, row.id, row.hooked_bead);
    }
  }

  private activity(kind: string, row: Pick<AgentRow, 'id' | 'hooked_bead'>, detail: string): void {
    recordActivity(this.db, {
      kind,
      actor: WITNESS_ACTOR,
      rig: this.rig,
      agent: row.id,
      bead: row.hooked_bead,
      detail,
    });
  }

  /** The row as judged, still? (Another process may have submitted, stopped or re-slung it meanwhile.) */
  private unchanged(row: WitnessRow): WitnessRow | null {
    const fresh = this.row(row.id);
    if (!fresh || pauseState(this.db).paused) return null;
    if (
      fresh.hooked_bead !== row.hooked_bead ||
      fresh.state !== row.state ||
      fresh.session !== row.session ||
      fresh.pid !== row.pid
    ) {
      return null;
    }
    return fresh;
  }

  /** Paused, stopped or re-slung since we decided (checked again between a kill and a start). */
  private stillStoppedOrPaused(row: WitnessRow): boolean {
    const now = this.row(row.id);
    return (
      pauseState(this.db).paused || !now || now.state === 'stopped' || now.hooked_bead !== row.hooked_bead
    );
  }

  // ---------------------------------------------------------------- actions

  private async nudge(row: WitnessRow, verdict: Verdict, worktree: string | null): Promise<boolean> {
    const fresh = this.unchanged(row);
    if (!fresh) return false;
    const quiet = formatMs(Date.now() - (row.progress_at ?? Date.now()));
    const message =
      `Witness: no progress seen on your hook (${row.hooked_bead}) for ${quiet}. Check your hook (gt hook) and continue ` +
      'the work: commit as you go, run the checks, then gt done. If you are blocked: gt escalate.';
    let outcome: string;
    try {
      const result = await nudgeAgent(this.ctx.root, this.db, row.id, message, { sender: WITNESS_ACTOR });
      outcome = result.status === 'delivered' ? 'delivered' : `queued (${result.reason})`;
    } catch (error) {
      outcome = `failed: ${describeError(error)}`;
    }
    // What we typed shows in the pane: take the mark after it, so only the agent's answer counts as progress.
    await new Promise((r) => setTimeout(r, ECHO_WAIT_MS));
    const mark = mergeMark(decodeMark(row.progress_mark), cheapMark(this.ctx.root, row, worktree));
    this.ctx.store.write(() => {
      prepared(
        this.db,
        `UPDATE agents SET nudged_at = ?, progress_mark = ?, health = 'stalled',
           state = CASE WHEN state IN ('working','starting') THEN 'stalled' ELSE state END
         WHERE id = ? AND hooked_bead IS ?`,
      ).run(Date.now(), encodeMark(mark), row.id, row.hooked_bead);
      this.activity('witness-nudge', row, `${verdict.reason}; nudge ${outcome}`);
    });
    this.ctx.log.info(
      { controller: this.name, agent: row.id, bead: row.hooked_bead, outcome },
      `nudged: ${verdict.reason}`,
    );
    return true;
  }

  /**
   * Handoff on the same hook and worktree: the old session (whatever is left of it) is killed and a new one
   * started with the recorded agent and model. Done as kill + start rather than restartAgentSession, whose
   * stop step records 'stopped' — a daemon killed in between would leave the polecat looking stopped by a
   * person, and the Witness leaves those alone. Here the row keeps its state until the new session runs.
   */
  private async restart(row: WitnessRow, verdict: Verdict, zombie: boolean): Promise<boolean> {
    const fresh = this.unchanged(row);
    if (!fresh) return false;
    const kind = zombie ? 'witness-zombie' : 'witness-restart';
    const n = fresh.hook_restarts + 1;
    // Intent first: the restart counts even if the daemon dies before it finishes.
    this.ctx.store.write(() => {
      prepared(this.db, 'UPDATE agents SET hook_restarts = ?, health = ? WHERE id = ?').run(
        n,
        zombie ? 'zombie' : 'stalled',
        row.id,
      );
      this.activity(kind, row, `${verdict.reason}; restarting on the same hook and worktree`);
    });
    const prompt =
      `${startupPrompt(fresh)} The Witness restarted your session (${zombie ? 'it had died' : 'no progress'}; restart ${n}). ` +
      'Your checkout and commits are as you left them: continue from there.';
    try {
      const session = fresh.session ?? sessionName(fresh);
      await providerFor(runtimeKind(fresh.runtime), this.ctx.root).kill(session);
      // gt stop --all landed meanwhile: start nothing (it marks the polecat stopped; gt resume restarts it).
      if (this.stillStoppedOrPaused(fresh)) return true;
      await this.startOnHook(fresh, row, prompt, true);
      this.ctx.log.warn(
        { controller: this.name, agent: row.id, bead: row.hooked_bead, restart: n },
        `restarted: ${verdict.reason}`,
      );
    } catch (error) {
      // The hook, the checkout and the count stay; the next check sees a zombie and goes on up the ladder.
      this.ctx.store.write(() => {
        prepared(
          this.db,
          "UPDATE agents SET state = 'zombie', health = 'zombie', session = NULL, pid = NULL WHERE id = ? AND hooked_bead IS ?",
        ).run(row.id, row.hooked_bead);
        this.activity(kind, row, `restart ${n} failed: ${describeError(error)}`);
      });
      this.ctx.log.error({ controller: this.name, agent: row.id, err: error }, 'restart failed');
    }
    return true;
  }

  private async escalate(row: WitnessRow, verdict: Verdict, zombie: boolean): Promise<boolean> {
    const fresh = this.unchanged(row);
    if (!fresh || fresh.escalated_at !== null) return false;
    const bead = row.hooked_bead ?? '(none)';
    const checkout = worktreePath(this.ctx.root, fresh) ?? '(none)';
    const tried = [
      fresh.nudged_at ? 'nudged it to check its hook and continue' : null,
      `restarted its session ${fresh.hook_restarts} time(s) on the same hook and worktree`,
    ]
      .filter(Boolean)
      .join(', then ');
    const summary = `${row.id} ${zombie ? 'keeps dying' : 'is stalled'} on ${bead}: ${fresh.hook_restarts} restart(s) did not help`;
    const details = [
      `The Witness of rig ${this.rig}: ${verdict.reason}.`,
      `What was tried: ${tried}. It will not be restarted again.`,
      `Polecat ${row.id}, bead ${bead}, branch ${fresh.branch ?? '(none)'}, checkout ${checkout} (kept, with its commits).`,
      `Look at it: gt agents; gt session attach ${row.id}. Restart it by hand: gt handoff ${row.id}. ` +
        `Or move the bead: gt sling ${bead} ${this.rig} --force.`,
    ].join('\n');
    const escalation = this.ctx.store.write(() => {
      const esc = createEscalation(this.escalationStore, {
        severity: 'HIGH',
        summary,
        details,
        source: SYSTEM_SENDER,
        ...(row.hooked_bead ? { bead: row.hooked_bead } : {}),
      });
      prepared(
        this.db,
        `UPDATE agents SET escalated_at = ?, state = ?, health = ? WHERE id = ? AND hooked_bead IS ?`,
      ).run(
        Date.now(),
        zombie ? 'zombie' : 'stalled',
        zombie ? 'zombie' : 'stalled',
        row.id,
        row.hooked_bead,
      );
      this.activity('witness-escalate', row, `${esc.id}: ${verdict.reason}`);
      return esc;
    });
    this.ctx.log.warn(
      { controller: this.name, agent: row.id, bead, escalation: escalation.id },
      `escalated: ${verdict.reason}`,
    );
    const notify = loadNotifyConfig(this.ctx.root);
    if (notify.config) {
      const outcome = await notifyEscalation(this.ctx.root, notify.config, escalation).catch(
        (e: unknown) => ({
          ok: false,
          error: describeError(e),
        }),
      );
      if (!outcome.ok)
        this.ctx.log.warn({ controller: this.name, error: outcome.error }, 'notify command failed');
    }
    return true;
  }

  /** Starts the polecat's session again on its hook and worktree, with a fresh stall clock. */
  private async startOnHook(
    fresh: AgentRow,
    row: WitnessRow,
    prompt: string,
    restarted: boolean,
  ): Promise<void> {
    await startAgentSession(this.ctx.root, this.db, fresh, {
      keepRecorded: true,
      restarted,
      env: polecatSessionEnv(this.ctx.root, this.db, fresh),
      prompt,
    });
    this.ctx.store.write(() => {
      prepared(
        this.db,
        `UPDATE agents SET progress_mark = NULL, progress_at = ?, nudged_at = NULL, health = 'working'
         WHERE id = ? AND hooked_bead IS ?`,
      ).run(Date.now(), row.id, row.hooked_bead);
    });
  }

  /** The Refinery sent the bead back (and mailed why): the same polecat works on it again. */
  private async rework(
    row: WitnessRow,
    verdict: Verdict,
    mr: ReturnType<Witness['mrFacts']> | null,
  ): Promise<boolean> {
    const key = `${row.id}:rework`;
    if ((this.retryAt.get(key) ?? 0) > Date.now()) return false;
    const fresh = this.unchanged(row);
    if (!fresh) return false;
    const prompt =
      `${startupPrompt(fresh)} Your merge request for ${row.hooked_bead} was rejected by the Refinery: read its mail ` +
      '(gt mail inbox), fix your branch, run the checks, then gt done again.';
    try {
      if (fresh.session) await providerFor(runtimeKind(fresh.runtime), this.ctx.root).kill(fresh.session);
      if (this.stillStoppedOrPaused(fresh)) return true;
      await this.startOnHook(fresh, row, prompt, false);
      this.ctx.store.write(() =>
        this.activity(
          'witness-rework',
          row,
          `${mr?.latest ?? 'rejected'}; ${verdict.reason}: session started again on the same hook and worktree`,
        ),
      );
      this.retryAt.delete(key);
      this.ctx.log.info(
        { controller: this.name, agent: row.id, bead: row.hooked_bead },
        `rework: ${verdict.reason}`,
      );
    } catch (error) {
      this.retryAt.set(key, Date.now() + RETRY_MS);
      this.ctx.store.write(() =>
        this.activity('witness-rework', row, `could not start the rework session: ${describeError(error)}`),
      );
      this.ctx.log.error({ controller: this.name, agent: row.id, err: error }, 'rework start failed');
    }
    return true;
  }

  /**
   * After a merge: the leftover session is ended and the checkout removed — only through
   * removePolecatCheckout, which refuses anything holding work that is not on main — and a closed bead's
   * hook is released, so the name goes back to the pool. Under the rig's sling lock, so a sling that is
   * reusing this polecat right now is never undone.
   */
  private async cleanup(row: WitnessRow, verdict: Verdict, beadStatus: string | null): Promise<boolean> {
    const key = `${row.id}:cleanup`;
    if ((this.retryAt.get(key) ?? 0) > Date.now()) return false;
    const root = this.ctx.root;
    const lock = join(townLayout(root).locks, `sling-${this.rig}.lock`);
    const done: string[] = [];
    try {
      await withFileLock(lock, 5000, async () => {
        const fresh = this.row(row.id);
        if (!fresh || pauseState(this.db).paused) return;
        const releasing = fresh.hooked_bead !== null;
        const ok = releasing
          ? fresh.hooked_bead === row.hooked_bead &&
            (fresh.state === 'done' || fresh.state === 'idle') &&
            (beadStatus === 'closed' || beadStatus === null)
          : fresh.state === 'idle';
        if (!ok) return;
        if (fresh.session) {
          await providerFor(runtimeKind(fresh.runtime), root).kill(fresh.session);
          prepared(this.db, 'UPDATE agents SET session = NULL, pid = NULL WHERE id = ? AND session IS ?').run(
            fresh.id,
            fresh.session,
          );
          done.push(`session ${fresh.session} ended`);
        }
        const defaultBranch = getRigRow(this.db, this.rig)?.defaultBranch;
        const removed = await removePolecatCheckout(
          root,
          this.rig,
          fresh.name,
          defaultBranch ? { defaultBranch } : {},
        );
        if (removed.removed) done.push('checkout removed (its commits are on main)');
        this.ctx.store.write(() => {
          prepared(
            this.db,
            `UPDATE agents SET hooked_bead = NULL, state = 'idle', worktree = NULL, branch = NULL, health = 'idle',
               nudged_at = NULL, progress_mark = NULL, updated_at = ?
             WHERE id = ? AND hooked_bead IS ? AND state IN ('idle','done')`,
          ).run(Date.now(), fresh.id, fresh.hooked_bead);
          if (releasing) done.push(`hook released (${fresh.hooked_bead} is ${beadStatus ?? 'gone'})`);
          if (done.length > 0)
            this.activity('witness-cleanup', fresh, `${verdict.reason}: ${done.join('; ')}`);
        });
      });
    } catch (error) {
      // Unmerged work (or a busy lock): kept, and looked at again later — never forced.
      this.retryAt.set(key, Date.now() + RETRY_MS);
      if (done.length > 0) {
        this.ctx.store.write(() =>
          this.activity('witness-cleanup', row, `${done.join('; ')}; checkout kept: ${describeError(error)}`),
        );
      }
      this.ctx.log.warn(
        { controller: this.name, agent: row.id, err: describeError(error) },
        'cleanup: checkout kept',
      );
      return done.length > 0;
    }
    this.retryAt.delete(key);
    if (done.length > 0)
      this.ctx.log.info({ controller: this.name, agent: row.id }, `cleaned up: ${done.join('; ')}`);
    return done.length > 0;
  }
}

export function witnessController(ctx: DaemonContext, rig: string): Controller {
  const witness = new Witness(ctx, rig);
  return {
    name: witness.name,
    get intervalMs() {
      return witness.intervalMs;
    },
    tick: () => witness.tick(),
  };
}
