import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { TownStatus } from '../../src/core/status-format';
import { recordActivity } from '../../src/daemon/activity';
import { type DaemonTown, makeDaemonTown } from '../helpers/daemon-town';
import { GT_BIN } from '../helpers/gt';
import { until } from '../helpers/wait';

/**
 * `gt status` and `gt feed` on a real town: daemon (gt up), sim polecats through the Refinery, a convoy, an
 * escalation. Also without a daemon, and with hostile titles (escape sequences must never reach stdout).
 */
const SLOW = 240_000;
const HOSTILE = 'Evil \u001b[31mred\u001b[0m \u001b]0;pwned\u0007title\u009b2J';
const TERMINAL_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

interface FeedLine {
  at: number;
  kind: string;
  subject: string;
  text: string;
  raw: string;
}

function parsePlain(stdout: string): FeedLine[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((raw) => {
      const m = /^(\S+) (\S+) +(\S+) +(\S+) +(.*)$/.exec(raw);
      assert.ok(m, `a feed line: ${JSON.stringify(raw)}`);
      return { at: Date.parse(m[1]!), kind: m[2]!, subject: m[4]!, text: m[5]!, raw };
    });
}

describe('gt status and gt feed', () => {
  let t: DaemonTown;
  let pair: string;
  let merged: string;
  let waiting: string;
  let hung: string;
  let escalation: string;

  before(async () => {
    t = await makeDaemonTown();
    // Only what we sling runs: the convoy's second bead must stay put for a stable 1/2.
    await t.gtOk(['config', 'set', 'scheduler.feed_convoys', 'false']);
  });
  after(() => t?.cleanup());

  const status = async () => (await t.gtOk(['status'])) as TownStatus;

  test('without a daemon: not running, and the rest of the town still reported', async () => {
    const st = await status();
    assert.equal(st.daemon.health, 'not-running');
    assert.equal(st.daemon.deacon, null);
    assert.deepEqual(st.daemon.controllers, []);
    assert.equal(st.rigs.length, 1);
    assert.equal(st.rigs[0]!.name, 'app');
    assert.equal(st.rigs[0]!.parked, false);
    assert.equal(st.rigs[0]!.polecats.total, 0);
    assert.equal(st.dispatch.paused, false);
    assert.equal(st.capacity.busy, 0);
    const text = await t.gt(['status'], { cwd: t.town });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^town: /);
    assert.match(text.stdout, /daemon: not running \(start it with 'gt up'\)/);
    assert.match(text.stdout, /rig app: no polecats/);
  });

  test('with a daemon, polecats, an MR, a convoy and an escalation: every field matches the ledger', {
    timeout: SLOW * 2,
  }, async () => {
    merged = await t.createBead(HOSTILE);
    waiting = await t.createBead('Waits in the convoy');
    pair = (await t.gtOk(['convoy', 'create', 'Pair', merged, waiting])).id;
    await t.up();
    await t.gtOk(['sling', merged, 'app']);
    await until(
      'the first bead merged by the Refinery',
      async () =>
        (t.ledger.prepare('SELECT status FROM beads WHERE id = ?').get(merged) as { status: string })
          .status === 'closed',
      SLOW,
    );
    hung = await t.createBead('Hangs forever', '```sim\nhang\n```\n');
    await t.gtOk(['sling', hung, 'app']);
    escalation = (await t.gtOk(['escalate', '-s', 'HIGH', 'need', 'a', 'decision'])).id;
    await until(
      'the hung polecat working',
      async () =>
        (
          t.ledger.prepare('SELECT state FROM agents WHERE hooked_bead = ?').get(hung) as
            | { state: string }
            | undefined
        )?.state === 'working',
      60_000,
    );

    const st = await until(
      "the Deacon's first tick in the heartbeat",
      async () => {
        const s = await status();
        return s.daemon.deacon?.last_tick_at ? s : false;
      },
      30_000,
    );
    assert.equal(st.daemon.health, 'running');
    assert.ok(st.daemon.pid && st.daemon.pid > 0);
    const names = st.daemon.controllers.map((c) => c.name);
    assert.ok(names.includes('deacon') && names.includes('refinery:app'), names.join(','));
    assert.ok((st.daemon.deacon!.last_tick_age_ms ?? -1) >= 0);
    assert.ok((st.daemon.heartbeat_age_ms ?? -1) >= 0);
    assert.equal(st.dispatch.paused, false);

    const q = <T>(sql: string, ...args: unknown[]) => t.ledger.prepare(sql).get(...args) as T;
    const rig = st.rigs.find((r) => r.name === 'app')!;
    const polecats = t.ledger
      .prepare("SELECT id, state FROM agents WHERE role = 'polecat' AND rig = 'app'")
      .all() as Array<{ id: string; state: string }>;
    assert.equal(rig.polecats.total, polecats.length);
    assert.ok(polecats.length >= 1, "the merged bead's polecat may be reused for the next");
    assert.equal(
      Object.values(rig.polecats.by_state).reduce((a, b) => a + b, 0),
      rig.polecats.total,
      'every polecat counted in one state',
    );
    const hungAgent = q<{ id: string }>('SELECT id FROM agents WHERE hooked_bead = ?', hung).id;
    const listed = rig.polecats.agents.find((a) => a.id === hungAgent);
    assert.equal(listed?.state, 'working');
    assert.equal(listed?.hooked_bead, hung);
    assert.ok(rig.polecats.by_state.working! >= 1);
    assert.equal(
      st.capacity.busy,
      q<{ n: number }>("SELECT count(*) AS n FROM agents WHERE state IN ('starting','working','stalled')").n,
    );
    assert.equal(st.capacity.max_polecats, 4);

    const mrs = q<{ n: number }>(
      "SELECT count(*) AS n FROM merge_requests WHERE rig = 'app' AND state = 'merged'",
    ).n;
    assert.ok(mrs >= 1);
    assert.equal(rig.merge_queue.by_state.merged, mrs);
    assert.equal(
      rig.merge_queue.open,
      q<{ n: number }>(
        "SELECT count(*) AS n FROM merge_requests WHERE state IN ('queued','sheriff','ready','testing')",
      ).n,
    );

    const convoy = st.convoys.open.find((c) => c.id === pair);
    assert.deepEqual(convoy && { merged: convoy.merged, total: convoy.total, name: convoy.name }, {
      merged: 1,
      total: 2,
      name: 'Pair',
    });
    // The hung bead's own convoy ("Work: <title>") is open at 0/1.
    assert.ok(st.convoys.open.some((c) => c.merged === 0 && c.total === 1 && /Hangs forever/.test(c.name)));

    assert.equal(st.escalations.open, 1);
    assert.equal(st.escalations.unacked, 1);
    assert.equal(st.escalations.by_severity.HIGH, 1);
    assert.equal(st.escalations.items[0]!.id, escalation);
    assert.equal(st.escalations.items[0]!.summary, 'need a decision');
    assert.equal(st.sling_queue.length, q<{ n: number }>('SELECT count(*) AS n FROM sling_queue').n);

    const text = await t.gt(['status'], { cwd: t.town });
    assert.equal(text.code, 0, text.stderr);
    assert.doesNotMatch(text.stdout, TERMINAL_CONTROL);
    assert.match(
      text.stdout,
      /daemon: running \(pid \d+, heartbeat \d+s ago\); deacon \w+, last tick \d+s ago/,
    );
    assert.match(text.stdout, /rig app: \d+ polecats \(.*working \d/);
    assert.match(text.stdout, /merged [1-9]/);
    assert.match(text.stdout, new RegExp(`${pair} +1/2 +Pair`));
    assert.match(text.stdout, /escalations: 1 open \(HIGH 1; 1 unacknowledged\)/);
  });

  test('gt feed --plain --no-follow: events from all three sources, in time order, hostile text stripped', async () => {
    const db = new Database(join(t.town, '.gt', 'ledger.db'));
    try {
      recordActivity(db, {
        kind: 'recover',
        actor: 'witness',
        rig: 'app',
        agent: 'app/nux',
        detail: `restarted ${HOSTILE}`,
      });
    } finally {
      db.close();
    }
    const r = await t.gt(['feed', '--plain', '--no-follow', '-n', '100000'], { cwd: t.town });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, TERMINAL_CONTROL, 'no escape or control character reaches the terminal');
    const lines = parsePlain(r.stdout);
    for (let i = 1; i < lines.length; i++)
      assert.ok(lines[i]!.at >= lines[i - 1]!.at, `in time order at ${lines[i]!.raw}`);

    const find = (what: string, pred: (l: FeedLine) => boolean) => {
      const i = lines.findIndex(pred);
      assert.ok(i >= 0, `${what} in the feed:\n${r.stdout}`);
      return i;
    };
    const created = find('the create', (l) => l.kind === 'create' && l.subject === merged);
    assert.match(lines[created]!.text, /^Evil red title$/);
    const slung = find('the sling', (l) => l.kind === 'sling' && l.subject === merged);
    const done = find('the MR queued (gt done)', (l) => l.kind === 'done' && l.text.includes(merged));
    const merge = find('the merge', (l) => l.kind === 'merge' && l.text.includes(merged));
    const closed = find('the close', (l) => l.kind === 'close' && l.subject === merged);
    assert.ok(created < slung && slung < done && done < merge && done < closed, 'the loop in order');
    find(
      'the escalation',
      (l) => l.kind === 'escalation' && l.subject === escalation && /\[HIGH\] need a decision/.test(l.text),
    );
    const recovery = find('the activity row', (l) => l.kind === 'recover');
    assert.match(lines[recovery]!.text, /^app\/nux: restarted Evil red title$/);
    // -n shows only the newest lines (the daemon may have added some since).
    const tail = parsePlain(
      (await t.gt(['feed', '--plain', '--no-follow', '-n', '3'], { cwd: t.town })).stdout,
    );
    assert.equal(tail.length, 3);
    for (const l of tail) assert.ok(l.at >= lines.at(-3)!.at, `${l.raw} is among the newest`);

    const json = await t.gt(['feed', '--json', '--no-follow', '-n', '100000'], { cwd: t.town });
    assert.equal(json.code, 0, json.stderr);
    assert.doesNotMatch(json.stdout, TERMINAL_CONTROL);
    const objects = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { source: string; kind: string; at: string; text: string });
    assert.ok(objects.length >= lines.length);
    assert.deepEqual(new Set(objects.map((o) => o.source)), new Set(['bead', 'mr', 'activity']));
    assert.ok(objects.every((o) => !Number.isNaN(Date.parse(o.at))));
    assert.ok(objects.some((o) => o.kind === 'recover' && o.text === 'app/nux: restarted Evil red title'));

    const sinceFuture = await t.gt(['feed', '--plain', '--no-follow', '--since', '2999-01-01'], {
      cwd: t.town,
    });
    assert.equal(sinceFuture.stdout, '');
    const bad = await t.gt(['feed', '--no-follow', '--since', 'yesterday'], { cwd: t.town });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /GT_E_USAGE/);
  });

  test('gt feed follows: a new bead appears as a line; SIGINT ends it cleanly', async () => {
    const child = spawn(process.execPath, [GT_BIN, 'feed', '--plain', '-n', '1'], {
      cwd: t.town,
      env: t.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString('utf8');
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // The tail line means the watermarks are taken: anything from now on is "new".
      await until('the tail line', async () => out.split('\n').filter(Boolean).length >= 1, 30_000);
      const id = await t.createBead(`Followed ${HOSTILE}`);
      const line = await until(
        'the new bead in the followed feed',
        async () => parsePlain(out).find((l) => l.kind === 'create' && l.subject === id),
        30_000,
      );
      assert.equal(line.text, 'Followed Evil red title');
      assert.doesNotMatch(out, TERMINAL_CONTROL);
      child.kill('SIGINT');
      assert.equal(await exited, 0, err);
      assert.equal(err, '');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
