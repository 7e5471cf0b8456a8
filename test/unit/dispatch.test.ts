import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type BudgetVerdict,
  type ConvoyCandidate,
  type DispatchInput,
  orderConvoy,
  orderQueued,
  planDispatch,
  planWithBudget,
  type QueuedCandidate,
  retryDelayMs,
  targetRig,
} from '../../src/core/dispatch';

const NOW = 1_000_000;

function q(id: number, bead: string, over: Partial<QueuedCandidate> = {}): QueuedCandidate {
  return {
    id,
    bead,
    priority: 2,
    queuedAt: id * 10,
    target: 'app',
    rig: 'app',
    agent: null,
    usesSlot: true,
    notBefore: 0,
    ...over,
  };
}

function c(bead: string, over: Partial<ConvoyCandidate> = {}): ConvoyCandidate {
  return { bead, priority: 2, createdAt: 100, rig: 'app', ...over };
}

function input(over: Partial<DispatchInput> = {}): DispatchInput {
  return {
    now: NOW,
    paused: false,
    feedConvoys: true,
    townCap: 10,
    townBusy: 0,
    rigs: { app: { cap: null, parked: false, busy: 0 }, web: { cap: null, parked: false, busy: 0 } },
    queued: [],
    convoy: [],
    occupiedAgents: new Set(),
    budget: new Map(),
    ...over,
  };
}

const beads = (plan: ReturnType<typeof planDispatch>) => plan.dispatch.map((d) => d.bead);

describe('order', () => {
  test('queued: priority first, then queue age, then id', () => {
    const items = [
      q(1, 'a', { priority: 2, queuedAt: 50 }),
      q(2, 'b', { priority: 0, queuedAt: 90 }),
      q(3, 'c', { priority: 2, queuedAt: 10 }),
      q(4, 'd', { priority: 2, queuedAt: 10 }),
      q(5, 'e', { priority: 1, queuedAt: 99 }),
    ];
    assert.deepEqual(
      orderQueued(items).map((i) => i.bead),
      ['b', 'e', 'c', 'd', 'a'],
    );
  });

  test('convoy: priority first, then bead age, then id', () => {
    const items = [
      c('x3', { priority: 1, createdAt: 5 }),
      c('x1', { priority: 3, createdAt: 1 }),
      c('x2', { priority: 1, createdAt: 5 }),
      c('x0', { priority: 1, createdAt: 2 }),
    ];
    assert.deepEqual(
      orderConvoy(items).map((i) => i.bead),
      ['x0', 'x2', 'x3', 'x1'],
    );
  });
});

describe('planDispatch', () => {
  test('queued slings go before convoy beads, even a convoy bead of higher priority', () => {
    const plan = planDispatch(
      input({
        queued: [q(1, 'q-low', { priority: 4 })],
        convoy: [c('c-urgent', { priority: 0 })],
      }),
    );
    assert.deepEqual(beads(plan), ['q-low', 'c-urgent']);
    assert.equal(plan.dispatch[0]!.source, 'queue');
    assert.equal(plan.dispatch[0]!.queueId, 1);
    assert.equal(plan.dispatch[1]!.source, 'convoy');
    assert.equal(plan.dispatch[1]!.queueId, null);
    assert.equal(plan.dispatch[1]!.target, 'app');
  });

  test('never beyond the town cap, counting what is already busy', () => {
    const plan = planDispatch(
      input({
        townCap: 2,
        townBusy: 1,
        rigs: { app: { cap: null, parked: false, busy: 1 } },
        queued: [q(1, 'a'), q(2, 'b'), q(3, 'c')],
        convoy: [c('d')],
      }),
    );
    assert.deepEqual(beads(plan), ['a']);
    assert.deepEqual(
      plan.waiting.map((w) => [w.bead, w.why]),
      [
        ['b', 'town-cap'],
        ['c', 'town-cap'],
        ['d', 'town-cap'],
      ],
    );
  });

  test('a full town dispatches nothing; busy over the cap (cap lowered) too', () => {
    assert.deepEqual(beads(planDispatch(input({ townCap: 2, townBusy: 2, queued: [q(1, 'a')] }))), []);
    assert.deepEqual(beads(planDispatch(input({ townCap: 2, townBusy: 5, convoy: [c('a')] }))), []);
  });

  test('the per-rig cap holds one rig back without holding up another', () => {
    const plan = planDispatch(
      input({
        townCap: 10,
        townBusy: 1,
        rigs: { app: { cap: 2, parked: false, busy: 1 }, web: { cap: null, parked: false, busy: 0 } },
        queued: [q(1, 'a1'), q(2, 'a2'), q(3, 'w1', { target: 'web', rig: 'web' })],
        convoy: [c('a3'), c('w2', { rig: 'web' })],
      }),
    );
    assert.deepEqual(beads(plan), ['a1', 'w1', 'w2']);
    assert.deepEqual(
      plan.waiting.map((w) => [w.bead, w.why]),
      [
        ['a2', 'rig-cap'],
        ['a3', 'rig-cap'],
      ],
    );
  });

  test('exhaustive small cases: the busy count after the plan never exceeds either cap', () => {
    for (let townCap = 1; townCap <= 4; townCap++) {
      for (let rigCap = 0; rigCap <= 3; rigCap++) {
        for (let busyApp = 0; busyApp <= 3; busyApp++) {
          for (let busyWeb = 0; busyWeb <= 2; busyWeb++) {
            const cap = rigCap === 0 ? null : rigCap;
            const plan = planDispatch(
              input({
                townCap,
                townBusy: busyApp + busyWeb,
                rigs: {
                  app: { cap, parked: false, busy: busyApp },
                  web: { cap, parked: false, busy: busyWeb },
                },
                queued: [q(1, 'q1'), q(2, 'q2', { target: 'web', rig: 'web' }), q(3, 'q3')],
                convoy: [c('c1'), c('c2', { rig: 'web' }), c('c3'), c('c4', { rig: 'web' })],
              }),
            );
            const added = { app: 0, web: 0 };
            for (const d of plan.dispatch) added[d.rig as 'app' | 'web']++;
            const total = busyApp + busyWeb + plan.dispatch.length;
            if (plan.dispatch.length > 0) assert.ok(total <= townCap, `town ${total} > ${townCap}`);
            if (cap !== null) {
              if (added.app > 0) assert.ok(busyApp + added.app <= cap);
              if (added.web > 0) assert.ok(busyWeb + added.web <= cap);
            }
            // Work conserving: if something waits for the town cap, the town is full.
            if (plan.waiting.some((w) => w.why === 'town-cap')) assert.equal(total >= townCap, true);
            // Every candidate is either dispatched or waiting, exactly once.
            assert.equal(plan.dispatch.length + plan.waiting.length, 7);
          }
        }
      }
    }
  });

  test('a paused town gets nothing', () => {
    const plan = planDispatch(input({ paused: true, queued: [q(1, 'a')], convoy: [c('b')] }));
    assert.deepEqual(beads(plan), []);
    assert.deepEqual(
      plan.waiting.map((w) => w.why),
      ['paused', 'paused'],
    );
  });

  test('a parked rig gets nothing; others still do', () => {
    const plan = planDispatch(
      input({
        rigs: { app: { cap: null, parked: true, busy: 0 }, web: { cap: null, parked: false, busy: 0 } },
        queued: [q(1, 'a'), q(2, 'w', { target: 'web', rig: 'web' })],
        convoy: [c('a2'), c('w2', { rig: 'web' })],
      }),
    );
    assert.deepEqual(beads(plan), ['w', 'w2']);
    assert.deepEqual(
      plan.waiting.map((w) => [w.bead, w.why]),
      [
        ['a', 'parked'],
        ['a2', 'parked'],
      ],
    );
  });

  test('feed_convoys off: convoy beads are ignored, queued slings still go', () => {
    const plan = planDispatch(input({ feedConvoys: false, queued: [q(1, 'a')], convoy: [c('b')] }));
    assert.deepEqual(beads(plan), ['a']);
    assert.deepEqual(plan.waiting, []);
  });

  test('a convoy bead that is also queued goes once, as the queued sling; duplicates collapse', () => {
    const plan = planDispatch(
      input({
        queued: [q(1, 'a', { target: 'app/nux', agent: 'app/nux' })],
        convoy: [c('a'), c('b'), c('b')],
      }),
    );
    assert.deepEqual(beads(plan), ['a', 'b']);
    assert.equal(plan.dispatch[0]!.target, 'app/nux');
  });

  test('crew and Mayor targets take no polecat slot', () => {
    const plan = planDispatch(
      input({
        townCap: 1,
        townBusy: 1,
        rigs: { app: { cap: 1, parked: false, busy: 1 } },
        queued: [
          q(1, 'p'),
          q(2, 'crew', { target: 'app/crew/alice', agent: 'app/alice', usesSlot: false }),
          q(3, 'may', { target: 'mayor', rig: null, agent: 'mayor', usesSlot: false }),
        ],
      }),
    );
    assert.deepEqual(beads(plan), ['crew', 'may']);
    assert.deepEqual(
      plan.waiting.map((w) => [w.bead, w.why]),
      [['p', 'town-cap']],
    );
  });

  test('a named agent that holds other work waits; one agent gets one bead per plan', () => {
    const plan = planDispatch(
      input({
        occupiedAgents: new Set(['app/nux']),
        queued: [
          q(1, 'a', { target: 'app/nux', agent: 'app/nux' }),
          q(2, 'b', { target: 'app/slit', agent: 'app/slit' }),
          q(3, 'c', { target: 'app/slit', agent: 'app/slit' }),
        ],
      }),
    );
    assert.deepEqual(beads(plan), ['b']);
    assert.deepEqual(
      plan.waiting.map((w) => [w.bead, w.why]),
      [
        ['a', 'agent-busy'],
        ['c', 'agent-busy'],
      ],
    );
  });

  test('a failed dispatch waits out its backoff and takes no slot meanwhile', () => {
    const plan = planDispatch(
      input({
        townCap: 1,
        queued: [q(1, 'a', { notBefore: NOW + 1 }), q(2, 'b', { notBefore: NOW })],
        convoy: [c('c')],
      }),
    );
    assert.deepEqual(beads(plan), ['b']);
    assert.deepEqual(
      plan.waiting.map((w) => [w.bead, w.why]),
      [
        ['a', 'backoff'],
        ['c', 'town-cap'],
      ],
    );
  });

  test('a budget refusal is reported, takes no slot, and the next candidate gets it', () => {
    const budget = new Map<string, BudgetVerdict>([['a', { allowed: false, reason: 'daily budget spent' }]]);
    const plan = planDispatch(input({ townCap: 1, queued: [q(1, 'a')], convoy: [c('b')], budget }));
    assert.deepEqual(beads(plan), ['b']);
    assert.deepEqual(plan.refused, [{ bead: 'a', reason: 'daily budget spent' }]);
  });

  test('an unknown rig (removed since) is still attempted, so the failure is recorded', () => {
    const plan = planDispatch(input({ queued: [q(1, 'a', { target: 'gone', rig: 'gone' })] }));
    assert.deepEqual(beads(plan), ['a']);
  });
});

describe('planWithBudget', () => {
  test('asks the budget only about candidates that would be dispatched, once each', () => {
    const asked: string[] = [];
    const plan = planWithBudget(
      { ...input({ townCap: 2, queued: [q(1, 'a'), q(2, 'b')], convoy: [c('c'), c('d'), c('e')] }) },
      (d) => {
        asked.push(d.bead);
        return d.bead === 'a' || d.bead === 'c'
          ? { allowed: false, reason: `no money for ${d.bead}` }
          : { allowed: true };
      },
    );
    assert.deepEqual(beads(plan), ['b', 'd']);
    assert.deepEqual(asked, ['a', 'b', 'c', 'd']);
    assert.deepEqual(
      plan.refused.map((r) => r.bead),
      ['a', 'c'],
    );
  });

  test('everything refused: nothing dispatched, the loop ends', () => {
    const plan = planWithBudget(input({ queued: [q(1, 'a')], convoy: [c('b')] }), () => ({
      allowed: false,
      reason: 'no',
    }));
    assert.deepEqual(beads(plan), []);
    assert.equal(plan.refused.length, 2);
  });

  test('paused: the budget is not asked', () => {
    let asked = 0;
    planWithBudget(input({ paused: true, queued: [q(1, 'a')] }), () => {
      asked++;
      return { allowed: true };
    });
    assert.equal(asked, 0);
  });
});

describe('helpers', () => {
  test('retry delay doubles from 5 s and is capped at 5 minutes', () => {
    assert.equal(retryDelayMs(0), 0);
    assert.equal(retryDelayMs(1), 5000);
    assert.equal(retryDelayMs(2), 10_000);
    assert.equal(retryDelayMs(4), 40_000);
    assert.equal(retryDelayMs(7), 300_000);
    assert.equal(retryDelayMs(1000), 300_000);
  });

  test('target rig', () => {
    assert.equal(targetRig('app'), 'app');
    assert.equal(targetRig('app/nux'), 'app');
    assert.equal(targetRig('app/crew/alice'), 'app');
    assert.equal(targetRig('mayor'), null);
  });
});
