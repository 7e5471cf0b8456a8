import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compareMarks,
  decodeMark,
  encodeMark,
  healthOfState,
  isStallAction,
  judgePolecat,
  mergeMark,
  type PolecatFacts,
  type ProgressMark,
  type Verdict,
  type WitnessPolicy,
} from '../../src/core/health';

/** The Witness's pure judgement: every branch of the classification and the recovery ladder. */
const S = 1000;
const NOW = 1_000_000_000;
const policy: WitnessPolicy = {
  stallAfterMs: 300 * S,
  nudgeGraceMs: 120 * S,
  maxRestarts: 3,
  maxRework: 3,
  echoSettleMs: 2 * S,
  startingGraceMs: 120 * S,
};

/** A healthy working polecat, seen before, with no news since its last progress 10 s ago. */
function facts(over: Partial<PolecatFacts> = {}): PolecatFacts {
  return {
    state: 'working',
    hookedBead: 'app-1',
    beadStatus: 'hooked',
    session: true,
    process: true,
    change: 'none',
    progressAt: NOW - 10 * S,
    nudgedAt: null,
    hookRestarts: 0,
    escalatedAt: null,
    updatedAt: NOW - 60 * S,
    openMr: false,
    returned: false,
    followupPending: false,
    rework: 0,
    leftovers: false,
    paused: false,
    ...over,
  };
}

function judge(over: Partial<PolecatFacts>, p: Partial<WitnessPolicy> = {}): Verdict {
  return judgePolecat(facts(over), { ...policy, ...p }, NOW);
}

function expect(
  over: Partial<PolecatFacts>,
  health: Verdict['health'],
  action: Verdict['action'],
  p: Partial<WitnessPolicy> = {},
) {
  const v = judge(over, p);
  assert.deepEqual([v.health, v.action], [health, action], `${JSON.stringify(over)} → ${v.reason}`);
  assert.ok(v.reason.length > 0);
  return v;
}

describe('health: left alone', () => {
  test('a stopped polecat is never touched, whatever the evidence says', () => {
    expect({ state: 'stopped', session: false, process: false }, 'idle', 'none');
    expect({ state: 'stopped', progressAt: NOW - 3600 * S }, 'idle', 'none');
    expect({ state: 'stopped', hookedBead: null, leftovers: true }, 'idle', 'none');
  });

  test('in a paused town nothing is done, not even to a dead session', () => {
    expect({ paused: true, session: false, process: false }, 'working', 'none');
    expect({ paused: true, state: 'stalled', nudgedAt: NOW - 3600 * S }, 'stalled', 'none');
    expect({ paused: true, state: 'idle', hookedBead: null, leftovers: true }, 'idle', 'none');
    expect({ paused: true, state: 'done', returned: true }, 'done', 'none');
  });
});

describe('health: nothing hooked', () => {
  test('idle with nothing left over: nothing to do', () => {
    expect({ state: 'idle', hookedBead: null, beadStatus: null }, 'idle', 'none');
  });
  test('idle with a leftover checkout or session: cleanup', () => {
    expect({ state: 'idle', hookedBead: null, beadStatus: null, leftovers: true }, 'idle', 'cleanup');
  });
  test('not idle (e.g. its bead was moved away with --force while it worked): left alone', () => {
    expect(
      { state: 'working', hookedBead: null, beadStatus: null, leftovers: true, session: false },
      'idle',
      'none',
    );
    expect({ state: 'done', hookedBead: null, beadStatus: null, leftovers: true }, 'done', 'none');
  });
});

describe('health: the bead closed', () => {
  test('done or idle holding a closed (merged) bead: cleanup releases it', () => {
    expect({ state: 'done', beadStatus: 'closed', session: false }, 'done', 'cleanup');
    expect({ state: 'idle', beadStatus: 'closed' }, 'done', 'cleanup');
    expect({ state: 'done', beadStatus: null }, 'done', 'cleanup');
  });
  test('…but not while the Refinery still owes its merge follow-up', () => {
    expect({ state: 'done', beadStatus: 'closed', followupPending: true }, 'done', 'none');
  });
  test('a live session whose bead closed under it is not recovered', () => {
    expect({ state: 'working', beadStatus: 'closed', session: false, process: false }, 'done', 'none');
  });
});

describe('health: submitted (done)', () => {
  test('in review: nothing to do', () => {
    expect({ state: 'done', beadStatus: 'in_review', openMr: true, session: false }, 'done', 'none');
    expect({ state: 'done', beadStatus: 'in_review', session: false }, 'done', 'none');
  });
  test('returned by the Refinery, under the rework cap: restarted for rework', () => {
    expect(
      { state: 'done', beadStatus: 'hooked', returned: true, rework: 1, session: false },
      'done',
      'rework-restart',
    );
    expect({ state: 'done', beadStatus: 'in_progress', returned: true, rework: 2 }, 'done', 'rework-restart');
  });
  test('at the rework cap: left to the escalation the Refinery raised', () => {
    expect({ state: 'done', beadStatus: 'hooked', returned: true, rework: 3 }, 'done', 'none');
    expect({ state: 'done', beadStatus: 'hooked', returned: true, rework: 1 }, 'done', 'none', {
      maxRework: 1,
    });
  });
  test('a newer MR already open, or not returned (cancelled, superseded): no rework', () => {
    expect({ state: 'done', beadStatus: 'hooked', returned: true, openMr: true, rework: 1 }, 'done', 'none');
    expect({ state: 'done', beadStatus: 'hooked', returned: false, rework: 0 }, 'done', 'none');
  });
});

describe('health: unknown states', () => {
  test('a hooked polecat in a state the Witness does not own is left alone', () => {
    expect({ state: 'idle', session: false, process: false }, 'idle', 'none');
  });
});

describe('health: zombies', () => {
  test('session gone while work is hooked: restart at once', () => {
    const v = expect({ session: false, process: false }, 'zombie', 'restart');
    assert.match(v.reason, /session is gone.*restart 1 of 3/);
  });
  test('session there but the agent process gone: restart', () => {
    const v = expect({ process: false }, 'zombie', 'restart');
    assert.match(v.reason, /process is gone/);
  });
  test('in every live state: starting (past its grace), working, stalled, zombie', () => {
    expect(
      { state: 'starting', session: false, process: false, updatedAt: NOW - 121 * S },
      'zombie',
      'restart',
    );
    expect({ state: 'stalled', nudgedAt: NOW - 5 * S, process: false }, 'zombie', 'restart');
    expect({ state: 'zombie', session: false, process: false, hookRestarts: 2 }, 'zombie', 'restart');
  });
  test('a polecat being slung has no session yet: not a zombie during the grace', () => {
    expect({ state: 'starting', session: false, process: false, updatedAt: NOW - 5 * S }, 'working', 'none');
  });
  test('restarts count toward max_restarts: beyond it, escalate once, then nothing', () => {
    expect({ process: false, hookRestarts: 2 }, 'zombie', 'restart');
    expect({ process: false, hookRestarts: 3 }, 'zombie', 'escalate');
    expect({ process: false, hookRestarts: 3, escalatedAt: NOW - S }, 'zombie', 'none');
    expect({ process: false, hookRestarts: 0 }, 'zombie', 'escalate', { maxRestarts: 0 });
  });
  test('a dead process is a zombie even if its last evidence was progress', () => {
    expect({ process: false, change: 'work' }, 'zombie', 'restart');
  });
});

describe('health: progress', () => {
  test('first look at a session: remember the evidence', () => {
    expect({ change: 'first', progressAt: null }, 'working', 'rebaseline');
    expect({ change: 'first', state: 'stalled' }, 'stalled', 'rebaseline');
  });
  test('new work evidence is progress, even long after a nudge, and even with restarts used up', () => {
    expect({ change: 'work' }, 'working', 'record-progress');
    expect(
      { change: 'work', state: 'stalled', nudgedAt: NOW - 119 * S, progressAt: NOW - 900 * S },
      'working',
      'record-progress',
    );
    expect(
      { change: 'work', state: 'stalled', hookRestarts: 3, escalatedAt: NOW - S },
      'working',
      'record-progress',
    );
  });
  test('new output is progress…', () => {
    expect({ change: 'output' }, 'working', 'record-progress');
    expect({ change: 'output', state: 'stalled', nudgedAt: NOW - 10 * S }, 'working', 'record-progress');
  });
  test('…except right after our own nudge (its echo in the pane)', () => {
    expect({ change: 'output', state: 'stalled', nudgedAt: NOW - S }, 'stalled', 'rebaseline');
  });
  test('a worker showing progress is never nudged or restarted, however long it has run', () => {
    for (const change of ['work', 'output'] as const) {
      const v = judge({
        change,
        progressAt: NOW - 10 * 3600 * S,
        nudgedAt: NOW - 3600 * S,
        state: 'stalled',
      });
      assert.equal(v.action, 'record-progress');
    }
  });
});

describe('health: the stall ladder', () => {
  test('quiet for less than stall_after: working', () => {
    expect({ progressAt: NOW - 299 * S }, 'working', 'none');
  });
  test('quiet for stall_after: stalled, nudge', () => {
    const v = expect({ progressAt: NOW - 300 * S }, 'stalled', 'nudge');
    assert.match(v.reason, /no progress for 5m/);
  });
  test('nudged, within nudge_grace: wait', () => {
    expect({ state: 'stalled', progressAt: NOW - 400 * S, nudgedAt: NOW - 119 * S }, 'stalled', 'none');
  });
  test('nudged, no progress within nudge_grace: restart (the nudge is not repeated)', () => {
    const v = expect(
      { state: 'stalled', progressAt: NOW - 500 * S, nudgedAt: NOW - 120 * S },
      'stalled',
      'restart',
    );
    assert.match(v.reason, /restart 1 of 3/);
    expect(
      { state: 'stalled', progressAt: NOW - 500 * S, nudgedAt: NOW - 120 * S, hookRestarts: 2 },
      'stalled',
      'restart',
    );
  });
  test('after max_restarts restarts: the next stall is nudged, then escalated once, never restarted', () => {
    expect({ progressAt: NOW - 300 * S, hookRestarts: 3 }, 'stalled', 'nudge');
    const v = expect(
      { state: 'stalled', progressAt: NOW - 500 * S, nudgedAt: NOW - 120 * S, hookRestarts: 3 },
      'stalled',
      'escalate',
    );
    assert.match(v.reason, /after 3 restart/);
    expect(
      {
        state: 'stalled',
        progressAt: NOW - 5000 * S,
        nudgedAt: NOW - 4000 * S,
        hookRestarts: 3,
        escalatedAt: NOW - 3000 * S,
      },
      'stalled',
      'none',
    );
  });
  test('escalated and stalled again after some progress: no more nudges', () => {
    expect({ progressAt: NOW - 300 * S, hookRestarts: 3, escalatedAt: NOW - 3000 * S }, 'stalled', 'none');
  });
  test('no recorded progress time: the clock starts now', () => {
    expect({ progressAt: null }, 'working', 'none');
  });
  test('stall actions are the ones confirmed with fresh evidence first', () => {
    assert.equal(isStallAction(judge({ progressAt: NOW - 300 * S })), true);
    assert.equal(
      isStallAction(judge({ state: 'stalled', nudgedAt: NOW - 120 * S, progressAt: NOW - 500 * S })),
      true,
    );
    assert.equal(isStallAction(judge({ process: false })), false);
    assert.equal(isStallAction(judge({ change: 'work' })), false);
  });
});

describe('health: state names', () => {
  test('healthOfState', () => {
    assert.deepEqual(
      ['starting', 'working', 'stalled', 'zombie', 'done', 'idle', 'stopped'].map(healthOfState),
      ['working', 'working', 'stalled', 'zombie', 'done', 'idle', 'idle'],
    );
  });
});

describe('health: the progress mark', () => {
  const base: ProgressMark = { head: 'a'.repeat(40), tree: 't1', usage: 10, activity: 5, out: 100, log: 50 };

  test('encode/decode round-trips; junk decodes to null', () => {
    assert.deepEqual(decodeMark(encodeMark(base)), base);
    assert.equal(decodeMark(null), null);
    assert.equal(decodeMark('not json'), null);
    assert.equal(decodeMark('null'), null);
    assert.deepEqual(decodeMark('{"out":3}'), {
      head: null,
      tree: null,
      usage: 0,
      activity: null,
      out: 3,
      log: 0,
    });
  });

  test('no previous mark: first', () => {
    assert.equal(compareMarks(null, base), 'first');
  });

  test('head, worktree, usage and tool activity are work; session and sim logs are output', () => {
    assert.equal(compareMarks(base, { ...base }), 'none');
    assert.equal(compareMarks(base, { ...base, head: 'b'.repeat(40) }), 'work');
    assert.equal(compareMarks(base, { ...base, tree: 't2' }), 'work');
    assert.equal(compareMarks(base, { ...base, usage: 11 }), 'work');
    assert.equal(compareMarks(base, { ...base, activity: 6 }), 'work');
    assert.equal(compareMarks(base, { ...base, out: 101 }), 'output');
    assert.equal(compareMarks(base, { ...base, log: 51 }), 'output');
    assert.equal(compareMarks(base, { ...base, out: 0 }), 'output', 'a shrunk log (rotated) is a change too');
    assert.equal(compareMarks(base, { ...base, out: 101, head: 'c'.repeat(40) }), 'work');
  });

  test('an unsampled or first-sampled worktree is no change', () => {
    assert.equal(compareMarks(base, { ...base, tree: null }), 'none');
    assert.equal(compareMarks({ ...base, tree: null }, { ...base, tree: 'x' }), 'none');
    assert.equal(compareMarks(base, { ...base, activity: null }), 'none');
  });

  test('mergeMark carries the recorded worktree hash over when it was not sampled', () => {
    assert.equal(mergeMark(base, { ...base, tree: null, out: 200 }).tree, 't1');
    assert.equal(mergeMark(base, { ...base, tree: 't9' }).tree, 't9');
    assert.equal(mergeMark(null, { ...base, tree: null }).tree, null);
  });
});
