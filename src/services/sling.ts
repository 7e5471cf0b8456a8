import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Bead } from '../core/bead';
import { GtError, isGtError } from '../core/errors';
import { oneLine } from '../core/text';
import { pauseState } from '../daemon/pause';
import { crewBranch, switchCrewToBead } from '../git/crew-checkout';
import { createPolecatCheckout, polecatBranch, removePolecatCheckout } from '../git/polecat-checkout';
import { installGuardHooks } from '../guard/install';
import { type Db, prepared } from '../ledger/open';
import type { BeadStore } from '../ledger/store';
import { nowMs } from '../ledger/time';
import { type AgentRow, ensureAgentRow } from '../runtime/agent-rows';
import type { RoleAssignment } from '../runtime/config-schema';
import { withFileLock } from '../runtime/lock';
import { nudgeAgent } from '../runtime/nudge';
import { packageRoot } from '../runtime/presets';
import { providerFor, runtimeKind } from '../runtime/town-runtime';
import { rigLayout, townLayout } from '../town/layout';
import { validateName } from '../town/names';
import { requireRigRow } from '../town/rig-store';
import { allocationFor, type StartedSession, startAgentSession, stopAgentSession } from './agent-sessions';
import { ensureConvoyFor } from './convoy';
import { failPoint } from './faults';
import { SYSTEM_SENDER, sendMail } from './mail';
import { type MayorStatus, mayorStatus, startMayor, stopMayor } from './mayor';
import {
  agentHolding,
  assertCapacity,
  capacityFor,
  getAgent,
  idlePolecats,
  nextFreeName,
  polecatAddress,
  worktreePath,
} from './polecats';
import { dequeueBead, enqueueSling, type QueuedSling } from './sling-queue';

/**
 * `gt sling <bead…> <target>`: put a bead on an agent's hook and start it working (DESIGN §4.2).
 *
 *   admission   bead exists, is work, not closed / deferred / in review, not hooked elsewhere (same
 *               target: no-op; --force moves it and mails the old holder); rig exists and is not parked;
 *               capacity ([scheduler] max_polecats, per-rig cap) — checked again inside the reservation
 *   reserve     ONE transaction: allocate the polecat (reuse an idle one, else the next free pool name),
 *               agent row → starting with hook/worktree/branch, bead → hooked + assignee, history row.
 *               The UNIQUE index on agents.hooked_bead makes a double hook impossible.
 *   checkout    createPolecatCheckout: a clone of repo.git on polecat/<name>/<bead> from current main
 *   guard       installGuardHooks for the agent's hook system (Claude's is written by the session start)
 *   convoy      ensureConvoyFor: the bead's open convoy, or a new "Work: <title>"
 *   session     startAgentSession with the role's agent/model and GT_WORKTREE / GT_DEFAULT_BRANCH
 *
 * Every step that changed something pushes its compensation; any failure runs them in reverse: the session
 * is stopped, the convoy made for this sling deleted, the checkout removed only if it holds nothing
 * (removePolecatCheckout refuses otherwise — never lost work), the bead and agent rows restored.
 */
export interface SlingOptions {
  agent?: string;
  model?: string;
  force?: boolean;
  noStart?: boolean;
  /** At capacity or while the town is paused, queue the sling (status 'queued') instead of failing. */
  queue?: boolean;
}

export type SlingTarget =
  | { kind: 'rig'; rig: string; text: string }
  | { kind: 'polecat'; rig: string; name: string; text: string }
  | { kind: 'crew'; rig: string; name: string; text: string }
  | { kind: 'mayor'; text: 'mayor' };

export interface SlingResult {
  bead: string;
  title: string;
  target: string;
  /** null while queued. */
  agent: string | null;
  status: 'slung' | 'already-hooked' | 'queued';
  rig: string | null;
  polecat: string | null;
  /** The crew member's name, when slung to crew. */
  crew?: string;
  reused: boolean;
  branch: string | null;
  worktree: string | null;
  base_sha: string | null;
  convoy: { id: string; name: string; created: boolean } | null;
  session: { name: string; runtime: string; preset: string; model: string | null; started: boolean } | null;
  moved_from: string | null;
  warnings: string[];
  /** Set when status is 'queued': the queue entry, its position and why it waits. */
  queued?: QueuedSling & { code: string };
}

export interface SlingFailure {
  bead: string;
  code: string;
  error: string;
  hint?: string;
  rolled_back: string[];
}

export interface SlingOutcome {
  results: SlingResult[];
  failures: SlingFailure[];
}

export function parseTarget(input: string): SlingTarget {
  const text = input.trim().replace(/\/+$/, '');
  if (text === 'mayor') return { kind: 'mayor', text: 'mayor' };
  const parts = text.split('/');
  if (parts.length === 1) return { kind: 'rig', rig: validateName('rig', parts[0]!), text };
  if (parts.length === 2) {
    const [rig, name] = parts as [string, string];
    validateName('rig', rig);
    validateName('polecat', name);
    return { kind: 'polecat', rig, name, text };
  }
  if (parts.length === 3 && parts[1] === 'crew') {
    const [rig, , name] = parts as [string, string, string];
    validateName('rig', rig);
    validateName('crew', name);
    return { kind: 'crew', rig, name, text: `${rig}/${name}` };
  }
  throw new GtError('GT_E_INVALID_INPUT', `'${oneLine(input)}' is not a sling target`, {
    hint: "targets are a rig ('app'), an agent of a rig ('app/nux', a polecat or crew member; 'app/crew/<name>' for crew only) or 'mayor'",
  });
}

/**
 * `<rig>/<name>` names a polecat or a crew member (one address space per rig): the agents row decides.
 * A name with no row is a new polecat; `<rig>/crew/<name>` must be an existing crew member.
 */
export function resolveTarget(db: Db, target: SlingTarget): SlingTarget {
  if (target.kind !== 'polecat' && target.kind !== 'crew') return target;
  const row = getAgent(db, polecatAddress(target.rig, target.name));
  if (target.kind === 'polecat') {
    return row?.role === 'crew' ? { ...target, kind: 'crew' } : target;
  }
  if (row?.role !== 'crew') {
    throw new GtError(
      'GT_E_NOT_FOUND',
      `no crew member ${target.text}${row ? ` (it is a ${row.role})` : ''}`,
      { hint: `add it first: gt crew add ${target.rig} ${target.name}` },
    );
  }
  return target;
}

/** Statuses and types a bead can be slung from. Pure. */
export function checkSlingable(bead: Bead, now = Date.now()): void {
  const refuse = (why: string, hint: string) => {
    throw new GtError('GT_E_NOT_SLINGABLE', `cannot sling ${bead.id}: ${why}`, {
      hint,
      details: { status: bead.status },
    });
  };
  if (['convoy', 'message', 'escalation', 'merge-request', 'agent', 'rig', 'event'].includes(bead.issue_type))
    refuse(`it is a ${bead.issue_type}, not work`, 'sling work beads (task, bug, feature, …)');
  if (bead.status === 'closed') refuse('it is closed', `reopen it first: bd reopen ${bead.id}`);
  if (bead.status === 'deferred' || (bead.defer_until !== null && bead.defer_until > now))
    refuse('it is deferred', `undefer it first: bd update ${bead.id} -s open`);
  if (bead.status === 'in_review')
    refuse('it is in review (submitted to the Refinery)', 'wait for the merge or the rejection');
  if (bead.status === 'pinned') refuse('it is pinned', 'pinned beads are reference material, not work');
}

function holdsTarget(holder: AgentRow, target: SlingTarget): boolean {
  if (target.kind === 'mayor') return holder.id === 'mayor';
  if (target.kind === 'polecat' || target.kind === 'crew')
    return holder.id === polecatAddress(target.rig, target.name);
  return holder.role === 'polecat' && holder.rig === target.rig;
}

interface Undo {
  name: string;
  run: () => Promise<void> | void;
}

async function rollback(undo: Undo[]): Promise<{ done: string[]; warnings: string[] }> {
  const done: string[] = [];
  const warnings: string[] = [];
  for (const step of [...undo].reverse()) {
    try {
      await step.run();
      done.push(step.name);
    } catch (error) {
      warnings.push(`rollback of ${step.name} failed: ${(error as Error).message}`);
    }
  }
  return { done, warnings };
}

/** Undoes what a failed sling did, then rethrows its error (naming any undo step that failed too). */
async function rollBackAndRethrow(error: unknown, undo: Undo[], rolledBack: string[]): Promise<never> {
  const result = await rollback(undo);
  rolledBack.push(...result.done);
  if (isGtError(error) && result.warnings.length > 0) {
    throw new GtError(error.code, `${error.message} (and: ${result.warnings.join('; ')})`, {
      hint: error.hint,
      details: error.details,
      cause: error,
    });
  }
  throw error;
}

/** The rig a bead is slung into: it must exist, take work, and be the bead's own rig unless forced. */
function requireRigFor(
  db: Db,
  bead: Bead,
  rigName: string,
  force: boolean,
): ReturnType<typeof requireRigRow> {
  const rig = requireRigRow(db, rigName);
  if (rig.parked) {
    throw new GtError('GT_E_RIG_PARKED', `rig ${rig.name} is parked: it takes no new work`, {
      hint: `unpark it first: gt rig unpark ${rig.name}`,
    });
  }
  if (bead.rig && bead.rig !== rig.name && !force) {
    throw new GtError('GT_E_NOT_SLINGABLE', `${bead.id} belongs to rig ${bead.rig}, not ${rig.name}`, {
      hint: `sling it to ${bead.rig}, or pass --force to work on it in ${rig.name}`,
    });
  }
  return rig;
}

const AGENT_COLUMNS = [
  'state',
  'hooked_bead',
  'worktree',
  'branch',
  'session',
  'runtime',
  'agent',
  'model',
  'pid',
  'started_at',
  'last_activity_at',
  'restarts',
  'updated_at',
] as const;

function restoreAgent(db: Db, snapshot: AgentRow): void {
  const sets = AGENT_COLUMNS.map((c) => `${c} = @${c}`).join(', ');
  const values = Object.fromEntries(AGENT_COLUMNS.map((c) => [c, snapshot[c]]));
  prepared(db, `UPDATE agents SET ${sets} WHERE id = @id`).run({ ...values, id: snapshot.id });
}

function gtBin(): string | undefined {
  const bin = join(packageRoot(), 'bin', 'gt.js');
  return existsSync(bin) ? bin : undefined;
}

/** While the town is paused (gt stop --all) nothing new starts; --no-start starts nothing, so it may go. */
function assertNotPaused(db: Db, options: SlingOptions): void {
  if (options.noStart) return;
  const pause = pauseState(db);
  if (!pause.paused) return;
  throw new GtError(
    'GT_E_PAUSED',
    `the town is paused${pause.by ? ` by ${pause.by}` : ''}${pause.since ? ` since ${pause.since}` : ''}: nothing new starts`,
    {
      hint: "'gt resume' restarts the stopped agents and dispatch; without --no-queue the sling waits in the queue",
    },
  );
}

/** A sling refused only for lack of room (capacity, pause) waits in the queue instead, when asked to. */
function queueIfWaiting(
  ctx: SlingContext,
  error: GtError,
  input: string,
  target: SlingTarget,
  options: SlingOptions,
): SlingResult | null {
  if (!options.queue || options.force || options.noStart) return null;
  if (error.code !== 'GT_E_CAPACITY' && error.code !== 'GT_E_PAUSED') return null;
  const bead = ctx.store.require(input);
  const stored = target.kind === 'crew' ? `${target.rig}/crew/${target.name}` : target.text;
  const queued = enqueueSling(ctx.store, {
    bead: bead.id,
    target: stored,
    agent: options.agent,
    model: options.model,
    reason: error.message,
  });
  return {
    bead: bead.id,
    title: bead.title,
    target: stored,
    agent: null,
    status: 'queued',
    rig: target.kind === 'mayor' ? null : target.rig,
    polecat: null,
    reused: false,
    branch: null,
    worktree: null,
    base_sha: null,
    convoy: null,
    session: null,
    moved_from: null,
    warnings: [],
    queued: { ...queued, code: error.code },
  };
}

interface Reservation {
  row: AgentRow;
  before: AgentRow | null;
  beadBefore: { status: Bead['status']; assignee: string | null };
  historyId: number;
  movedFrom: AgentRow | null;
  movedHistory: number[];
}

/**
 * One transaction: re-check admission, capacity, pick the agent, hook the bead. `pick` returns the agent
 * row to use (it may insert one).
 */
function reserve(
  store: BeadStore,
  beadId: string,
  target: SlingTarget,
  options: SlingOptions,
  pick: () => { row: AgentRow; before: AgentRow | null },
  check: () => void,
  setup: (row: AgentRow) => Partial<Record<'worktree' | 'branch', string | null>>,
): Reservation {
  const db = store.db;
  return store.write(() => {
    const bead = store.require(beadId);
    checkSlingable(bead);
    const holder = agentHolding(db, bead.id) ?? null;
    if (holder && !options.force) {
      throw new GtError('GT_E_ALREADY_HOOKED', `${bead.id} is already on the hook of ${holder.id}`, {
        hint: `use --force to move it to ${target.text} (${holder.id} is told by mail)`,
        details: { holder: holder.id },
      });
    }
    if (
      !holder &&
      (bead.status === 'hooked' || bead.status === 'in_progress') &&
      bead.assignee &&
      !options.force
    ) {
      throw new GtError('GT_E_ALREADY_HOOKED', `${bead.id} is ${bead.status} by ${bead.assignee}`, {
        hint: `use --force to sling it to ${target.text} anyway`,
        details: { holder: bead.assignee },
      });
    }
    assertNotPaused(db, options);
    check();
    const now = nowMs();
    const movedHistory: number[] = [];
    if (holder) {
      prepared(db, 'UPDATE agents SET hooked_bead = NULL, updated_at = ? WHERE id = ?').run(now, holder.id);
      const open = prepared<[string, string], number>(
        db,
        'SELECT id FROM agent_history WHERE agent_id = ? AND bead_id = ? AND ended_at IS NULL',
      )
        .pluck()
        .all(holder.id, bead.id);
      for (const id of open) {
        prepared(db, "UPDATE agent_history SET ended_at = ?, outcome = 'reassigned' WHERE id = ?").run(
          now,
          id,
        );
        movedHistory.push(id);
      }
    }
    const { row: picked, before } = pick();
    if (picked.hooked_bead && picked.hooked_bead !== bead.id) {
      throw new GtError('GT_E_AGENT_BUSY', `${picked.id} already has ${picked.hooked_bead} on its hook`, {
        hint: 'sling to the rig to get a free polecat, or wait until this one is done',
      });
    }
    const paths = setup(picked);
    prepared(
      db,
      `UPDATE agents SET state = 'starting', hooked_bead = @bead, worktree = @worktree, branch = @branch,
         session = NULL, pid = NULL, updated_at = @now,
         -- a new hook starts the Witness's ladder afresh (docs/daemon-witness.md)
         health = NULL, progress_mark = NULL, progress_at = @now, nudged_at = NULL, hook_restarts = 0, escalated_at = NULL
       WHERE id = @id`,
    ).run({
      bead: bead.id,
      worktree: paths.worktree ?? null,
      branch: paths.branch ?? null,
      now,
      id: picked.id,
    });
    store.update(bead.id, { status: 'hooked', assignee: picked.id });
    const historyId = Number(
      prepared(db, 'INSERT INTO agent_history (agent_id, bead_id, started_at) VALUES (?, ?, ?)').run(
        picked.id,
        bead.id,
        now,
      ).lastInsertRowid,
    );
    return {
      row: getAgent(db, picked.id)!,
      before,
      beadBefore: { status: bead.status, assignee: bead.assignee },
      historyId,
      movedFrom: holder,
      movedHistory,
    };
  });
}

function undoReservation(store: BeadStore, r: Reservation, beadId: string): void {
  const db = store.db;
  store.write(() => {
    prepared(db, 'DELETE FROM agent_history WHERE id = ?').run(r.historyId);
    if (r.before) restoreAgent(db, r.before);
    else prepared(db, 'DELETE FROM agents WHERE id = ?').run(r.row.id);
    if (r.movedFrom) {
      restoreAgent(db, r.movedFrom);
      for (const id of r.movedHistory)
        prepared(db, 'UPDATE agent_history SET ended_at = NULL, outcome = NULL WHERE id = ?').run(id);
    }
    store.update(beadId, { status: r.beadBefore.status, assignee: r.beadBefore.assignee ?? '' });
  });
}

function alreadyResult(bead: Bead, target: SlingTarget, holder: AgentRow, root: string): SlingResult {
  return {
    bead: bead.id,
    title: bead.title,
    target: target.text,
    agent: holder.id,
    status: 'already-hooked',
    rig: holder.rig,
    polecat: holder.role === 'polecat' ? holder.name : null,
    reused: true,
    branch: holder.branch,
    worktree: worktreePath(root, holder),
    base_sha: null,
    convoy: null,
    session: holder.session
      ? {
          name: holder.session,
          runtime: holder.runtime ?? 'tmux',
          preset: holder.agent ?? '',
          model: holder.model,
          started: false,
        }
      : null,
    moved_from: null,
    warnings: [],
  };
}

export interface SlingContext {
  root: string;
  store: BeadStore;
}

async function slingToPolecat(
  ctx: SlingContext,
  beadInput: string,
  target: Extract<SlingTarget, { kind: 'rig' | 'polecat' }>,
  options: SlingOptions,
  rolledBack: string[],
): Promise<SlingResult> {
  const { root, store } = ctx;
  const db = store.db;
  const bead = store.require(beadInput);
  checkSlingable(bead);
  const rig = requireRigFor(db, bead, target.rig, Boolean(options.force));
  const holder = agentHolding(db, bead.id);
  if (holder && holdsTarget(holder, target)) return alreadyResult(bead, target, holder, root);

  const override: RoleAssignment = {
    ...(options.agent ? { agent: options.agent } : {}),
    ...(options.model ? { model: options.model } : {}),
  };
  const probe = { role: 'polecat', rig: rig.name } as AgentRow;
  const alloc = allocationFor(root, probe, { override }); // unknown agent: refused before anything changes
  const capacity = capacityFor(root, rig.name);

  const undo: Undo[] = [];
  const warnings: string[] = [];
  // One sling per rig at a time through candidate pruning, reservation and checkout: a concurrent sling
  // must never prune a checkout that another one has just created for a reused polecat.
  const lock = join(townLayout(root).locks, `sling-${rig.name}.lock`);
  try {
    const { reservation, checkout, agent } = await withFileLock(lock, 120_000, async () => {
      // Reuse candidates: idle polecats whose old checkout is gone or could be removed (only fully merged,
      // clean checkouts are ever removed — removePolecatCheckout refuses anything else).
      const candidates: string[] = [];
      if (target.kind === 'rig') {
        for (const row of idlePolecats(db, rig.name)) {
          const dir = join(rigLayout(root, rig.name).polecats, row.name);
          if (existsSync(dir)) {
            try {
              await removePolecatCheckout(root, rig.name, row.name, { defaultBranch: rig.defaultBranch });
            } catch {
              continue; // holds work (e.g. an MR still in review): not reusable yet
            }
          }
          candidates.push(row.id);
        }
      } else {
        const row = getAgent(db, polecatAddress(rig.name, target.name));
        if (row && row.role !== 'polecat') {
          throw new GtError('GT_E_INVALID_INPUT', `${row.id} is a ${row.role}, not a polecat`, {
            hint: 'sling to a rig or to a polecat address',
          });
        }
        if (row && !row.hooked_bead && ['idle', 'stopped', 'done'].includes(row.state)) {
          const dir = join(rigLayout(root, rig.name).polecats, row.name);
          if (existsSync(dir)) {
            await removePolecatCheckout(root, rig.name, row.name, { defaultBranch: rig.defaultBranch }).catch(
              (error: unknown) => {
                throw new GtError(
                  'GT_E_AGENT_BUSY',
                  `${row.id} still holds unmerged work in its checkout: ${(error as Error).message}`,
                  { hint: 'sling to the rig to get a free polecat' },
                );
              },
            );
          }
        }
      }

      const reservation = reserve(
        store,
        bead.id,
        target,
        options,
        () => {
          if (target.kind === 'polecat') {
            const id = polecatAddress(rig.name, target.name);
            const before = getAgent(db, id) ?? null;
            if (before && ['starting', 'working'].includes(before.state) && before.hooked_bead !== bead.id) {
              throw new GtError('GT_E_AGENT_BUSY', `${id} is ${before.state}`, {
                hint: 'sling to the rig to get a free polecat',
              });
            }
            const row =
              before ?? ensureAgentRow(db, { id, role: 'polecat', rig: rig.name, name: target.name });
            return { row, before };
          }
          for (const id of candidates) {
            const row = getAgent(db, id);
            if (row && !row.hooked_bead && ['idle', 'stopped', 'done'].includes(row.state))
              return { row, before: row };
          }
          const name = nextFreeName(db, root, rig.name);
          const row = ensureAgentRow(db, {
            id: polecatAddress(rig.name, name),
            role: 'polecat',
            rig: rig.name,
            name,
          });
          return { row, before: null };
        },
        () => assertCapacity(db, rig.name, capacity),
        (row) => ({
          worktree: rigLayout(root, rig.name).relative + `/polecats/${row.name}`,
          branch: polecatBranch(row.name, bead.id),
        }),
      );
      undo.push({ name: 'hook', run: () => undoReservation(store, reservation, bead.id) });
      const agent = reservation.row;

      // The reused polecat's previous session (idle at a prompt after gt done) must not linger.
      if (reservation.before?.session) {
        const provider = providerFor(runtimeKind(reservation.before.runtime), root);
        await provider.kill(reservation.before.session).catch(() => {});
      }

      failPoint('sling:checkout');
      const checkout = await createPolecatCheckout(root, {
        rig: rig.name,
        polecat: agent.name,
        bead: bead.id,
        defaultBranch: rig.defaultBranch,
      });
      undo.push({
        name: 'checkout',
        run: async () => {
          await removePolecatCheckout(root, rig.name, agent.name, { defaultBranch: rig.defaultBranch });
        },
      });

      return { reservation, checkout, agent };
    });
    const hooks = alloc.preset.hooks;
    if (hooks === 'codex' || hooks === 'gemini') {
      installGuardHooks(checkout.path, { agents: [hooks], gtBin: gtBin() });
    }
    // Claude Code: startAgentSession writes gt's hooks (guard included) into .claude/settings.json.

    const { convoy, created } = ensureConvoyFor(store, bead.id);
    if (created) {
      undo.push({
        name: 'convoy',
        run: () => {
          prepared(db, 'DELETE FROM beads WHERE id = ?').run(convoy.id);
        },
      });
    }

    let started: StartedSession | null = null;
    failPoint('sling:session');
    // gt stop --all landed after the reservation: start nothing now; gt resume starts it (paused_from).
    const pausedMeanwhile = !options.noStart && pauseState(db).paused;
    if (!options.noStart && !pausedMeanwhile) {
      started = await startAgentSession(root, db, getAgent(db, agent.id)!, {
        override,
        env: {
          GT_WORKTREE: checkout.path,
          GT_DEFAULT_BRANCH: checkout.defaultBranch,
          GT_BEAD: bead.id,
        },
      });
      undo.push({
        name: 'session',
        run: async () => {
          await stopAgentSession(root, db, getAgent(db, agent.id)!);
        },
      });
    } else {
      prepared(
        db,
        "UPDATE agents SET state = 'stopped', agent = ?, model = ?, paused_from = ?, updated_at = ? WHERE id = ?",
      ).run(alloc.agent, alloc.model, pausedMeanwhile ? 'starting' : null, nowMs(), agent.id);
      if (pausedMeanwhile)
        warnings.push('the town was paused meanwhile (gt stop --all): gt resume starts it');
    }
    failPoint('sling:after-session');

    if (reservation.movedFrom) {
      try {
        sendMail(store, {
          from: SYSTEM_SENDER,
          to: reservation.movedFrom.id,
          subject: `Work reassigned: ${bead.id}`,
          body: `${bead.id} was moved from your hook to ${agent.id} (gt sling --force by ${store.actor}). Stop working on it; your branch and checkout are kept.`,
        });
      } catch (error) {
        warnings.push(`could not mail ${reservation.movedFrom.id}: ${(error as Error).message}`);
      }
    }

    return {
      bead: bead.id,
      title: bead.title,
      target: target.text,
      agent: agent.id,
      status: 'slung',
      rig: rig.name,
      polecat: agent.name,
      reused: reservation.before !== null,
      branch: checkout.branch,
      worktree: checkout.path,
      base_sha: checkout.baseSha,
      convoy: { id: convoy.id, name: convoy.name, created },
      session: started
        ? {
            name: started.session,
            runtime: started.runtime,
            preset: started.preset,
            model: started.model,
            started: true,
          }
        : null,
      moved_from: reservation.movedFrom?.id ?? null,
      warnings,
    };
  } catch (error) {
    return rollBackAndRethrow(error, undo, rolledBack);
  }
}

/**
 * Sling to a crew member (`<rig>/<name>` whose row has role crew): no allocation and no capacity slot — the
 * crew member is named. Its workspace moves to `crew/<name>/<bead>` (refused while tracked files are
 * dirty); a running session is kept and nudged, else one is started (the crew member's recorded agent and
 * model, then [roles.crew]). A crew member whose hooked bead is closed is free again.
 */
async function slingToCrew(
  ctx: SlingContext,
  beadInput: string,
  target: Extract<SlingTarget, { kind: 'crew' }>,
  options: SlingOptions,
  rolledBack: string[],
): Promise<SlingResult> {
  const { root, store } = ctx;
  const db = store.db;
  const bead = store.require(beadInput);
  checkSlingable(bead);
  const rig = requireRigFor(db, bead, target.rig, Boolean(options.force));
  const id = polecatAddress(rig.name, target.name);
  const crew = getAgent(db, id);
  if (crew?.role !== 'crew') {
    throw new GtError('GT_E_NOT_FOUND', `no crew member ${id}`, {
      hint: `add it first: gt crew add ${rig.name} ${target.name}`,
    });
  }
  const holder = agentHolding(db, bead.id);
  if (holder && holdsTarget(holder, target)) return alreadyResult(bead, target, holder, root);

  // The crew member's own agent and model (gt crew add --agent/--model), unless this sling overrides them.
  const override: RoleAssignment = options.agent
    ? { agent: options.agent, ...(options.model ? { model: options.model } : {}) }
    : {
        ...(crew.agent ? { agent: crew.agent } : {}),
        ...(options.model ? { model: options.model } : crew.model ? { model: crew.model } : {}),
      };
  const alloc = allocationFor(root, crew, { override }); // unknown agent: refused before anything changes

  const undo: Undo[] = [];
  const warnings: string[] = [];
  const lock = join(townLayout(root).locks, `sling-${rig.name}.lock`);
  try {
    const { reservation, checkout } = await withFileLock(lock, 120_000, async () => {
      const reservation = reserve(
        store,
        bead.id,
        target,
        options,
        () => {
          const before = getAgent(db, id)!;
          const hooked = before.hooked_bead
            ? prepared<[string], string>(db, 'SELECT status FROM beads WHERE id = ?')
                .pluck()
                .get(before.hooked_bead)
            : undefined;
          // A hook whose bead has closed (merged) is released: the crew member is free again.
          const row = hooked === 'closed' || hooked === undefined ? { ...before, hooked_bead: null } : before;
          if (row.hooked_bead && row.hooked_bead !== bead.id) {
            throw new GtError('GT_E_AGENT_BUSY', `${id} already has ${row.hooked_bead} on its hook`, {
              hint: `wait until it is merged, or move it: gt sling ${row.hooked_bead} <target> --force`,
            });
          }
          return { row, before };
        },
        () => {},
        (row) => ({ worktree: row.worktree, branch: crewBranch(row.name, bead.id) }),
      );
      undo.push({ name: 'hook', run: () => undoReservation(store, reservation, bead.id) });
      failPoint('sling:checkout');
      const checkout = await switchCrewToBead(root, {
        rig: rig.name,
        name: target.name,
        bead: bead.id,
        defaultBranch: rig.defaultBranch,
      });
      undo.push({ name: 'checkout', run: () => checkout.undo() });
      return { reservation, checkout };
    });
    const hooks = alloc.preset.hooks;
    if (hooks === 'codex' || hooks === 'gemini') {
      installGuardHooks(checkout.path, { agents: [hooks], gtBin: gtBin() });
    }

    const { convoy, created } = ensureConvoyFor(store, bead.id);
    if (created) {
      undo.push({
        name: 'convoy',
        run: () => {
          prepared(db, 'DELETE FROM beads WHERE id = ?').run(convoy.id);
        },
      });
    }

    const before = reservation.before!;
    let session: SlingResult['session'] = null;
    failPoint('sling:session');
    const provider = providerFor(runtimeKind(before.runtime), root);
    const live = before.session ? await provider.liveness(before.session) : null;
    if (before.session && live?.processAlive) {
      // A running crew session (a person's, or a persistent agent's) is kept: told, not restarted.
      prepared(db, 'UPDATE agents SET state = ?, session = ?, pid = ?, updated_at = ? WHERE id = ?').run(
        'working',
        before.session,
        before.pid,
        nowMs(),
        id,
      );
      const nudge = await nudgeAgent(
        root,
        db,
        id,
        `Work slung to your hook: ${bead.id} (your workspace is now on ${checkout.branch}). Run 'gt prime' to see it.`,
        { sender: store.actor },
      );
      if (nudge.status === 'queued') warnings.push(`${id} will see it at its next turn (${nudge.reason})`);
      session = {
        name: before.session,
        runtime: provider.kind,
        preset: before.agent ?? '',
        model: before.model,
        started: false,
      };
    } else if (!options.noStart) {
      const started = await startAgentSession(root, db, getAgent(db, id)!, {
        override,
        env: { GT_WORKTREE: checkout.path, GT_DEFAULT_BRANCH: checkout.defaultBranch, GT_BEAD: bead.id },
      });
      undo.push({
        name: 'session',
        run: async () => {
          await stopAgentSession(root, db, getAgent(db, id)!);
        },
      });
      session = {
        name: started.session,
        runtime: started.runtime,
        preset: started.preset,
        model: started.model,
        started: true,
      };
    } else {
      prepared(db, "UPDATE agents SET state = 'stopped', updated_at = ? WHERE id = ?").run(nowMs(), id);
    }
    failPoint('sling:after-session');

    if (reservation.movedFrom) {
      try {
        sendMail(store, {
          from: SYSTEM_SENDER,
          to: reservation.movedFrom.id,
          subject: `Work reassigned: ${bead.id}`,
          body: `${bead.id} was moved from your hook to ${id} (gt sling --force by ${store.actor}). Stop working on it; your branch and checkout are kept.`,
        });
      } catch (error) {
        warnings.push(`could not mail ${reservation.movedFrom.id}: ${(error as Error).message}`);
      }
    }
    return {
      bead: bead.id,
      title: bead.title,
      target: target.text,
      agent: id,
      status: 'slung',
      rig: rig.name,
      polecat: null,
      crew: target.name,
      reused: true,
      branch: checkout.branch,
      worktree: checkout.path,
      base_sha: checkout.baseSha,
      convoy: { id: convoy.id, name: convoy.name, created },
      session,
      moved_from: reservation.movedFrom?.id ?? null,
      warnings,
    };
  } catch (error) {
    return rollBackAndRethrow(error, undo, rolledBack);
  }
}

async function slingToMayor(
  ctx: SlingContext,
  beadInput: string,
  target: Extract<SlingTarget, { kind: 'mayor' }>,
  options: SlingOptions,
  rolledBack: string[],
): Promise<SlingResult> {
  const { root, store } = ctx;
  const db = store.db;
  const bead = store.require(beadInput);
  checkSlingable(bead);
  const holder = agentHolding(db, bead.id);
  if (holder && holdsTarget(holder, target)) return alreadyResult(bead, target, holder, root);
  const undo: Undo[] = [];
  try {
    const reservation = reserve(
      store,
      bead.id,
      target,
      options,
      () => {
        const before = getAgent(db, 'mayor') ?? null;
        const row = before ?? ensureAgentRow(db, { id: 'mayor', role: 'mayor', rig: null, name: 'mayor' });
        return { row, before };
      },
      () => {},
      (row) => ({ worktree: row.worktree, branch: row.branch }),
    );
    undo.push({ name: 'hook', run: () => undoReservation(store, reservation, bead.id) });
    const { convoy, created } = ensureConvoyFor(store, bead.id);
    if (created)
      undo.push({
        name: 'convoy',
        run: () => {
          prepared(db, 'DELETE FROM beads WHERE id = ?').run(convoy.id);
        },
      });
    const before = reservation.before;
    let session: SlingResult['session'] = null;
    const warnings: string[] = [];
    // Started through startMayor: the Mayor's start lock (one session however many starts race), its home
    // and instruction file, the role's agent and model. A running Mayor is reported, not restarted.
    let running: MayorStatus | null = null;
    if (options.noStart) {
      const status = await mayorStatus(root, db);
      if (status.running) running = status;
      else prepared(db, "UPDATE agents SET state = 'stopped' WHERE id = 'mayor'").run();
    } else {
      const start = await startMayor(root, db, { agent: options.agent, model: options.model });
      warnings.push(...start.notes.map((n) => n.replace(/^(note|warning): /, '')));
      if (start.started && start.start) {
        undo.push({
          name: 'session',
          run: async () => {
            await stopMayor(root, db);
          },
        });
        session = {
          name: start.start.session,
          runtime: start.start.runtime,
          preset: start.start.preset,
          model: start.start.model,
          started: true,
        };
      } else {
        running = start.status;
      }
    }
    if (running) {
      // The Mayor keeps its session (the reservation cleared it on the row; a racing start may have made
      // it meanwhile): record it from the live status, and tell the Mayor at its next turn.
      prepared(db, 'UPDATE agents SET state = ?, session = ?, pid = ?, updated_at = ? WHERE id = ?').run(
        'working',
        running.session,
        running.pid,
        nowMs(),
        'mayor',
      );
      const nudge = await nudgeAgent(
        root,
        db,
        'mayor',
        `Work slung to your hook: ${bead.id}. Run 'gt hook' to see it.`,
        {
          sender: store.actor,
        },
      );
      session = {
        name: running.session,
        runtime: running.runtime,
        preset: running.preset ?? '',
        model: running.model,
        started: false,
      };
      if (nudge.status === 'queued')
        warnings.push(`the Mayor will see it at its next turn (${nudge.reason})`);
    }
    if (reservation.movedFrom) {
      sendMail(store, {
        from: SYSTEM_SENDER,
        to: reservation.movedFrom.id,
        subject: `Work reassigned: ${bead.id}`,
        body: `${bead.id} was moved from your hook to the Mayor (gt sling --force by ${store.actor}).`,
      });
    }
    return {
      bead: bead.id,
      title: bead.title,
      target: 'mayor',
      agent: 'mayor',
      status: 'slung',
      rig: null,
      polecat: null,
      reused: before !== null,
      branch: null,
      worktree: null,
      base_sha: null,
      convoy: { id: convoy.id, name: convoy.name, created },
      session,
      moved_from: reservation.movedFrom?.id ?? null,
      warnings,
    };
  } catch (error) {
    return rollBackAndRethrow(error, undo, rolledBack);
  }
}

/** Slings each bead separately (several beads → several polecats). Failures are reported per bead. */
export async function slingBeads(
  ctx: SlingContext,
  beadInputs: readonly string[],
  targetInput: string,
  options: SlingOptions = {},
): Promise<SlingOutcome> {
  if (beadInputs.length === 0) {
    throw new GtError('GT_E_USAGE', 'name at least one bead and a target', {
      hint: 'gt sling <bead…> <rig | rig/name | rig/crew/name | mayor>',
    });
  }
  const target = resolveTarget(ctx.store.db, parseTarget(targetInput));
  const outcome: SlingOutcome = { results: [], failures: [] };
  for (const input of beadInputs) {
    const rolledBack: string[] = [];
    try {
      const result =
        target.kind === 'mayor'
          ? await slingToMayor(ctx, input, target, options, rolledBack)
          : target.kind === 'crew'
            ? await slingToCrew(ctx, input, target, options, rolledBack)
            : await slingToPolecat(ctx, input, target, options, rolledBack);
      dequeueBead(ctx.store.db, result.bead); // it no longer waits, if it did
      outcome.results.push(result);
    } catch (error) {
      if (!isGtError(error)) throw error;
      const queued = rolledBack.length === 0 ? queueIfWaiting(ctx, error, input, target, options) : null;
      if (queued) {
        outcome.results.push(queued);
        continue;
      }
      if (beadInputs.length === 1) {
        if (rolledBack.length > 0)
          throw new GtError(error.code, error.message, {
            hint: error.hint,
            details: { ...error.details, rolled_back: rolledBack },
            cause: error,
          });
        throw error;
      }
      outcome.failures.push({
        bead: input,
        code: error.code,
        error: error.message,
        ...(error.hint ? { hint: error.hint } : {}),
        rolled_back: rolledBack,
      });
    }
  }
  return outcome;
}
