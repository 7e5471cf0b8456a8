import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import type { Controller } from '../../src/daemon/controller';
import { Supervisor } from '../../src/daemon/supervisor';
import { until } from '../helpers/wait';

/** A pino logger whose JSON lines land in an array. */
function memoryLog() {
  const lines: Array<{ msg: string; controller?: string }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

describe('supervisor: the crash-loop breaker', () => {
  test('a controller that keeps throwing trips once, stays broken, and recovers when it stops', async () => {
    const { log, lines } = memoryLog();
    const trips: Array<{ name: string; error: string; recent: number }> = [];
    const supervisor = new Supervisor({
      log,
      policy: { baseMs: 5, maxMs: 20, windowMs: 60_000, tripAfter: 3, cooldownMs: 150 },
      onTrip: (name, error, recent) => trips.push({ name, error, recent }),
    });
    let failing = true;
    let calls = 0;
    const flaky: Controller = {
      name: 'flaky',
      intervalMs: 20,
      async tick() {
        calls++;
        if (failing) throw new Error(`boom ${calls}`);
        return false;
      },
    };
    const status = () => supervisor.statuses().find((s) => s.name === 'flaky')!;
    try {
      supervisor.add(flaky);
      await until('the breaker trips', async () => status().state === 'broken', 10_000);
      assert.equal(trips.length, 1);
      assert.deepEqual(trips[0], { name: 'flaky', error: 'boom 3', recent: 3 });
      assert.equal(status().failures, 3);
      assert.match(status().last_error ?? '', /boom 3/);
      assert.ok(status().next_retry_at, 'a broken controller says when it is retried');

      // Retried after each cooldown, still failing: still broken, never reported twice.
      await until('two more cooldown retries', async () => status().failures >= 5, 10_000);
      assert.equal(status().state, 'broken');
      assert.equal(trips.length, 1);

      failing = false;
      await until(
        'it recovers',
        async () => ['running', 'sleeping'].includes(status().state) && status().ticks > 0,
        10_000,
      );
      assert.equal(trips.length, 1);
      assert.equal(status().next_retry_at, null);
      assert.ok(lines.some((l) => l.msg === 'controller recovered' && l.controller === 'flaky'));
      const ticks = status().ticks;
      await until('it keeps ticking on its interval', async () => status().ticks > ticks + 2, 10_000);
    } finally {
      await supervisor.stop(1000);
    }
    assert.equal(status().state, 'stopped');
  });

  test('a success resets the breaker: failures before it do not count towards the next trip', async () => {
    const { log } = memoryLog();
    const trips: string[] = [];
    const supervisor = new Supervisor({
      log,
      policy: { baseMs: 5, maxMs: 5, windowMs: 60_000, tripAfter: 3, cooldownMs: 60_000 },
      onTrip: (name) => trips.push(name),
    });
    // Two failures, a success, two failures, a success, …: never three in a row, so never broken.
    let calls = 0;
    supervisor.add({
      name: 'intermittent',
      intervalMs: 5,
      async tick() {
        calls++;
        if (calls % 3 !== 0) throw new Error(`blip ${calls}`);
        return false;
      },
    });
    const status = () => supervisor.statuses().find((s) => s.name === 'intermittent')!;
    try {
      await until('several rounds of failures and successes', async () => status().failures >= 8, 10_000);
      assert.deepEqual(trips, []);
      assert.notEqual(status().state, 'broken');
    } finally {
      await supervisor.stop(1000);
    }
  });

  test('a failing controller backs off without tripping, and does not hold up the others', async () => {
    const { log } = memoryLog();
    const trips: string[] = [];
    const supervisor = new Supervisor({
      log,
      policy: { baseMs: 200, maxMs: 200, windowMs: 60_000, tripAfter: 100, cooldownMs: 1000 },
      onTrip: (name) => trips.push(name),
    });
    let healthyTicks = 0;
    supervisor.add({
      name: 'bad',
      intervalMs: 10,
      async tick() {
        throw new Error('nope');
      },
    });
    supervisor.add({
      name: 'good',
      intervalMs: 10,
      async tick() {
        healthyTicks++;
        return false;
      },
    });
    try {
      await until('the good one ticks on', async () => healthyTicks > 10, 10_000);
      const bad = supervisor.statuses().find((s) => s.name === 'bad')!;
      assert.equal(bad.state, 'backoff');
      // 200 ms backoff: far fewer failures than the good controller's ticks.
      assert.ok(bad.failures < healthyTicks, `${bad.failures} failures vs ${healthyTicks} ticks`);
      assert.deepEqual(trips, []);
    } finally {
      await supervisor.stop(1000);
    }
  });
});
