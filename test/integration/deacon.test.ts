import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { TownStatus } from '../../src/core/status-format';
import { HeadlessProvider } from '../../src/runtime/headless';
import { isProcessAlive } from '../../src/runtime/proctree';
import { type DaemonTown, makeDaemonTown } from '../helpers/daemon-town';
import { addAgents } from '../helpers/ledger-fixtures';
import { until } from '../helpers/wait';

/**
 * The Deacon inside the real daemon: orphaned sessions reaped (and agents' sessions never touched),
 * unacknowledged escalations re-escalated once per period with rising severity, convoys landed after a
 * bd close outside the Refinery (with their notification), and its heartbeat in gt status.
 */
const PERIOD_MS = 4000;
const SLOW = 120_000;

describe('the Deacon', () => {
  let t: DaemonTown;
  let socket: string;
  let notifyLog: string;
  const tmux = (args: string[]) =>
    spawnSync('tmux', ['-S', socket, '-f', '/dev/null', ...args], { encoding: 'utf8', env: t.env });
  const hasSession = (name: string) => tmux(['has-session', '-t', `=${name}`]).status === 0;
  const panePid = (name: string) =>
    Number(tmux(['list-panes', '-t', `=${name}:`, '-F', '#{pane_pid}']).stdout.trim());
  const status = async () => (await t.gtOk(['status'])) as TownStatus;
  const notifications = () =>
    existsSync(notifyLog)
      ? readFileSync(notifyLog, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>)
      : [];

  before(async () => {
    t = await makeDaemonTown({
      townToml: `[daemon]\nreescalate_after = "${PERIOD_MS / 1000}s"\n\n[notify]\ncommand = ["node", "notify.mjs"]\n`,
    });
    socket = join(t.town, '.gt', 'tmux.sock');
    notifyLog = join(t.dir, 'notify.log');
    writeFileSync(
      join(t.town, 'notify.mjs'),
      `import { appendFileSync, readFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(notifyLog)}, JSON.stringify(JSON.parse(readFileSync(0, 'utf8'))) + '\\n');\n`,
    );
    // Nothing is dispatched unless a test slings it.
    await t.gtOk(['config', 'set', 'scheduler.feed_convoys', 'false']);
    await t.up();
  });
  after(() => t?.cleanup());

  test('reaps orphaned tmux and headless sessions, never one an agent row owns', {
    timeout: SLOW * 2,
  }, async () => {
    // An agent's session: a sim polecat that hangs on its hook.
    const bead = await t.createBead('Hangs', '```sim\nhang\n```\n');
    await t.gtOk(['sling', bead, 'app']);
    const agent = await until(
      'the polecat working in its session',
      async () =>
        t.ledger
          .prepare("SELECT id, session FROM agents WHERE hooked_bead = ? AND state = 'working'")
          .get(bead) as { id: string; session: string } | undefined,
      60_000,
    );
    assert.ok(hasSession(agent.session));
    const agentPid = panePid(agent.session);
    // A row being started owns its identity's session name before its session column is written.
    addAgents(t.town, [{ id: 'app/keeper', role: 'polecat', rig: 'app', name: 'keeper' }]);
    assert.equal(tmux(['new-session', '-d', '-s', 'gt-app-keeper', 'sleep', '600']).status, 0);
    // Orphans: a tmux session and a headless session record nobody owns.
    assert.equal(tmux(['new-session', '-d', '-s', 'gt-app-ghost', 'sleep', '600']).status, 0);
    const headless = new HeadlessProvider(join(t.town, '.gt', 'run', 'headless'));
    const ghost = await headless.start({
      name: 'gt-app-phantom',
      command: 'sleep',
      args: ['600'],
      cwd: t.town,
      env: {},
      logFile: join(t.town, 'logs', 'sessions', 'gt-app-phantom.log'),
    });
    assert.ok(ghost.pid && isProcessAlive(ghost.pid));

    await until('the orphaned tmux session reaped', async () => !hasSession('gt-app-ghost'), SLOW);
    await until(
      'the orphaned headless session reaped',
      async () => !(await headless.list()).includes('gt-app-phantom'),
      SLOW,
    );
    await until('the headless orphan process gone', async () => !isProcessAlive(ghost.pid), 10_000);

    assert.ok(hasSession(agent.session), "the agent's session is untouched");
    assert.equal(panePid(agent.session), agentPid, 'same process: not restarted');
    assert.ok(hasSession('gt-app-keeper'), "the session named for an agent row's identity is untouched");
    const reaps = t.ledger
      .prepare("SELECT actor, detail FROM activity WHERE kind = 'deacon-reap' ORDER BY id")
      .all() as Array<{ actor: string; detail: string }>;
    assert.deepEqual(reaps.map((r) => [r.actor, /session (\S+):/.exec(r.detail)?.[1]]).sort(), [
      ['deacon', 'gt-app-ghost'],
      ['deacon', 'gt-app-phantom'],
    ]);
    const feed = await t.gt(['feed', '--plain', '--no-follow', '-n', '1000'], { cwd: t.town });
    assert.match(feed.stdout, /deacon-reap +deacon .*gt-app-ghost/);
    tmux(['kill-session', '-t', '=gt-app-keeper']);
  });

  test('re-escalates an unacknowledged escalation once per period, severity rising to CRITICAL', {
    timeout: SLOW * 2,
  }, async () => {
    const stuck = (await t.gtOk(['escalate', '-s', 'MEDIUM', 'stuck', 'on', 'the', 'database'])).id as string;
    const seen = (await t.gtOk(['escalate', '-s', 'MEDIUM', 'someone', 'is', 'on', 'it'])).id as string;
    await t.gtOk(['escalate', 'ack', seen]);
    // Ledger churn from another process wakes the daemon's controllers about once a second, so the Deacon
    // ticks far more often than the period: a re-escalation per tick would show as gaps under the period.
    const writer = new Database(join(t.town, '.gt', 'ledger.db'));
    let churn = 0;
    const timer = setInterval(() => {
      writer
        .prepare(
          "INSERT INTO config (key, value) VALUES ('test.churn', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .run(String(++churn));
    }, 1000);
    try {
      await until(
        'two re-escalations',
        async () =>
          (
            t.ledger.prepare('SELECT reescalations FROM escalations WHERE id = ?').get(stuck) as {
              reescalations: number;
            }
          ).reescalations >= 2,
        SLOW,
      );
      // Keep churning a little longer: no extra re-escalation may sneak in early.
      await new Promise((r) => setTimeout(r, PERIOD_MS / 2));
    } finally {
      clearInterval(timer);
      writer.close();
    }
    const snapshot = t.ledger.transaction(() => ({
      row: t.ledger.prepare('SELECT * FROM escalations WHERE id = ?').get(stuck) as {
        severity: string;
        reescalations: number;
        created_at: number;
        thread_id: number;
      },
      priority: (
        t.ledger.prepare('SELECT priority FROM beads WHERE id = ?').get(stuck) as { priority: number }
      ).priority,
      events: t.ledger
        .prepare(
          "SELECT actor, old_value, new_value, created_at FROM events WHERE issue_id = ? AND event_type = 'escalation_reescalated' ORDER BY id",
        )
        .all(stuck) as Array<{ actor: string; old_value: string; new_value: string; created_at: number }>,
      mails: t.ledger
        .prepare(
          "SELECT to_addr, subject, thread_id FROM messages WHERE subject LIKE '%still unacknowledged%' AND thread_id = ? ORDER BY id",
        )
        .all(
          (
            t.ledger.prepare('SELECT thread_id FROM escalations WHERE id = ?').get(stuck) as {
              thread_id: number;
            }
          ).thread_id,
        ) as Array<{
        to_addr: string;
        subject: string;
      }>,
      acked: t.ledger.prepare('SELECT severity, reescalations FROM escalations WHERE id = ?').get(seen) as {
        severity: string;
        reescalations: number;
      },
    }))();
    const { row, events } = snapshot;
    assert.ok(churn >= 3, `the ledger churned (${churn})`);
    assert.equal(events.length, row.reescalations, 'one event per re-escalation');
    assert.ok(row.reescalations >= 2);
    assert.deepEqual(
      events.slice(0, 2).map((e) => [JSON.parse(e.old_value).severity, JSON.parse(e.new_value).severity]),
      [
        ['MEDIUM', 'HIGH'],
        ['HIGH', 'CRITICAL'],
      ],
    );
    assert.ok(events.every((e) => e.actor === 'deacon'));
    let previous = row.created_at;
    for (const e of events) {
      assert.ok(
        e.created_at - previous >= PERIOD_MS,
        `re-escalated ${e.created_at - previous} ms after the last: once per period`,
      );
      previous = e.created_at;
    }
    assert.equal(row.severity, 'CRITICAL');
    assert.equal(snapshot.priority, 0, 'the bead priority follows the severity');
    // The route (mayor, human) mailed again each time, in the escalation's thread.
    assert.equal(snapshot.mails.length, 2 * row.reescalations);
    assert.deepEqual([...new Set(snapshot.mails.map((m) => m.to_addr))].sort(), ['human', 'mayor']);
    assert.match(snapshot.mails[0]!.subject, /^\[HIGH\] still unacknowledged: stuck on the database$/);
    assert.deepEqual(
      snapshot.acked,
      { severity: 'MEDIUM', reescalations: 0 },
      'an acknowledged escalation is left alone',
    );

    const st = await status();
    const item = st.escalations.items.find((e) => e.id === stuck)!;
    assert.equal(item.severity, 'CRITICAL');
    assert.ok(item.reescalations >= 2);
    await until(
      'the notify command told about the re-escalation',
      async () =>
        notifications().some(
          (n) =>
            n.event === 'escalation.reescalated' &&
            n.id === stuck &&
            n.severity === 'HIGH' &&
            n.previous_severity === 'MEDIUM',
        ),
      30_000,
    );
    // Acknowledged: no more re-escalations.
    await t.gtOk(['escalate', 'ack', stuck]);
  });

  test('lands a convoy whose bead was closed outside the Refinery, and runs its notification', {
    timeout: SLOW,
  }, async () => {
    const bead = await t.createBead('Closed by hand');
    const convoy = (await t.gtOk(['convoy', 'create', 'Side', bead])).id as string;
    const closed = await t.bd(['close', bead, '--reason', 'done by hand']);
    assert.equal(closed.code, 0, closed.stderr);
    await until(
      'the convoy landed',
      async () =>
        (t.ledger.prepare('SELECT status FROM convoys WHERE id = ?').get(convoy) as { status: string })
          .status === 'landed',
      60_000,
    );
    await until(
      'its notification sent',
      async () =>
        (
          t.ledger.prepare('SELECT notify_state FROM convoys WHERE id = ?').get(convoy) as {
            notify_state: string;
          }
        ).notify_state === 'sent',
      60_000,
    );
    const notified = notifications();
    assert.equal(
      notified.filter((n) => n.event === 'convoy.landed' && n.id === convoy).length,
      1,
      'exactly once',
    );
    const mail = t.ledger
      .prepare("SELECT count(*) AS n FROM messages WHERE subject = 'Convoy landed: Side'")
      .get() as { n: number };
    assert.equal(mail.n, 2, 'the Mayor and the human are told once each');
  });

  test("its heartbeat: gt status shows the Deacon's last tick moving on", { timeout: SLOW }, async () => {
    const first = await until(
      'a Deacon tick',
      async () => {
        const s = await status();
        return s.daemon.deacon?.last_tick_at ?? false;
      },
      30_000,
    );
    const later = await until(
      'a later Deacon tick',
      async () => {
        const s = await status();
        return s.daemon.deacon?.last_tick_at !== first && s.daemon.deacon?.last_tick_at;
      },
      60_000,
    );
    assert.ok(Date.parse(later as string) > Date.parse(first));
    const r = execFileSync(process.execPath, [join(import.meta.dirname, '../../bin/gt.js'), 'status'], {
      cwd: t.town,
      env: t.env,
      encoding: 'utf8',
    });
    assert.match(r, /deacon \w+, last tick \d+s ago/);
  });
});
