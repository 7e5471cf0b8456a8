/**
 * `gt status` and the idle daemon (prints figures, asserts nothing). Run after `npm run build`:
 *   npm run bench -- status      or      node --import tsx bench/status.ts [--agents 30] [--idle 20]
 *
 * A real town (rig app) whose ledger holds a full fleet's worth of state: N polecat records (idle, so the
 * daemon has nothing to recover), 3N beads, 2N finished merge requests with their trails, 10 open convoys
 * and a few open escalations; the daemon runs (gt up) with automatic convoy feeding off, so nothing is
 * dispatched.
 * 1. Whole-process wall time of `gt status --json` (and `gt feed --no-follow`, and `gt --version` for gt's
 *    own start-up), medians of runs interleaved with a bare `node -e 0`. Target: tens of milliseconds above
 *    node.
 * 2. The idle daemon's CPU over a window: utime+stime from /proc/<pid>/stat before and after (and its
 *    reaped children's, e.g. tmux calls), as a percentage of one core.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { openLedger } from '../src/ledger/open';
import { BeadStore } from '../src/ledger/store';
import { createConvoy } from '../src/services/convoy';
import { createEscalation } from '../src/services/escalation';
import { makeDaemonTown } from '../test/helpers/daemon-town';
import { GT_BIN } from '../test/helpers/gt';
import { fmt, processMediansVsBare } from './stats';

export function populate(town: string, agents: number): void {
  const db = openLedger(join(town, '.gt', 'ledger.db'));
  try {
    const store = new BeadStore(db, 'bench');
    const prefix = (db.prepare("SELECT prefix FROM rigs WHERE name = 'app'").get() as { prefix: string })
      .prefix;
    const now = Date.now();
    store.write(() => {
      const beads = Array.from({ length: 3 * agents }, (_, i) =>
        store.create({ title: `Feature ${i}`, rig: 'app', prefix, priority: i % 4 }),
      );
      const agent = db.prepare(
        `INSERT INTO agents (id, role, rig, name, state, health, created_at, updated_at)
           VALUES (?, 'polecat', 'app', ?, 'idle', 'idle', ?, ?)`,
      );
      for (let i = 0; i < agents; i++) agent.run(`app/p${i}`, `p${i}`, now, now);
      const mr = db.prepare(
        `INSERT INTO merge_requests (rig, bead_id, agent_id, branch, head_sha, base_sha, state, rejected_reason,
                                     merged_sha, created_at, updated_at)
           VALUES ('app', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const event = db.prepare(
        `INSERT INTO mr_events (mr_id, event, from_state, to_state, actor, detail, created_at)
           VALUES (?, ?, ?, ?, ?, NULL, ?)`,
      );
      for (let i = 0; i < 2 * agents; i++) {
        const bead = beads[i]!;
        const merged = i % 5 !== 0;
        const sha = i.toString(16).padStart(40, '0');
        const id = Number(
          mr.run(
            bead.id,
            `app/p${i % agents}`,
            `polecat/p${i % agents}/${bead.id}`,
            sha,
            'f'.repeat(40),
            merged ? 'merged' : 'rejected',
            merged ? null : 'gate failed',
            merged ? sha : null,
            now,
            now,
          ).lastInsertRowid,
        );
        event.run(id, 'created', null, 'queued', `app/p${i % agents}`, now);
        event.run(
          id,
          merged ? 'landed' : 'rejected',
          'testing',
          merged ? 'merged' : 'rejected',
          'refinery',
          now,
        );
        if (merged) store.close(bead.id, 'merged', true);
      }
      for (let c = 0; c < 10; c++) {
        createConvoy(
          store,
          `Convoy ${c}`,
          beads.filter((_, i) => i % 10 === c).map((b) => b.id),
        );
      }
    });
    for (const severity of ['HIGH', 'MEDIUM', 'MEDIUM']) {
      createEscalation(store, { severity, summary: `needs a decision (${severity})`, source: 'mayor' });
    }
  } finally {
    db.close();
  }
}

function cpuTicks(pid: number): { own: number; children: number } {
  // Fields after the parenthesised command: state is field 3; utime 14, stime 15, cutime 16, cstime 17.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const n = (field: number) => Number(fields[field - 3]);
  return { own: n(14) + n(15), children: n(16) + n(17) };
}

function clockTicksPerSecond(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

export async function runStatusBench(agents = 30, idleSeconds = 20, runs = 15): Promise<void> {
  const t = await makeDaemonTown();
  try {
    await t.gtOk(['config', 'set', 'scheduler.feed_convoys', 'false']);
    populate(t.town, agents);
    await t.up();
    const pid = JSON.parse(readFileSync(join(t.town, '.gt', 'run', 'daemon.pid'), 'utf8')).pid as number;
    // Let start-up work (first ticks, first Refinery pass) finish before measuring anything.
    await new Promise((r) => setTimeout(r, 5000));

    const { bare, medians } = processMediansVsBare(
      {
        // gt's own start-up (loading its bundle), to tell it apart from what status itself costs.
        'gt --version': [GT_BIN, '--version'],
        'gt status --json': [GT_BIN, 'status', '--json'],
        'gt feed --no-follow': [GT_BIN, 'feed', '--plain', '--no-follow'],
      },
      { cwd: t.town, runs },
    );
    console.log(
      `latency: ${agents} agents, ${3 * agents} beads, ${2 * agents} MRs, 10 convoys, daemon up; medians of ${runs}`,
    );
    console.log(`  node -e 0:              ${fmt(bare)} ms`);
    for (const [name, ms] of Object.entries(medians)) {
      console.log(
        `  ${name.padEnd(22)}  ${fmt(ms)} ms  (+${fmt(ms - bare)} ms, ${(ms / bare).toFixed(2)}× node)`,
      );
    }

    const hz = clockTicksPerSecond();
    const before = cpuTicks(pid);
    const started = performance.now();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const after = cpuTicks(pid);
    const seconds = (performance.now() - started) / 1000;
    const pct = (ticks: number) => ((ticks / hz / seconds) * 100).toFixed(2);
    const own = after.own - before.own;
    const children = after.children - before.children;
    console.log(`idle daemon: ${agents} idle agents, ${seconds.toFixed(1)} s`);
    console.log(`  daemon process:        ${pct(own)}% of one core (${own} ticks at ${hz} Hz)`);
    console.log(`  with its children:     ${pct(own + children)}% of one core`);
  } finally {
    try {
      await t.down();
    } catch {}
    t.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { agents: { type: 'string' }, idle: { type: 'string' }, runs: { type: 'string' } },
  });
  await runStatusBench(Number(values.agents ?? 30), Number(values.idle ?? 20), Number(values.runs ?? 15));
}
