import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { featureSteps, simBlock } from '../../src/demo/sample-project';
import { type DaemonTown, makeDaemonTown } from '../helpers/daemon-town';
import { landingsTested, mainIsGreen, mergedCount } from '../helpers/fleet';
import { until } from '../helpers/wait';

/**
 * The emergency stop (issue 8): `gt stop --all` halts every agent session (polecats mid-work, the Mayor)
 * and pauses dispatch, keeping hooks, worktrees and commits; nothing starts while paused (a sling queues);
 * `gt resume` restarts the same agents on the same hooks and everything lands with main green. Also without
 * the daemon, and `gt down --all`. Real tmux, sim agents whose scripts sleep between commits.
 */
const LONG = 4 * 60_000;

/** A bead whose sim commits a first part, works (sleeps), then commits the feature and submits. */
async function slowBead(t: DaemonTown, name: string): Promise<string> {
  const steps = [
    `write notes/${name}.md "first part of ${name}"`,
    `commit "${name}: first part"`,
    'sleep 12s',
    ...featureSteps({ name, body: "s.split('').join('-')", cases: [['ab', 'a-b']] }, `${name}: feature`),
    'done',
  ];
  return t.createBead(`Build ${name}`, simBlock(steps));
}

interface AgentRowLite {
  id: string;
  state: string;
  hooked_bead: string | null;
  worktree: string | null;
  session: string | null;
  paused_from: string | null;
}

function agent(t: DaemonTown, id: string): AgentRowLite {
  return t.ledger
    .prepare('SELECT id, state, hooked_bead, worktree, session, paused_from FROM agents WHERE id = ?')
    .get(id) as AgentRowLite;
}

function tmuxSessions(t: DaemonTown): string[] {
  try {
    return execFileSync('tmux', ['-S', join(t.town, '.gt', 'tmux.sock'), 'list-sessions', '-F', '#S'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')
      .filter(Boolean);
  } catch {
    return []; // no server: no session
  }
}

function commitsAhead(t: DaemonTown, worktree: string): number {
  return Number(t.git(['rev-list', '--count', 'HEAD', '^origin/main'], worktree));
}

function head(t: DaemonTown, worktree: string): string {
  return t.git(['rev-parse', 'HEAD'], worktree);
}

interface SlingJson {
  results: Array<{
    bead: string;
    agent: string | null;
    status: string;
    worktree: string | null;
    queued?: { code: string };
  }>;
}

describe('gt stop --all / gt resume', () => {
  let t: DaemonTown | undefined;
  afterEach(() => {
    t?.cleanup();
    t = undefined;
  });

  test('with the daemon: stop mid-work, nothing starts while paused, resume lands everything', async () => {
    t = await makeDaemonTown({ maxPolecats: 3 });
    const town = t;
    await town.gtOk(['config', 'set', 'roles.mayor.agent', 'sim']);
    await town.gtOk(['mayor', 'start']);
    const ids = [await slowBead(town, 'kilo'), await slowBead(town, 'lima'), await slowBead(town, 'mike')];
    await town.up();
    const slung = (await town.gtOk(['sling', ...ids, 'app'])) as SlingJson;
    assert.deepEqual(
      slung.results.map((r) => r.status),
      ['slung', 'slung', 'slung'],
    );
    const polecats = slung.results.map((r) => ({ bead: r.bead, agent: r.agent!, worktree: r.worktree! }));
    // Mid-work: every polecat has committed its first part and is sleeping before the next.
    await until(
      'a first commit from every polecat',
      async () => polecats.every((p) => commitsAhead(town, p.worktree) >= 1),
      90_000,
    );

    const stop = await town.gtOk(['stop', '--all']);
    assert.equal(stop.paused, true);
    assert.deepEqual(stop.stopped, [...polecats.map((p) => p.agent), 'mayor'].sort());
    assert.deepEqual(stop.failures, []);
    assert.deepEqual(tmuxSessions(town), [], 'every session is gone when gt stop --all returns');
    const heads = new Map(polecats.map((p) => [p.agent, head(town, p.worktree)]));
    for (const p of polecats) {
      const row = agent(town, p.agent);
      assert.equal(row.state, 'stopped');
      assert.equal(row.paused_from, 'working');
      assert.equal(row.hooked_bead, p.bead, 'the hook is kept');
      assert.equal(row.session, null);
      assert.ok(existsSync(p.worktree), 'the worktree is kept');
      assert.ok(commitsAhead(town, p.worktree) >= 1, 'the commits are kept');
      const bead = town.ledger.prepare('SELECT status FROM beads WHERE id = ?').get(p.bead) as {
        status: string;
      };
      assert.ok(['hooked', 'in_progress'].includes(bead.status), `bead still held (${bead.status})`);
    }
    assert.equal(agent(town, 'mayor').paused_from, 'working');

    // Paused: a sling queues instead of starting anything, and the scheduler leaves it there.
    const late = await slowBead(town, 'november');
    const queued = (await town.gtOk(['sling', late, 'app'])) as SlingJson;
    assert.equal(queued.results[0]!.status, 'queued');
    assert.equal(queued.results[0]!.queued!.code, 'GT_E_PAUSED');
    const ticks = async () =>
      ((await town.gtOk(['daemon', 'status'])).controllers as Array<{ name: string; ticks: number }>).find(
        (c) => c.name === 'scheduler',
      )?.ticks ?? 0;
    const before = await ticks();
    await until('two scheduler ticks while paused', async () => (await ticks()) >= before + 2, 60_000);
    assert.deepEqual(tmuxSessions(town), [], 'nothing restarted or started while paused');
    const waiting = (await town.gtOk(['queue'])).entries as Array<{ bead: string; why: string }>;
    assert.deepEqual(
      waiting.map((e) => [e.bead, e.why]),
      [[late, 'paused']],
      'the paused sling still waits',
    );
    for (const p of polecats)
      assert.equal(head(town, p.worktree), heads.get(p.agent), 'no work while stopped');

    // Idempotent stop: nothing more to stop, the stopped agents still wait for resume.
    const again = await town.gtOk(['stop', '--all']);
    assert.deepEqual(again.stopped, []);
    assert.deepEqual(again.waiting, [...polecats.map((p) => p.agent), 'mayor'].sort());

    const resume = await town.gtOk(['resume']);
    assert.equal(resume.unpaused, true);
    assert.deepEqual(
      (resume.resumed as Array<{ agent: string; hooked_bead: string | null }>).map((r) => [
        r.agent,
        r.hooked_bead,
      ]),
      [...polecats.map((p) => [p.agent, p.bead]), ['mayor', null]].sort(),
    );
    assert.deepEqual(resume.failures, []);
    for (const p of polecats) {
      const row = agent(town, p.agent);
      assert.equal(row.paused_from, null);
      assert.equal(row.hooked_bead, p.bead, 'restarted on the same hook');
    }
    const mayor = await town.gtOk(['mayor', 'status']);
    assert.equal(mayor.state, 'running');
    const second = await town.gtOk(['resume']);
    assert.equal(second.unpaused, false);
    assert.deepEqual(second.resumed, []);

    await until('all four merged', async () => mergedCount(town, [...ids, late]) === 4, LONG);
    // The same polecats finished their own beads (no re-sling to someone else).
    for (const p of polecats) {
      const mr = town.ledger
        .prepare("SELECT agent_id, branch FROM merge_requests WHERE bead_id = ? AND state = 'merged'")
        .get(p.bead) as { agent_id: string; branch: string };
      assert.equal(mr.agent_id, p.agent);
      const holders = town.ledger
        .prepare('SELECT DISTINCT agent_id FROM agent_history WHERE bead_id = ?')
        .all(p.bead);
      assert.equal(holders.length, 1, `${p.bead} was held by one polecat only`);
    }
    const landed = landingsTested(town);
    assert.ok(landed.ok, landed.detail);
    assert.ok(mainIsGreen(town), 'the test suite passes on main');
    await town.down(true);
  });

  test('without the daemon: gt down --all, then gt resume restarts the work; both idempotent', async () => {
    t = await makeDaemonTown({ maxPolecats: 2 });
    const town = t;
    const id = await slowBead(town, 'oscar');
    await town.up();
    const slung = (await town.gtOk(['sling', id, 'app'])) as SlingJson;
    const polecat = slung.results[0]!.agent!;
    const worktree = slung.results[0]!.worktree!;
    await until('the first commit', async () => commitsAhead(town, worktree) >= 1, 90_000);

    const down = await town.gtOk(['down', '--all']);
    assert.equal(down.daemon.status, 'stopped');
    assert.deepEqual(down.agents.stopped, [polecat]);
    assert.equal(down.agents.paused, false, 'gt down --all does not pause dispatch');
    assert.deepEqual(tmuxSessions(town), []);
    assert.equal(agent(town, polecat).paused_from, 'working');

    // No daemon: stop --all still pauses, and is a no-op for the agents.
    const stop = await town.gtOk(['stop', '--all']);
    assert.equal(stop.paused, true);
    assert.deepEqual(stop.stopped, []);
    assert.deepEqual(stop.waiting, [polecat]);

    const resume = await town.gtOk(['resume']);
    assert.equal(resume.daemon_running, false);
    assert.deepEqual(
      (resume.resumed as Array<{ agent: string }>).map((r) => r.agent),
      [polecat],
    );
    // The restarted sim finishes on its own: its MR is queued, the bead in review.
    await until(
      'the restarted polecat submits',
      async () => {
        const row = town.ledger
          .prepare("SELECT count(*) AS n FROM merge_requests WHERE bead_id = ? AND state = 'queued'")
          .get(id) as {
          n: number;
        };
        return row.n === 1;
      },
      90_000,
    );
    assert.ok(commitsAhead(town, worktree) >= 2, 'the work continued on the same checkout');
    assert.equal(agent(town, polecat).hooked_bead, id);
    const noop = await town.gtOk(['resume']);
    assert.deepEqual(noop.resumed, []);
    assert.equal(noop.unpaused, false);
  });

  test('gt stop <agent> is gt session stop; usage errors', async () => {
    t = await makeDaemonTown();
    const town = t;
    await town.gtOk(['config', 'set', 'roles.mayor.agent', 'sim']);
    await town.gtOk(['mayor', 'start']);
    const one = await town.gtOk(['stop', 'mayor']);
    assert.equal(one.agent, 'mayor');
    assert.equal(agent(town, 'mayor').state, 'stopped');
    assert.equal(agent(town, 'mayor').paused_from, null, 'a single stop is not resumed by gt resume');
    const both = await town.gt(['stop', 'mayor', '--all'], { cwd: town.town });
    assert.equal(both.code, 2);
    const none = await town.gt(['stop'], { cwd: town.town });
    assert.equal(none.code, 2);
  });
});
