import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isProcessAlive } from '../../src/runtime/proctree';
import { type DaemonTown, makeDaemonTown } from '../helpers/daemon-town';
import { until } from '../helpers/wait';

/**
 * The daemon process itself (issue 8): single instance, pid file, status, logs and their rotation, clean
 * stop, the Refinery running inside it, and kill -9 in the middle of a batch followed by a restart that
 * converges. Real town, real `gt up`/`gt down`, sim polecats, the sample project's real test suite.
 */
const SLOW = 120_000;

interface DaemonStatusJson {
  health: string;
  pid: number | null;
  controllers: Array<{ name: string; state: string; ticks: number }>;
}

// Running and not a zombie (a stopped daemon's parent may not reap it at once).
const alive = (pid: number) => isProcessAlive(pid);

describe('the daemon process', () => {
  let t: DaemonTown;
  const pidFile = () => join(t.town, '.gt', 'run', 'daemon.pid');
  const status = async (): Promise<{ code: number; json: DaemonStatusJson }> => {
    const r = await t.gt(['daemon', 'status', '--json'], { cwd: t.town });
    return { code: r.code, json: JSON.parse(r.stdout) };
  };

  before(async () => {
    t = await makeDaemonTown({
      townToml:
        '[daemon]\nlog_max_bytes = 4096\nlog_keep = 2\n\n[notify]\ncommand = ["sh", "-c", "cat >> notify.jsonl"]\n',
      gate: 'sleep 2 && node --test',
    });
  });
  after(() => t?.cleanup());

  test('one daemon per town: concurrent gt up start exactly one; status, logs, down', async () => {
    const before = await status();
    assert.equal(before.code, 1, 'not running → exit 1');
    assert.equal(before.json.health, 'not-running');

    const ups = await Promise.all([1, 2, 3].map(() => t.gt(['up', '--json'], { cwd: t.town })));
    for (const r of ups) assert.equal(r.code, 0, r.stderr);
    const results = ups.map((r) => JSON.parse(r.stdout) as { status: string; pid: number });
    const pids = new Set(results.map((r) => r.pid));
    assert.equal(pids.size, 1, `one daemon: ${JSON.stringify(results)}`);
    assert.equal(results.filter((r) => r.status === 'started').length, 1);
    const pid = [...pids][0]!;
    assert.ok(alive(pid));
    assert.equal(JSON.parse(readFileSync(pidFile(), 'utf8')).pid, pid);

    const running = await until(
      'the Refinery controller ticking',
      async () => {
        const s = await status();
        return s.json.controllers.some((c) => c.name === 'refinery:app' && c.ticks > 0) && s;
      },
      30_000,
    );
    assert.equal(running.code, 0);
    assert.equal(running.json.health, 'running');
    assert.equal(running.json.pid, pid);

    const logs = await t.gtOk(['daemon', 'logs', '-n', '100']);
    assert.ok(
      (logs as Array<{ msg?: string }>).some((l) => l.msg === 'daemon running'),
      'the structured log has the start-up line',
    );
    const text = await t.gt(['daemon', 'logs'], { cwd: t.town });
    assert.match(text.stdout, /info {2}daemon running/);

    const down = await t.gtOk(['down']);
    assert.equal(down.daemon.status, 'stopped');
    assert.equal(alive(pid), false);
    assert.equal(existsSync(pidFile()), false, 'the pid file is removed on a clean stop');
    assert.equal((await status()).json.health, 'not-running');
    const again = await t.gtOk(['down']);
    assert.equal(again.daemon.status, 'not-running', 'gt down is idempotent');
  });

  test('a stale pid file (its daemon was killed) is taken over; the log rotates by size', async () => {
    writeFileSync(pidFile(), `${JSON.stringify({ pid: 2 ** 22 + 17, start_time: 1, started_at: 'then' })}\n`);
    assert.equal((await status()).json.health, 'not-running', 'a dead pid is not a running daemon');
    const up = await t.gtOk(['up']);
    assert.equal(up.status, 'started');

    const log = join(t.town, 'logs', 'daemon.log');
    appendFileSync(log, `${'x'.repeat(6000)}\n`);
    await until('the log rotated', async () => existsSync(`${log}.1`), 15_000);
    await until(
      'the daemon writes to a fresh log',
      async () => {
        try {
          return statSync(log).size < 4096 && readFileSync(log, 'utf8').includes('log rotated');
        } catch {
          return false;
        }
      },
      15_000,
    );
    assert.ok(statSync(`${log}.1`).size > 6000);
  });

  test('the Refinery runs inside the daemon; kill -9 mid-gate and a restart converge', async () => {
    if (!(await status()).json.pid) await t.up();
    const a = await t.createBead('Add alpha');
    const b = await t.createBead('Add beta');
    await t.gtOk(['sling', a, b, 'app']);
    // The gate sleeps 2 s before testing: kill the daemon while a gate run is in flight.
    const run = await until(
      'a gate run in flight',
      async () =>
        t.ledger
          .prepare(
            "SELECT id, pid FROM gate_runs WHERE kind = 'gate' AND state = 'running' ORDER BY id DESC LIMIT 1",
          )
          .get() as { id: number; pid: number } | undefined,
      SLOW,
    );
    const daemonPid = JSON.parse(readFileSync(pidFile(), 'utf8')).pid as number;
    process.kill(daemonPid, 'SIGKILL');
    await until('the daemon is gone', async () => !alive(daemonPid), 10_000);
    assert.equal((await status()).json.health, 'not-running');

    await t.up();
    await until(
      'both beads merged after the restart',
      async () => {
        const rows = t.ledger
          .prepare('SELECT status, close_reason FROM beads WHERE id IN (?, ?)')
          .all(a, b) as Array<{
          status: string;
          close_reason: string | null;
        }>;
        return rows.every((r) => r.status === 'closed' && r.close_reason?.startsWith('merged in ')) && rows;
      },
      SLOW,
    );
    const aborted = t.ledger.prepare('SELECT state FROM gate_runs WHERE id = ?').get(run.id) as {
      state: string;
    };
    assert.equal(
      aborted.state,
      'aborted',
      'the interrupted gate run is recorded as aborted, never as a pass',
    );
    assert.equal(alive(run.pid), false, 'the orphaned gate process was killed');
    // No double merge; main is exactly the last tested landing.
    const merges = t.ledger
      .prepare(
        "SELECT mr_id, count(*) AS n FROM mr_events WHERE to_state = 'merged' AND event != 'closed-bead' GROUP BY mr_id",
      )
      .all() as Array<{ mr_id: number; n: number }>;
    assert.equal(merges.length, 2);
    for (const m of merges) assert.equal(m.n, 1, `MR ${m.mr_id} merged once`);
    const landings = t.ledger
      .prepare(
        `SELECT b.landing_sha AS sha, EXISTS (SELECT 1 FROM gate_runs g WHERE g.candidate_sha = b.landing_sha
           AND g.kind = 'gate' AND g.state = 'pass') AS tested FROM mq_batches b WHERE b.state = 'done' ORDER BY b.id`,
      )
      .all() as Array<{ sha: string; tested: number }>;
    assert.ok(landings.length >= 1);
    for (const l of landings) assert.equal(l.tested, 1, `landing ${l.sha} passed the gate`);
    assert.equal(t.mainSha(), landings[landings.length - 1]!.sha);
    // The convoys these merges completed landed, and the town's [notify] command heard of each.
    const convoys = t.ledger
      .prepare(
        "SELECT c.id FROM convoys c JOIN convoy_members m ON m.convoy_id = c.id WHERE m.bead_id IN (?, ?) AND c.status = 'landed'",
      )
      .all(a, b) as Array<{ id: string }>;
    const ids = [...new Set(convoys.map((c) => c.id))];
    assert.ok(convoys.length >= 1, 'the slings made a convoy for the beads');
    const notified = await until(
      'the landing notifications',
      async () => {
        try {
          const lines = readFileSync(join(t.town, 'notify.jsonl'), 'utf8').trim().split('\n');
          const events = lines.map((l) => JSON.parse(l) as { event: string; id: string });
          return (
            events.filter((e) => e.event === 'convoy.landed').length >=
              new Set(convoys.map((c) => c.id)).size && events
          );
        } catch {
          return false;
        }
      },
      30_000,
    );
    assert.deepEqual(notified.map((e) => e.id).sort(), ids.sort());
    await t.down();
  });

  test('a daemon whose town is deleted stops by itself', async () => {
    const town = join(t.dir, 'doomed');
    assert.equal((await t.gt(['install', town])).code, 0);
    const up = await t.gt(['up', '--json'], { cwd: town });
    assert.equal(up.code, 0, up.stderr);
    const pid = (JSON.parse(up.stdout) as { pid: number }).pid;
    assert.ok(alive(pid));
    rmSync(town, { recursive: true, force: true });
    await until('the orphaned daemon exits', async () => !alive(pid), 20_000);
  });
});
