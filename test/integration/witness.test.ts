import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { listProcesses } from '../../src/runtime/proctree';
import { type DaemonTown, makeDaemonTown } from '../helpers/daemon-town';
import { until as untilRaw } from '../helpers/wait';

/**
 * The Witness under the real daemon (issue 8), with fault injection through the sim agent: five polecats
 * slung at once into one town with short timings (stall after 3 s, 2 s of grace after a nudge, a check
 * every second), each showing one behaviour:
 *   zombie   kill -9 of its agent process mid-work   → detected within 10 s, restarted on the same hook and
 *                                                      worktree, its work lands
 *   hung     `first hang`                           → stalled → nudged → restarted → lands
 *   stuck    `hang` every time                      → restarted 3 times, escalated, never restarted again
 *   slow     commits every second for ~8 s          → never nudged or restarted
 *   rework   `first break-tests`, `rework delete …` → rejected by the gate, restarted for rework, lands
 */
const SLOW = 240_000;

interface AgentRow {
  id: string;
  state: string;
  hooked_bead: string | null;
  worktree: string | null;
  branch: string | null;
  pid: number | null;
  session: string | null;
  hook_restarts: number;
  escalated_at: number | null;
  health: string | null;
}

interface ActivityRow {
  id: number;
  at: number;
  kind: string;
  agent: string | null;
  bead: string | null;
  detail: string;
}

function script(lines: string[]): string {
  return `Witness test bead.\n\n\`\`\`sim\n${lines.join('\n')}\n\`\`\`\n`;
}

describe('the Witness', () => {
  let t: DaemonTown;
  const beads: Record<string, string> = {};
  const agents: Record<string, string> = {};
  const agentRow = (id: string) => t.ledger.prepare('SELECT * FROM agents WHERE id = ?').get(id) as AgentRow;
  const activity = (agent: string, kind?: string): ActivityRow[] =>
    (kind
      ? t.ledger.prepare('SELECT * FROM activity WHERE agent = ? AND kind = ? ORDER BY id').all(agent, kind)
      : t.ledger
          .prepare("SELECT * FROM activity WHERE agent = ? AND kind LIKE 'witness-%' ORDER BY id")
          .all(agent)) as ActivityRow[];
  const beadStatus = (id: string) =>
    (t.ledger.prepare('SELECT status FROM beads WHERE id = ?').get(id) as { status: string }).status;
  const mrs = (bead: string) =>
    t.ledger
      .prepare(
        'SELECT id, state, rejected_reason, head_sha, base_sha FROM merge_requests WHERE bead_id = ? ORDER BY id',
      )
      .all(bead) as Array<{
      id: number;
      state: string;
      rejected_reason: string | null;
      head_sha: string;
      base_sha: string;
    }>;

  /** until, but a timeout says what the town looked like (agents, MRs, Witness activity). */
  const until = async <T>(
    what: string,
    fn: () => Promise<T | undefined | false>,
    timeoutMs: number,
  ): Promise<T> => {
    try {
      return await untilRaw(what, fn, timeoutMs);
    } catch (error) {
      const dump = {
        agents: t.ledger
          .prepare('SELECT id, state, hooked_bead, health, session, hook_restarts FROM agents')
          .all(),
        mrs: t.ledger
          .prepare('SELECT id, bead_id, state, rejected_reason, followup FROM merge_requests')
          .all(),
        beads: t.ledger.prepare("SELECT id, status FROM beads WHERE issue_type = 'task'").all(),
        activity: t.ledger.prepare('SELECT kind, agent, detail FROM activity ORDER BY id').all(),
        sessions: Object.fromEntries(
          Object.values(agents).map((id) => {
            const file = join(t.town, 'logs', 'sessions', `gt-app-${id.split('/')[1]}.log`);
            const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
            const lines = text.split('\n').filter((l) => /\[sim\] (skip|step|hook|outcome|start)/.test(l));
            return [id, lines.map((l) => l.slice(0, 160)).slice(-40)];
          }),
        ),
        main: t.gitRun(['ls-tree', '-r', '--name-only', 'refs/heads/main'], t.bare).stdout.split('\n'),
        daemonLog: existsSync(join(t.town, 'logs', 'daemon.log'))
          ? readFileSync(join(t.town, 'logs', 'daemon.log'), 'utf8')
              .split('\n')
              .slice(-30)
          : [],
      };
      throw new Error(`${(error as Error).message}\n${JSON.stringify(dump, null, 1)}`);
    }
  };

  before(async () => {
    t = await makeDaemonTown({ maxPolecats: 6 });
    const timings = { stall_after: '3s', nudge_grace: '2s', check_interval: '1s', max_restarts: '3' };
    for (const [key, value] of Object.entries(timings))
      await t.gtOk(['config', 'set', `witness.${key}`, value]);
    // Every bead writes its own files, so their branches never conflict.
    const ticks = Array.from({ length: 40 }, () => 'first sleep 1s');
    beads.zombie = await t.createBead(
      'Zombie',
      script(['write src/zombie.txt "before the kill"', 'commit "zombie: first half"', ...ticks, 'done']),
    );
    beads.hung = await t.createBead(
      'Hung once',
      // --keep-session leaves its session at the prompt after the merge: the Witness's cleanup ends it.
      script(['write src/hung.txt "x"', 'commit "hung: work"', 'first hang', 'done --keep-session']),
    );
    beads.stuck = await t.createBead(
      'Always hangs',
      script(['write src/stuck.txt "x"', 'commit "stuck: work"', 'hang']),
    );
    const slow: string[] = [];
    for (let i = 1; i <= 8; i++)
      slow.push('sleep 1s', `write src/slow-${i}.txt "${i}"`, `commit "slow: part ${i}"`);
    beads.slow = await t.createBead('Slow but steady', script([...slow, 'done']));
    beads.rework = await t.createBead(
      'Broken first, fixed on rework',
      script([
        'write src/rework.txt "feature"',
        'first break-tests',
        'commit "rework: feature"',
        'rework delete test/sim-broken.test.mjs',
        'rework commit "rework: drop the broken test"',
        'done',
      ]),
    );
    await t.up();
    const order = ['zombie', 'hung', 'stuck', 'slow', 'rework'] as const;
    const slung = await t.gtOk(['sling', ...order.map((k) => beads[k]!), 'app']);
    for (const [i, k] of order.entries()) {
      const r = slung.results[i] as { bead: string; agent: string; status: string };
      assert.equal(r.bead, beads[k]);
      assert.equal(r.status, 'slung');
      agents[k] = r.agent;
    }
  });
  after(() => t?.cleanup());

  test('kill -9 of the agent process: a zombie within 10 s, restarted on the same hook and worktree, work lands', async () => {
    const id = agents.zombie!;
    const before = agentRow(id);
    const simLog = join(
      before.worktree!.startsWith('/') ? before.worktree! : join(t.town, before.worktree!),
      '.git',
      'gt-sim',
      'sim.log',
    );
    await until(
      'the zombie polecat is in its slow steps',
      async () => existsSync(simLog) && readFileSync(simLog, 'utf8').includes('"slept"'),
      SLOW,
    );
    const row = agentRow(id);
    assert.equal(row.state, 'working');
    assert.equal(activity(id).length, 0, 'a working polecat is left alone');
    const firstHead = t.git(
      ['rev-parse', 'HEAD'],
      join(t.town, 'rigs', 'app', 'polecats', id.split('/')[1]!),
    );
    // The session's launcher is agents.pid; the agent (node dist/sim.js) is its child.
    const sim = listProcesses().find((p) => p.ppid === row.pid);
    assert.ok(sim, `the sim process under launcher ${row.pid}`);
    const killedAt = Date.now();
    process.kill(sim.pid, 'SIGKILL');

    const zombie = await until(
      'the Witness reports the zombie',
      async () => activity(id, 'witness-zombie')[0],
      30_000,
    );
    assert.ok(zombie.at - killedAt < 10_000, `detected ${zombie.at - killedAt} ms after the kill`);
    assert.equal(zombie.bead, beads.zombie);
    assert.match(zombie.detail, /process is gone|session is gone/);

    const restarted = await until(
      'a new session on the same hook',
      async () => {
        const r = agentRow(id);
        return r.pid !== row.pid && r.pid !== null && r.state !== 'stopped' && r;
      },
      30_000,
    );
    assert.equal(restarted.hooked_bead, beads.zombie, 'same hook');
    assert.equal(restarted.worktree, row.worktree, 'same worktree');
    assert.equal(restarted.branch, row.branch, 'same branch');
    assert.equal(restarted.hook_restarts, 1);

    await until('the zombie bead merged', async () => beadStatus(beads.zombie!) === 'closed', SLOW);
    const merged = mrs(beads.zombie!).find((m) => m.state === 'merged');
    assert.ok(merged, 'an MR merged');
    assert.equal(
      t.gitRun(['merge-base', '--is-ancestor', firstHead, merged.head_sha], t.bare).code,
      0,
      'the commit made before the kill is part of what landed (the checkout was kept)',
    );
    assert.equal(activity(id, 'witness-restart').length, 0, 'not counted as a stall');
  });

  test('a hung polecat: stalled → nudged → restarted → completes', async () => {
    const id = agents.hung!;
    await until(
      'the hung bead submitted',
      async () => ['in_review', 'closed'].includes(beadStatus(beads.hung!)),
      SLOW,
    );
    const kinds = activity(id).map((a) => a.kind);
    const nudge = kinds.indexOf('witness-nudge');
    const restart = kinds.indexOf('witness-restart');
    assert.ok(nudge >= 0, `nudged: ${kinds.join(', ')}`);
    assert.ok(restart > nudge, `restarted after the nudge: ${kinds.join(', ')}`);
    assert.equal(kinds.filter((k) => k === 'witness-restart').length, 1, 'one restart was enough');
    assert.ok(!kinds.includes('witness-escalate'));
    const row = agentRow(id);
    assert.equal(row.hook_restarts, 1);
    assert.equal(row.escalated_at, null);
    await until('the hung bead merged', async () => beadStatus(beads.hung!) === 'closed', SLOW);
  });

  test('a worker that always hangs: restarted 3 times, then escalated once, and not restarted again', async () => {
    const id = agents.stuck!;
    const escalation = await until('the escalation', async () => activity(id, 'witness-escalate')[0], SLOW);
    const restarts = activity(id, 'witness-restart');
    assert.equal(restarts.length, 3, 'max_restarts restarts before escalating');
    assert.ok(restarts.every((r) => r.id < escalation.id));
    assert.ok(activity(id, 'witness-nudge').length >= 4, 'each stall is nudged first');
    const esc = t.ledger.prepare('SELECT * FROM escalations WHERE bead_id = ?').all(beads.stuck) as Array<{
      id: string;
      severity: string;
      summary: string;
      details: string;
      status: string;
    }>;
    assert.equal(esc.length, 1);
    assert.equal(esc[0]!.severity, 'HIGH');
    assert.match(esc[0]!.summary, new RegExp(`${id}.*${beads.stuck}`));
    assert.match(esc[0]!.details, /restarted its session 3 time/);
    assert.match(escalation.detail, new RegExp(esc[0]!.id));
    const row = agentRow(id);
    assert.equal(row.state, 'stalled');
    assert.equal(row.hook_restarts, 3);
    assert.ok(row.escalated_at);
    assert.equal(row.hooked_bead, beads.stuck, 'the hook and checkout are kept');

    // Two more full stall periods: nothing more happens to it.
    const pid = row.pid;
    await new Promise((r) => setTimeout(r, 9000));
    assert.equal(activity(id, 'witness-restart').length, 3);
    assert.equal(activity(id, 'witness-escalate').length, 1);
    assert.equal(agentRow(id).pid, pid, 'the same session: not restarted, not killed');
  });

  test('a slow worker that keeps committing is never nudged or restarted', async () => {
    const id = agents.slow!;
    await until(
      'the slow bead submitted',
      async () => ['in_review', 'closed'].includes(beadStatus(beads.slow!)),
      SLOW,
    );
    assert.deepEqual(
      activity(id).map((a) => `${a.kind}: ${a.detail}`),
      [],
      'no Witness action on a worker showing progress',
    );
    assert.equal(agentRow(id).hook_restarts, 0);
    const mr = mrs(beads.slow!)[0]!;
    const commits = t.git(['rev-list', '--count', `${mr.base_sha}..${mr.head_sha}`], t.bare);
    assert.equal(Number(commits), 8, 'all eight slow commits were made in one session');
  });

  test('a rejected bead is restarted for rework on the same hook and lands', async () => {
    const id = agents.rework!;
    const rework = await until('the rework restart', async () => activity(id, 'witness-rework')[0], SLOW);
    const history = mrs(beads.rework!);
    assert.ok(history.length >= 1);
    assert.equal(history[0]!.state, 'rejected');
    assert.equal(history[0]!.rejected_reason, 'gate-failed');
    assert.match(rework.detail, /rejected \(gate-failed\).*rework 1 of 3/);
    await until('the reworked bead merged', async () => beadStatus(beads.rework!) === 'closed', SLOW);
    const after = mrs(beads.rework!);
    assert.equal(after.filter((m) => m.state === 'merged').length, 1);
    assert.ok(after.length >= 2, 'a second MR after the rework');
    const restarts = t.ledger
      .prepare('SELECT count(*) AS n FROM activity WHERE agent = ? AND kind = ?')
      .get(id, 'witness-restart') as {
      n: number;
    };
    assert.equal(restarts.n, 0, 'rework is not a recovery restart');
    assert.equal(
      t.gitRun(['cat-file', '-e', 'refs/heads/main:test/sim-broken.test.mjs'], t.bare).code === 0,
      false,
      'main never got the broken test',
    );
    assert.ok(
      t.gitRun(['cat-file', '-e', 'refs/heads/main:src/rework.txt'], t.bare).code === 0,
      'the feature landed',
    );
  });

  test('merged polecats are cleaned up: a leftover session ended, no checkout, back in the pool', async () => {
    // The hung polecat submitted with --keep-session: merged and idle, its session still at the prompt.
    const hung = agents.hung!;
    const cleanup = await until(
      'the leftover session ended',
      async () => activity(hung, 'witness-cleanup')[0],
      SLOW,
    );
    assert.match(cleanup.detail, /session gt-app-\S+ ended/);
    const row = agentRow(hung);
    assert.equal(row.session, null);
    assert.equal(row.state, 'idle');
    for (const k of ['zombie', 'hung', 'rework'] as const) {
      const id = agents[k]!;
      const r = await until(
        `${id} back in the pool`,
        async () => {
          const r = agentRow(id);
          return r.state === 'idle' && r.hooked_bead === null && r;
        },
        SLOW,
      );
      assert.equal(r.worktree, null);
      assert.equal(existsSync(join(t.town, 'rigs', 'app', 'polecats', id.split('/')[1]!)), false);
    }
  });
});
