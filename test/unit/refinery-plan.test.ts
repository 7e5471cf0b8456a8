import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  adaptiveBatchSize,
  batchSizeFor,
  bisectionPath,
  CLEARED_RISK,
  earlyLanding,
  estimatedFailureRate,
  nextStep,
  type Observation,
  orderQueue,
  probePrefixes,
  queueFailureRate,
  selectBatch,
  siblingWorthIt,
  simulateBatch,
  speculationDepth,
  type Verdict,
} from '../../src/core/refinery/plan';

describe('queue order', () => {
  test('priority first, then age, then id', () => {
    const items = [
      { id: 1, priority: 2, createdAt: 10 },
      { id: 2, priority: 0, createdAt: 50 },
      { id: 3, priority: 2, createdAt: 5 },
      { id: 4, priority: 2, createdAt: 5 },
      { id: 5, priority: 1, createdAt: 1 },
    ];
    assert.deepEqual(
      orderQueue(items).map((i) => i.id),
      [2, 5, 3, 4, 1],
    );
    assert.deepEqual(
      selectBatch(items, 2).map((i) => i.id),
      [2, 5],
    );
    assert.deepEqual(selectBatch(items, 0), []);
    assert.equal(items[0]!.id, 1, 'input not mutated');
  });
});

describe('adaptive batch size', () => {
  const bounds = { min: 1, max: 16 };
  test('no history: the prior (2 in 20) gives ln2/0.1 ≈ 7', () => {
    assert.equal(estimatedFailureRate([]), 0.1);
    assert.equal(adaptiveBatchSize([], bounds), 7);
  });
  test('healthy history grows to the maximum, failing history shrinks to the minimum', () => {
    assert.equal(adaptiveBatchSize(Array(32).fill(false), bounds), 16);
    assert.equal(adaptiveBatchSize(Array(32).fill(true), bounds), 1);
  });
  test('a few early culprits do not collapse the batch size', () => {
    // 3 culprits among the first 10 verdicts: f = 5/30, b = 4 (with a prior of weight 10 it would be 3).
    assert.equal(adaptiveBatchSize([true, true, true, ...Array(7).fill(false)], bounds), 4);
  });
  test('monotone in the failure count', () => {
    let previous = Number.POSITIVE_INFINITY;
    for (let bad = 0; bad <= 32; bad++) {
      const recent = [...Array(bad).fill(true), ...Array(32 - bad).fill(false)];
      const size = adaptiveBatchSize(recent, bounds);
      assert.ok(size <= previous, `size grew at ${bad} failures`);
      assert.ok(size >= 1 && size <= 16);
      previous = size;
    }
  });
  test('bounds are respected, min > max is clamped to min', () => {
    assert.equal(adaptiveBatchSize([], { min: 10, max: 12 }), 10);
    assert.equal(adaptiveBatchSize(Array(32).fill(false), { min: 1, max: 4 }), 4);
    assert.equal(adaptiveBatchSize([], { min: 3, max: 2 }), 3);
    assert.equal(adaptiveBatchSize([], { min: 0, max: 0 }), 1);
  });
});

describe('nextStep: bisection', () => {
  test('a fresh batch tests the whole batch', () => {
    assert.deepEqual(nextStep(8, []), { kind: 'test', prefix: 8, reason: 'batch' });
  });
  test('all green lands in one run', () => {
    const { step, runs } = simulateBatch(8, []);
    assert.equal(runs.length, 1);
    assert.deepEqual(step, {
      kind: 'decide',
      land: 8,
      culprit: null,
      culpritReason: null,
      requeue: [],
      flaky: false,
    });
  });
  test('exhaustive: one culprit at any position of any batch up to 16 is isolated, prefix lands, rest requeued', () => {
    for (let n = 1; n <= 16; n++) {
      for (let c = 1; c <= n; c++) {
        const { step, runs } = simulateBatch(n, [c]);
        assert.equal(step.culprit, c, `n=${n} c=${c}`);
        assert.equal(step.land, c - 1);
        assert.deepEqual(
          step.requeue,
          Array.from({ length: n - c }, (_, i) => c + 1 + i),
        );
        assert.equal(step.culpritReason, 'gate-failed');
        assert.equal(step.flaky, false);
        // Everything landed passed: the landed prefix has a pass observation (or is empty).
        if (step.land > 0) assert.ok(runs.some((r) => r.prefix === step.land && r.verdict === 'pass'));
        // At least two red runs contain the culprit (retry-once protection).
        assert.ok(runs.filter((r) => r.verdict === 'fail' && r.prefix >= c).length >= 2);
        // Cost: ceil(log2 n) + 2 at most.
        assert.ok(runs.length <= Math.ceil(Math.log2(n)) + 2, `n=${n} c=${c} runs=${runs.length}`);
      }
    }
  });
  test('exhaustive: two culprits — the first is isolated, the second is requeued (found by the next batch)', () => {
    for (let n = 2; n <= 12; n++) {
      for (let a = 1; a <= n; a++) {
        for (let b = a + 1; b <= n; b++) {
          const first = simulateBatch(n, [a, b]);
          assert.equal(first.step.culprit, a);
          assert.equal(first.step.land, a - 1);
          assert.ok(first.step.requeue.includes(b));
          // The next batch: the requeued MRs on the new main; the second culprit is at b - a.
          const rest = first.step.requeue.length;
          const second = simulateBatch(rest, [b - a]);
          assert.equal(second.step.culprit, b - a);
          assert.equal(second.step.land, b - a - 1);
        }
      }
    }
  });
  test('a single MR: red, retried once, red again → rejected; red then green → lands (flake)', () => {
    assert.deepEqual(nextStep(1, [{ prefix: 1, verdict: 'fail' }]), {
      kind: 'test',
      prefix: 1,
      reason: 'retry',
    });
    const rejected = nextStep(1, [
      { prefix: 1, verdict: 'fail' },
      { prefix: 1, verdict: 'fail' },
    ]);
    assert.equal(rejected.kind === 'decide' && rejected.culprit, 1);
    const flake = nextStep(1, [
      { prefix: 1, verdict: 'fail' },
      { prefix: 1, verdict: 'pass' },
    ]);
    assert.deepEqual(flake, {
      kind: 'decide',
      land: 1,
      culprit: null,
      culpritReason: null,
      requeue: [],
      flaky: true,
    });
  });
  test('a flaky batch (first run red, no culprit) lands the whole batch after confirmation', () => {
    for (let n = 1; n <= 9; n++) {
      const { step, runs } = simulateBatch(n, [], { flake: (run) => run === 0 });
      assert.equal(step.land, n);
      assert.equal(step.culprit, null);
      assert.equal(step.flaky, true);
      assert.equal(runs[runs.length - 1]!.verdict, 'pass');
    }
  });
  test("policy 'first' retries the red batch at once, then bisects", () => {
    assert.deepEqual(nextStep(8, [{ prefix: 8, verdict: 'fail' }], 'first'), {
      kind: 'test',
      prefix: 8,
      reason: 'retry',
    });
    const flake = simulateBatch(8, [], { policy: 'first', flake: (run) => run === 0 });
    assert.equal(flake.runs.length, 2);
    assert.equal(flake.step.land, 8);
    for (let c = 1; c <= 8; c++) {
      const { step, runs } = simulateBatch(8, [c], { policy: 'first' });
      assert.equal(step.culprit, c);
      assert.ok(runs.length <= 5);
    }
  });
  test('a flake during bisection does not reject an innocent MR', () => {
    // culprit at 6 of 8; the run at prefix 4 flakes red once.
    const { step } = simulateBatch(8, [6], { flake: (run, prefix) => run === 1 && prefix === 4 });
    // The flaky red at 4 makes 4 look guilty-ish; the planner needs two reds containing the suspect.
    assert.ok(step.culprit === 6 || step.culprit === null || step.land < 6);
    assert.ok(step.land < 6, 'never lands the culprit');
  });
  test('gate-error at the isolating prefix is reported as gate-error', () => {
    const obs: Observation[] = [
      { prefix: 2, verdict: 'error' },
      { prefix: 1, verdict: 'error' },
    ];
    const step = nextStep(2, obs);
    assert.equal(step.kind === 'decide' && step.culpritReason, 'gate-error');
    assert.equal(step.kind === 'decide' && step.culprit, 1);
  });
  test('observations outside the batch are refused; an empty batch decides nothing', () => {
    assert.throws(() => nextStep(4, [{ prefix: 5, verdict: 'pass' }]), RangeError);
    assert.throws(() => nextStep(4, [{ prefix: 0, verdict: 'pass' }]), RangeError);
    assert.deepEqual(nextStep(0, []), {
      kind: 'decide',
      land: 0,
      culprit: null,
      culpritReason: null,
      requeue: [],
      flaky: false,
    });
  });
  test('deterministic: the same observations give the same step (crash-safe recomputation)', () => {
    const obs: Observation[] = [
      { prefix: 8, verdict: 'fail' },
      { prefix: 4, verdict: 'pass' },
    ];
    assert.deepEqual(nextStep(8, obs), nextStep(8, [...obs]));
    assert.deepEqual(nextStep(8, obs), { kind: 'test', prefix: 6, reason: 'bisect' });
  });
  test('bisection path is readable', () => {
    const { step, runs } = simulateBatch(8, [6]);
    assert.equal(bisectionPath(runs, step), '8✗ 4✓ 6✗ 5✓ ⇒ land 5, reject #6, requeue 2');
  });
  test('expected cost at 10% failure with batch 7 stays under 0.6 runs per merged MR (planner only)', () => {
    // Deterministic "random" culprits: every 10th MR of a 320-MR stream.
    const total = 320;
    const broken = new Set(Array.from({ length: total / 10 }, (_, i) => i * 10 + 3));
    let queue = Array.from({ length: total }, (_, i) => i);
    let runs = 0;
    let merged = 0;
    while (queue.length > 0) {
      const batch = queue.slice(0, 7);
      const culprits = batch.map((m, i) => (broken.has(m) ? i + 1 : 0)).filter(Boolean);
      const r = simulateBatch(batch.length, culprits);
      runs += r.runs.length;
      merged += r.step.land;
      const rest = r.step.requeue.map((i) => batch[i - 1]!);
      queue = [...rest, ...queue.slice(batch.length)];
    }
    assert.equal(merged, total - broken.size);
    assert.ok(runs / merged <= 0.6, `runs per merged ${runs / merged}`);
  });
});

/** Runs the parallel planner against known culprits: each round's probes run "at once". */
function simulateRounds(
  n: number,
  culprits: readonly number[],
  parallelism: number,
  flaky?: (run: number) => boolean,
) {
  const obs: Observation[] = [];
  let rounds = 0;
  for (;;) {
    const probes = probePrefixes(n, obs, parallelism);
    if (probes.length === 0) {
      const step = nextStep(n, obs);
      assert.equal(step.kind, 'decide');
      return { step: step as Extract<ReturnType<typeof nextStep>, { kind: 'decide' }>, obs, rounds };
    }
    assert.ok(probes.length <= parallelism, 'never more runs at once than gate slots');
    rounds++;
    assert.ok(rounds < 64, 'converges');
    for (const p of probes) {
      const verdict: Verdict =
        culprits.some((c) => c <= p.prefix) || (flaky?.(obs.length) ?? false) ? 'fail' : 'pass';
      obs.push({ prefix: p.prefix, verdict });
    }
  }
}

describe('speculative parallel gate runs: probePrefixes', () => {
  test('parallelism 1 is exactly the serial planner', () => {
    for (let n = 1; n <= 12; n++) {
      for (let c = 0; c <= n; c++) {
        const serial = simulateBatch(n, c ? [c] : []);
        const parallel = simulateRounds(n, c ? [c] : [], 1);
        assert.deepEqual(parallel.obs, serial.runs, `n=${n} c=${c}`);
        assert.deepEqual(parallel.step, serial.step);
      }
    }
  });
  test('a fresh batch tests the whole batch once; a decided batch tests nothing', () => {
    assert.deepEqual(probePrefixes(8, [], 3), [{ prefix: 8, reason: 'batch' }]);
    assert.deepEqual(probePrefixes(8, [{ prefix: 8, verdict: 'pass' }], 3), []);
  });
  test('a red batch is split n-ary across the slots, then the remaining point is tested', () => {
    assert.deepEqual(
      probePrefixes(8, [{ prefix: 8, verdict: 'fail' }], 3).map((p) => p.prefix),
      [2, 4, 6],
    );
    const obs: Observation[] = [
      { prefix: 8, verdict: 'fail' },
      { prefix: 2, verdict: 'pass' },
      { prefix: 4, verdict: 'fail' },
      { prefix: 6, verdict: 'fail' },
    ];
    assert.deepEqual(probePrefixes(8, obs, 3), [{ prefix: 3, reason: 'bisect' }]);
    // Never more probes than untested points in the open interval.
    assert.deepEqual(
      probePrefixes(3, [{ prefix: 3, verdict: 'fail' }], 8).map((p) => p.prefix),
      [1, 2],
    );
  });
  test('exhaustive: one culprit, parallelism 2..4 — same decision as serial, fewer or equal rounds, at most one extra run per round saved', () => {
    for (const slots of [2, 3, 4]) {
      for (let n = 1; n <= 16; n++) {
        for (let c = 1; c <= n; c++) {
          const serial = simulateBatch(n, [c]);
          const par = simulateRounds(n, [c], slots);
          assert.deepEqual(par.step, serial.step, `slots=${slots} n=${n} c=${c}`);
          assert.ok(par.rounds <= serial.runs.length, `rounds slots=${slots} n=${n} c=${c}`);
          // The landed prefix passed the gate itself; two red runs contain the culprit.
          if (par.step.land > 0)
            assert.ok(par.obs.some((o) => o.prefix === par.step.land && o.verdict === 'pass'));
          assert.ok(par.obs.filter((o) => o.verdict === 'fail' && o.prefix >= c).length >= 2);
          assert.ok(par.obs.length <= serial.runs.length + slots * (serial.runs.length - par.rounds + 1));
        }
      }
    }
  });
  test('exhaustive: two culprits — the first is isolated, nothing after it lands', () => {
    for (let n = 2; n <= 10; n++) {
      for (let a = 1; a <= n; a++) {
        for (let b = a + 1; b <= n; b++) {
          const par = simulateRounds(n, [a, b], 3);
          assert.equal(par.step.culprit, a);
          assert.equal(par.step.land, a - 1);
        }
      }
    }
  });
  test('a flake during a parallel bisection never lands the culprit', () => {
    for (let c = 1; c <= 8; c++) {
      for (let flakeAt = 0; flakeAt < 5; flakeAt++) {
        const par = simulateRounds(8, [c], 3, (run) => run === flakeAt);
        assert.ok(par.step.land < c, `c=${c} flake at run ${flakeAt}`);
      }
    }
  });
});

describe('speculative parallel gate runs: speculationDepth', () => {
  test('parallelism 1: never speculate', () => {
    assert.equal(speculationDepth(1, 0, 8), 1);
  });
  test('healthy branches: stack up to the slots; failing branches: no speculation', () => {
    assert.equal(speculationDepth(3, 0, 8), 3);
    assert.equal(speculationDepth(3, 0.01, 8), 3);
    assert.equal(speculationDepth(3, 0.3, 2), 1);
    assert.equal(speculationDepth(3, 1, 1), 1);
  });
  test('stacks batch j+1 only while (1-f)^(MRs beneath) >= the threshold', () => {
    // f = 0.05, b = 8: 0.95^8 = 0.66 (stack a second), 0.95^16 = 0.44 (not a third).
    assert.equal(speculationDepth(3, 0.05, 8), 2);
    assert.equal(speculationDepth(3, 0.05, 8, 0.4), 3);
  });
  test('monotone: more failures never mean more speculation', () => {
    let previous = Number.POSITIVE_INFINITY;
    for (let f = 0; f <= 1; f += 0.01) {
      const d = speculationDepth(4, f, 6);
      assert.ok(d <= previous && d >= 1 && d <= 4);
      previous = d;
    }
  });
});

describe("early landing of a red batch's green prefix: earlyLanding", () => {
  const obs = (...list: Array<[number, Verdict]>): Observation[] =>
    list.map(([prefix, verdict]) => ({ prefix, verdict }));

  test('nothing passed yet, or the batch is decided: nothing lands early', () => {
    assert.equal(earlyLanding(8, []), null);
    assert.equal(earlyLanding(8, obs([8, 'fail'])), null);
    assert.equal(earlyLanding(8, obs([8, 'pass'])), null, 'a green batch is decided: it lands whole');
    // 8✗ 4✓ 5✗ 5✗: decided (land 4, reject #5): the decision itself lands, not an early landing.
    assert.equal(earlyLanding(8, obs([8, 'fail'], [4, 'pass'], [5, 'fail'], [6, 'fail'])), null);
  });

  test('the longest green prefix lands; the red verdicts above it carry over, shifted', () => {
    const step = earlyLanding(8, obs([8, 'fail'], [4, 'pass'], [2, 'pass'], [6, 'fail']));
    assert.ok(step);
    assert.equal(step.land, 4);
    assert.equal(step.culprit, null);
    assert.deepEqual(step.requeue, []);
    assert.deepEqual(step.carried, obs([4, 'fail'], [2, 'fail']));
    assert.equal(step.flaky, false);
  });

  test('the continued batch bisects from the carried verdicts to the same culprit', () => {
    // Culprit at position 7 of 8: 8✗ 4✓ ⇒ land 4 early; the rest [5..8] carries 4✗.
    const first = earlyLanding(8, obs([8, 'fail'], [4, 'pass']))!;
    assert.deepEqual(first.carried, obs([4, 'fail']));
    // Its planner goes on without re-running the whole batch: probe 2 (= the parent's prefix 6).
    assert.deepEqual(nextStep(4, first.carried!), { kind: 'test', prefix: 2, reason: 'bisect' });
    const second = earlyLanding(4, [...first.carried!, { prefix: 2, verdict: 'pass' }])!;
    assert.equal(second.land, 2);
    assert.deepEqual(second.carried, obs([2, 'fail']));
    // [7, 8] with 2✗: 1✗ isolates #1 (the parent's #7), confirmed by the carried red run.
    const decided = nextStep(2, [...second.carried!, { prefix: 1, verdict: 'fail' }]);
    assert.deepEqual(decided, {
      kind: 'decide',
      land: 0,
      culprit: 1,
      culpritReason: 'gate-failed',
      requeue: [2],
      flaky: false,
    });
  });

  test('a red run at or below the landed prefix did not reproduce: a flake, noted', () => {
    const step = earlyLanding(8, obs([8, 'fail'], [3, 'fail'], [3, 'pass'], [5, 'fail']))!;
    assert.equal(step.land, 3);
    assert.equal(step.flaky, true);
    assert.deepEqual(step.carried, obs([5, 'fail'], [2, 'fail']));
  });

  test('the path says the rest continues', () => {
    const step = earlyLanding(8, obs([8, 'fail'], [4, 'pass']))!;
    assert.equal(
      bisectionPath(obs([8, 'fail'], [4, 'pass']), step),
      '8✗ 4✓ ⇒ land 4, the rest continues on it',
    );
  });
});

describe('a sibling batch beside the head: siblingWorthIt', () => {
  test('only when the head is likely red and branches do not fail wholesale', () => {
    // f = 0.1, b = 7: the head is red with p = 0.52.
    assert.equal(siblingWorthIt(0.1, 6), false, 'b = 6: red with p = 0.47');
    assert.equal(siblingWorthIt(0.1, 7), true);
    // Healthy: f = 0.02, b = 8: red with p = 0.15; stacking is the better bet.
    assert.equal(siblingWorthIt(0.02, 8), false);
    // Small batches: f = 0.1, b = 2: red with p = 0.19.
    assert.equal(siblingWorthIt(0.1, 2), false);
    // Failing wholesale: f = 0.3.
    assert.equal(siblingWorthIt(0.3, 2), false);
    assert.equal(siblingWorthIt(0.3, 8), false);
  });
  test('never where speculation stacks (a stacked batch needs the head green with p >= 0.65)', () => {
    for (let f = 0; f <= 0.2; f += 0.005) {
      for (let b = 1; b <= 16; b++) {
        if (speculationDepth(2, f, b) > 1) assert.equal(siblingWorthIt(f, b), false, `f=${f} b=${b}`);
      }
    }
  });
});

describe('the risk of the MRs next in line: queueFailureRate', () => {
  test('MRs that already passed inside a candidate count CLEARED_RISK of the rate', () => {
    assert.equal(queueFailureRate(0.2, []), 0.2);
    assert.equal(queueFailureRate(0.2, [false, false]), 0.2);
    assert.equal(queueFailureRate(0.2, [true, true]), 0.2 * CLEARED_RISK);
    assert.ok(Math.abs(queueFailureRate(0.2, [true, false]) - (0.2 * (1 + CLEARED_RISK)) / 2) < 1e-12);
  });
  test('a queue of retested innocents is batched bigger than fresh work at the same rig rate', () => {
    const bounds = { min: 1, max: 8 };
    const fresh = batchSizeFor(queueFailureRate(0.2, Array(8).fill(false)), bounds);
    const retests = batchSizeFor(queueFailureRate(0.2, Array(8).fill(true)), bounds);
    assert.deepEqual([fresh, retests], [3, 7]);
  });
  test('batchSizeFor is adaptiveBatchSize for the estimated rate, and survives a zero rate', () => {
    assert.equal(batchSizeFor(0.1, { min: 1, max: 16 }), adaptiveBatchSize([], { min: 1, max: 16 }));
    assert.equal(batchSizeFor(0, { min: 1, max: 16 }), 16);
  });
});
