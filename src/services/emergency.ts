import { recordActivity } from '../daemon/activity';
import { clearPaused, pauseState, setPaused } from '../daemon/pause';
import { type Db, prepared } from '../ledger/open';
import type { BeadStore } from '../ledger/store';
import { nowMs } from '../ledger/time';
import type { AgentRow } from '../runtime/agent-rows';
import { startAgentSession, stopAgentSession } from './agent-sessions';
import { startMayor, stopMayor } from './mayor';
import { BUSY_STATES } from './polecats';
import { endSession, polecatSessionEnv } from './work-sessions';

/**
 * The emergency stop (docs/daemon-scheduler.md): `gt stop --all` and `gt resume`.
 *
 * Stop: the dispatch pause is set first (so neither the scheduler nor a `gt sling` starts anything new —
 * slings queue), then every agent session — polecats, crew, the Mayor; tmux or headless — is stopped in
 * parallel. Intent is recorded before any kill, in one transaction: each such agent's state goes to
 * `stopped` (the Witness leaves stopped agents alone, so a killed session is never mistaken for a zombie and
 * restarted) and `paused_from` keeps the state it was in. Hooks, worktrees, branches and commits are not
 * touched. A polecat that had already finished (done/idle, a session left at its prompt) only has that
 * session ended: it has nothing to resume.
 *
 * Resume: clears the pause and, in the same transaction, marks every agent with `paused_from` as `starting`
 * (so they hold their capacity slots before the scheduler can hand them to queued work), then restarts them
 * in parallel on their same hook and worktree with their recorded agent and model, and clears
 * `paused_from`. A polecat whose bead was submitted or merged meanwhile is not restarted.
 *
 * Both are idempotent and need no daemon: everything is in the ledger.
 */
const ACTOR_ROLES = ['polecat', 'crew', 'mayor'] as const;
/** States in which an agent is (or is about to be) working: these are the ones resumed. */
const ACTIVE_STATES: readonly string[] = [...BUSY_STATES, 'zombie'];
/** How long stop --all waits for slings that were already past the pause check to settle. */
const INFLIGHT_WAIT_MS = 5000;

export interface StoppedAgent {
  agent: string;
  role: string;
  rig: string | null;
  /** The state it was stopped in (agents.paused_from). */
  from: string;
  hooked_bead: string | null;
  session: string | null;
  /** Whether its agent process was alive when it was stopped. */
  was_running: boolean;
}

export interface StopAllResult {
  paused: boolean;
  paused_since: string | null;
  /** Agents stopped by this call (gt resume restarts them). */
  stopped: string[];
  agents: StoppedAgent[];
  /** Finished polecats whose idle session was ended (nothing to resume). */
  ended: string[];
  /** Agents stopped by an earlier stop and still waiting for gt resume. */
  waiting: string[];
  failures: Array<{ agent: string; error: string }>;
}

interface Sweep {
  resumable: AgentRow[];
  finished: AgentRow[];
}

/** Running agents, split into those to stop-and-resume and finished polecats whose session only ends. */
function sweep(db: Db): Sweep {
  const roles = ACTOR_ROLES.map((r) => `'${r}'`).join(',');
  const rows = prepared<[], AgentRow>(
    db,
    `SELECT * FROM agents WHERE role IN (${roles})
       AND (session IS NOT NULL OR state IN ('working','stalled','zombie'))`,
  ).all();
  const out: Sweep = { resumable: [], finished: [] };
  for (const row of rows) {
    const finished = row.role === 'polecat' && !ACTIVE_STATES.includes(row.state);
    (finished ? out.finished : out.resumable).push(row);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function stopAllAgents(
  root: string,
  store: BeadStore,
  options: { pauseDispatch: boolean },
): Promise<StopAllResult> {
  const db = store.db;
  const result: StopAllResult = {
    paused: false,
    paused_since: null,
    stopped: [],
    agents: [],
    ended: [],
    waiting: [],
    failures: [],
  };
  if (options.pauseDispatch) {
    store.write(() => {
      if (!pauseState(db).paused) {
        setPaused(db, store.actor);
        recordActivity(db, { kind: 'paused', actor: store.actor, detail: 'gt stop --all: dispatch paused' });
      }
    });
  }
  const deadline = Date.now() + INFLIGHT_WAIT_MS;
  for (;;) {
    const found = store.write(() => {
      const s = sweep(db);
      const now = nowMs();
      for (const row of s.resumable) {
        prepared(
          db,
          `UPDATE agents SET paused_from = COALESCE(paused_from, state), state = 'stopped', updated_at = ? WHERE id = ?`,
        ).run(now, row.id);
        recordActivity(db, {
          kind: 'stopped',
          actor: store.actor,
          rig: row.rig,
          agent: row.id,
          bead: row.hooked_bead,
          detail: `emergency stop (was ${row.state})`,
        });
      }
      return s;
    });
    await Promise.all([
      ...found.resumable.map(async (row) => {
        try {
          const stopped =
            row.role === 'mayor' ? await stopMayor(root, db) : await stopAgentSession(root, db, row);
          result.stopped.push(row.id);
          result.agents.push({
            agent: row.id,
            role: row.role,
            rig: row.rig,
            from: row.state,
            hooked_bead: row.hooked_bead,
            session: stopped.session,
            was_running: stopped.was_running,
          });
        } catch (error) {
          result.failures.push({ agent: row.id, error: (error as Error).message });
        }
      }),
      ...found.finished.map(async (row) => {
        try {
          await endSession(root, db, row);
          result.ended.push(row.id);
        } catch (error) {
          result.failures.push({ agent: row.id, error: (error as Error).message });
        }
      }),
    ]);
    // A sling already past its pause check may still start a session: sweep again until none is starting.
    const starting = prepared<[], number>(
      db,
      "SELECT count(*) FROM agents WHERE role IN ('polecat','crew') AND state = 'starting'",
    )
      .pluck()
      .get() as number;
    const foundAny = found.resumable.length + found.finished.length > 0;
    if ((starting === 0 && !foundAny) || Date.now() > deadline) break;
    await sleep(250);
  }
  const pause = pauseState(db);
  result.paused = pause.paused;
  result.paused_since = pause.since;
  const stoppedNow = new Set(result.stopped);
  result.waiting = prepared<[], string>(db, 'SELECT id FROM agents WHERE paused_from IS NOT NULL ORDER BY id')
    .pluck()
    .all()
    .filter((id) => !stoppedNow.has(id));
  result.stopped.sort();
  result.agents.sort((a, b) => (a.agent < b.agent ? -1 : 1));
  result.ended.sort();
  return result;
}

export interface ResumedAgent {
  agent: string;
  role: string;
  from: string;
  hooked_bead: string | null;
  session: string | null;
}

export interface ResumeResult {
  /** Whether this call cleared the pause. */
  unpaused: boolean;
  resumed: ResumedAgent[];
  /** Agents with paused_from that were not restarted, and why (work submitted meanwhile, no hook). */
  skipped: Array<{ agent: string; why: string }>;
  failures: Array<{ agent: string; error: string }>;
  /** Slings waiting in the queue (the scheduler dispatches them). */
  queued: number;
}

export async function resumeAll(root: string, store: BeadStore): Promise<ResumeResult> {
  const db = store.db;
  const result: ResumeResult = { unpaused: false, resumed: [], skipped: [], failures: [], queued: 0 };
  const toStart = store.write(() => {
    result.unpaused = clearPaused(db);
    if (result.unpaused)
      recordActivity(db, { kind: 'resumed', actor: store.actor, detail: 'gt resume: dispatch resumed' });
    const rows = prepared<[], AgentRow & { paused_from: string; bead_status: string | null }>(
      db,
      `SELECT a.*, b.status AS bead_status FROM agents a LEFT JOIN beads b ON b.id = a.hooked_bead
        WHERE a.paused_from IS NOT NULL ORDER BY a.id`,
    ).all();
    const now = nowMs();
    const starting: Array<AgentRow & { paused_from: string }> = [];
    for (const row of rows) {
      let skip: string | null = null;
      let state = row.state;
      if (row.role === 'polecat' && !row.hooked_bead) skip = 'nothing on its hook any more';
      else if (row.role === 'polecat' && (row.bead_status === 'in_review' || row.bead_status === 'closed')) {
        skip = `its bead ${row.hooked_bead} is ${row.bead_status}`;
        state = 'done';
      } else if (row.state !== 'stopped') {
        skip = `it is ${row.state} (restarted by someone else)`;
      }
      if (skip) {
        prepared(db, 'UPDATE agents SET paused_from = NULL, state = ?, updated_at = ? WHERE id = ?').run(
          state,
          now,
          row.id,
        );
        result.skipped.push({ agent: row.id, why: skip });
        continue;
      }
      // Claims its slot now, so the scheduler cannot give it to queued work first.
      prepared(db, "UPDATE agents SET state = 'starting', updated_at = ? WHERE id = ?").run(now, row.id);
      starting.push(row);
    }
    return starting;
  });

  await Promise.all(
    toStart.map(async (row) => {
      try {
        let session: string | null;
        if (row.role === 'mayor') {
          const start = await startMayor(root, db, {
            ...(row.agent ? { agent: row.agent } : {}),
            ...(row.model ? { model: row.model } : {}),
          });
          session = start.status.session;
        } else {
          const started = await startAgentSession(root, db, row, {
            keepRecorded: true,
            env: polecatSessionEnv(root, db, row),
          });
          session = started.session;
        }
        store.write(() => {
          prepared(db, 'UPDATE agents SET paused_from = NULL, updated_at = ? WHERE id = ?').run(
            nowMs(),
            row.id,
          );
          recordActivity(db, {
            kind: 'restarted',
            actor: store.actor,
            rig: row.rig,
            agent: row.id,
            bead: row.hooked_bead,
            detail: `gt resume (was ${row.paused_from})`,
          });
        });
        result.resumed.push({
          agent: row.id,
          role: row.role,
          from: row.paused_from,
          hooked_bead: row.hooked_bead,
          session,
        });
      } catch (error) {
        // Back to stopped with paused_from kept: the next gt resume tries again.
        prepared(
          db,
          "UPDATE agents SET state = 'stopped', updated_at = ? WHERE id = ? AND state = 'starting'",
        ).run(nowMs(), row.id);
        result.failures.push({ agent: row.id, error: (error as Error).message });
      }
    }),
  );
  result.resumed.sort((a, b) => (a.agent < b.agent ? -1 : 1));
  result.queued = prepared<[], number>(db, 'SELECT count(*) FROM sling_queue').pluck().get() as number;
  return result;
}
