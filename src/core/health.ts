/**
 * The Witness's judgement of one polecat (docs/daemon-witness.md). Pure: facts gathered by the daemon
 * (src/daemon/evidence.ts) and the clock in; a health classification and at most one action out.
 *
 * The rules (DESIGN §2.5: supervisors never kill healthy workers; recovery is restart-first):
 *   - progress (new evidence) resets the ladder: a worker showing progress is never nudged, restarted or
 *     killed;
 *   - stalled = hooked work, session alive, no progress for stall_after → nudge once → no progress within
 *     nudge_grace → restart on the same hook and worktree → after max_restarts restarts, escalate once and
 *     never restart again;
 *   - zombie = the session or the agent process is gone while work is hooked → restart at once (counts
 *     toward max_restarts; beyond it, escalate once);
 *   - a submitted polecat whose merge request came back rejected is started again for rework, up to the
 *     Refinery's max_rework;
 *   - an idle polecat with a leftover checkout or session, or one whose bead has closed, is cleaned up;
 *   - stopped polecats (a person, or `gt stop --all`) and everything in a paused town are left alone.
 */
export type Health = 'working' | 'idle' | 'stalled' | 'zombie' | 'done';

export type WitnessAction =
  | 'none'
  /** New evidence: progress_at = now, nudged_at cleared (a stalled polecat is working again). */
  | 'record-progress'
  /** Remember the evidence without calling it progress: first sight, a fresh session, our nudge's echo. */
  | 'rebaseline'
  | 'nudge'
  /** Handoff: a new session on the same hook and worktree (hook_restarts + 1). */
  | 'restart'
  | 'escalate'
  /** The Refinery sent the work back: a new session on the same hook and worktree (not a recovery). */
  | 'rework-restart'
  | 'cleanup';

/** How the evidence compares with the mark recorded last time. */
export type Change = 'first' | 'none' | 'output' | 'work';

export interface WitnessPolicy {
  stallAfterMs: number;
  nudgeGraceMs: number;
  maxRestarts: number;
  /** The rig's [refinery] max_rework. */
  maxRework: number;
  /** Output this soon after a nudge is the nudge's own echo in the pane, not progress. */
  echoSettleMs: number;
  /** A polecat being slung has no session for a moment (checkout, then session start). */
  startingGraceMs: number;
}

export interface PolecatFacts {
  state: string;
  hookedBead: string | null;
  /** The hooked bead's status; null when nothing is hooked or the bead is gone. */
  beadStatus: string | null;
  /** A session exists for the agent (recorded and, when in doubt, confirmed with the provider). */
  session: boolean;
  /** The agent process runs. */
  process: boolean;
  change: Change;
  progressAt: number | null;
  nudgedAt: number | null;
  hookRestarts: number;
  escalatedAt: number | null;
  updatedAt: number;
  /** The bead has a merge request the Refinery is working on (queued, sheriff, ready, testing). */
  openMr: boolean;
  /** The bead's latest MR was rejected for a rework reason and the Refinery's follow-up (mail) is done. */
  returned: boolean;
  /** Some MR of the bead still owes a Refinery follow-up: leave its polecat to the Refinery. */
  followupPending: boolean;
  /** The bead's MRs rejected for a rework reason. */
  rework: number;
  /** A checkout folder or a recorded session is left over. */
  leftovers: boolean;
  /** The town is paused (gt stop --all). */
  paused: boolean;
}

export interface Verdict {
  health: Health;
  action: WitnessAction;
  /** Why, for the activity trail and the log. */
  reason: string;
}

/** States in which a polecat's session should be running on its hook. */
export const LIVE_STATES: readonly string[] = ['starting', 'working', 'stalled', 'zombie'];

function verdict(health: Health, action: WitnessAction, reason: string): Verdict {
  return { health, action, reason };
}

/** Health from the recorded state alone (for a paused town, where nothing is looked at). */
export function healthOfState(state: string): Health {
  if (state === 'working' || state === 'starting') return 'working';
  if (state === 'stalled') return 'stalled';
  if (state === 'zombie') return 'zombie';
  if (state === 'done') return 'done';
  return 'idle';
}

export function formatMs(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m}m` : `${Math.round(m / 60)}h`;
}

/** After a nudge (or a death) with no progress: restart while restarts remain, then escalate once. */
function ladder(f: PolecatFacts, p: WitnessPolicy, health: Health, what: string): Verdict {
  if (f.hookRestarts < p.maxRestarts) {
    return verdict(health, 'restart', `${what}: restart ${f.hookRestarts + 1} of ${p.maxRestarts}`);
  }
  if (f.escalatedAt === null) {
    return verdict(
      health,
      'escalate',
      `${what} after ${f.hookRestarts} restart(s): escalating, no more restarts`,
    );
  }
  return verdict(health, 'none', `${what}; escalated, waiting for a person`);
}

export function judgePolecat(f: PolecatFacts, p: WitnessPolicy, now: number): Verdict {
  if (f.state === 'stopped')
    return verdict('idle', 'none', 'stopped (by a person or gt stop --all): left alone');
  if (f.paused) return verdict(healthOfState(f.state), 'none', 'the town is paused');

  if (!f.hookedBead) {
    if (f.state === 'idle' && f.leftovers)
      return verdict('idle', 'cleanup', 'idle with a leftover checkout or session');
    return verdict(healthOfState(f.state) === 'done' ? 'done' : 'idle', 'none', 'nothing on the hook');
  }

  if (f.beadStatus === 'closed' || f.beadStatus === null) {
    if (f.state === 'done' || f.state === 'idle') {
      if (f.followupPending) return verdict('done', 'none', 'the Refinery is following up its merge');
      return verdict('done', 'cleanup', 'its bead is closed: release the hook and the checkout');
    }
    // Closed under a live session: the agent finds out at its next gt command; nothing to recover.
    return verdict('done', 'none', 'its bead is closed');
  }

  if (f.state === 'done') {
    if (f.openMr) return verdict('done', 'none', 'in review');
    if (f.returned && (f.beadStatus === 'hooked' || f.beadStatus === 'in_progress')) {
      if (f.rework < p.maxRework) {
        return verdict(
          'done',
          'rework-restart',
          `merge request rejected: rework ${f.rework} of ${p.maxRework}`,
        );
      }
      return verdict('done', 'none', `rework limit ${p.maxRework} reached (the Refinery escalated)`);
    }
    return verdict('done', 'none', 'submitted');
  }

  if (!LIVE_STATES.includes(f.state)) return verdict('idle', 'none', `state ${f.state}`);

  if (f.state === 'starting' && !f.session && now - f.updatedAt < p.startingGraceMs) {
    return verdict('working', 'none', 'being slung');
  }

  if (!f.session || !f.process) {
    return ladder(f, p, 'zombie', f.session ? 'the agent process is gone' : 'the session is gone');
  }

  // Alive. Evidence first: progress always wins.
  if (f.change === 'first')
    return verdict(healthOfState(f.state), 'rebaseline', 'first look at this session');
  const echo = f.nudgedAt !== null && now - f.nudgedAt < p.echoSettleMs;
  if (f.change === 'work' || (f.change === 'output' && !echo))
    return verdict('working', 'record-progress', 'progress');
  if (f.change === 'output')
    return verdict('stalled', 'rebaseline', 'output right after our nudge (its echo)');

  const quiet = now - (f.progressAt ?? now);
  if (f.nudgedAt !== null) {
    const waited = now - f.nudgedAt;
    if (waited < p.nudgeGraceMs) return verdict('stalled', 'none', `nudged ${formatMs(waited)} ago; waiting`);
    return ladder(f, p, 'stalled', `no progress ${formatMs(waited)} after a nudge`);
  }
  if (quiet < p.stallAfterMs) return verdict('working', 'none', 'working');
  if (f.escalatedAt !== null) return verdict('stalled', 'none', 'stalled; escalated, waiting for a person');
  return verdict('stalled', 'nudge', `no progress for ${formatMs(quiet)}`);
}

/** Actions taken because the polecat looks stalled: confirm with fresh (expensive) evidence first. */
export function isStallAction(v: Verdict): boolean {
  return (
    v.health === 'stalled' && (v.action === 'nudge' || v.action === 'restart' || v.action === 'escalate')
  );
}

// ---------------------------------------------------------------- the progress mark

/**
 * The evidence fingerprint recorded in agents.progress_mark. `work` components: the branch head, the
 * worktree's state (changed files with their sizes and mtimes), the usage transcript, tool-hook activity.
 * `output` components: the session log and the sim agent's event log (typing into a pane makes output, so
 * output right after our own nudge does not count).
 */
export interface ProgressMark {
  head: string | null;
  /** Hash of the worktree's changes; null when not sampled (it costs a git call). */
  tree: string | null;
  usage: number;
  activity: number | null;
  out: number;
  log: number;
}

export function encodeMark(mark: ProgressMark): string {
  return JSON.stringify(mark);
}

export function decodeMark(text: string | null): ProgressMark | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as Partial<ProgressMark>;
    if (typeof v !== 'object' || v === null) return null;
    return {
      head: typeof v.head === 'string' ? v.head : null,
      tree: typeof v.tree === 'string' ? v.tree : null,
      usage: typeof v.usage === 'number' ? v.usage : 0,
      activity: typeof v.activity === 'number' ? v.activity : null,
      out: typeof v.out === 'number' ? v.out : 0,
      log: typeof v.log === 'number' ? v.log : 0,
    };
  } catch {
    return null;
  }
}

/** A component not sampled this time (tree: null) keeps its recorded value. */
export function mergeMark(previous: ProgressMark | null, next: ProgressMark): ProgressMark {
  return next.tree === null && previous ? { ...next, tree: previous.tree } : next;
}

export function compareMarks(previous: ProgressMark | null, next: ProgressMark): Change {
  if (!previous) return 'first';
  const treeChanged = previous.tree !== null && next.tree !== null && previous.tree !== next.tree;
  if (
    previous.head !== next.head ||
    treeChanged ||
    previous.usage !== next.usage ||
    (next.activity !== null && previous.activity !== next.activity)
  ) {
    return 'work';
  }
  if (previous.out !== next.out || previous.log !== next.log) return 'output';
  return 'none';
}
