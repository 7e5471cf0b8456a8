import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { afterFailure, type BreakerPolicy, DEFAULT_BREAKER, recentFailures } from '../../src/core/backoff';

const policy: BreakerPolicy = {
  baseMs: 1000,
  maxMs: 8000,
  windowMs: 60_000,
  tripAfter: 5,
  cooldownMs: 300_000,
};

describe('crash-loop breaker', () => {
  test('backoff doubles from the base per recent failure, capped at maxMs', () => {
    const now = 100_000;
    const delays = [1, 2, 3, 4].map((n) => {
      const failures = Array.from({ length: n }, (_, i) => now - i * 100);
      return afterFailure(failures, now, policy);
    });
    assert.deepEqual(
      delays.map((d) => [d.state, d.delayMs, d.recent]),
      [
        ['backoff', 1000, 1],
        ['backoff', 2000, 2],
        ['backoff', 4000, 3],
        ['backoff', 8000, 4],
      ],
    );
    const capped = afterFailure([now, now - 1, now - 2, now - 3], now, { ...policy, maxMs: 3000 });
    assert.equal(capped.delayMs, 3000);
  });

  test('tripAfter failures inside the window trip it: broken, retried after the cooldown', () => {
    const now = 100_000;
    const failures = [now - 50_000, now - 40_000, now - 30_000, now - 20_000, now];
    assert.deepEqual(afterFailure(failures, now, policy), { state: 'broken', delayMs: 300_000, recent: 5 });
  });

  test('failures older than the window are forgotten', () => {
    const now = 1_000_000;
    const failures = [now - 200_000, now - 120_000, now - 61_000, now - 60_000, now - 1];
    assert.deepEqual(recentFailures(failures, now, policy), [now - 1]);
    assert.deepEqual(afterFailure(failures, now, policy), { state: 'backoff', delayMs: 1000, recent: 1 });
  });

  test('recentFailures sorts oldest first; no failures means the base delay', () => {
    assert.deepEqual(recentFailures([30, 10, 20], 40, policy), [10, 20, 30]);
    assert.deepEqual(afterFailure([], 0, policy), { state: 'backoff', delayMs: 1000, recent: 0 });
  });

  test('the default policy: 5 failures in 5 minutes trips, 5 minute cooldown', () => {
    const now = 10 * 60_000;
    const four = [1, 2, 3, 4].map((i) => now - i * 1000);
    assert.equal(afterFailure(four, now).state, 'backoff');
    assert.deepEqual(afterFailure([...four, now], now), {
      state: 'broken',
      delayMs: DEFAULT_BREAKER.cooldownMs,
      recent: 5,
    });
  });
});
