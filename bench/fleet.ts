/**
 * Fleet benchmark (prints figures, asserts nothing): 30 sim polecats, 90 beads in 30 dependency chains of
 * 3, the sample project's real Sheriff and gate, everything under the daemon. Reports the wall-clock time
 * from the first dispatch to the last merge against the lower bound set by the dependency chain: each of
 * the chain's 3 beads needs its own Sheriff run and gate run after its blocker landed, so
 *   lower bound = depth × (median Sheriff time + median gate time)
 * measured on the same machine just before the run.
 *
 *   npm run bench -- fleet      or      node --import tsx bench/fleet.ts
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { SAMPLE_GATE, SAMPLE_SHERIFF } from '../src/demo/sample-project';
import { makeDaemonTown } from '../test/helpers/daemon-town';
import { createFleet, landingsTested, mainIsGreen, mergedCount } from '../test/helpers/fleet';
import { median } from './stats';

function timeShell(command: string, cwd: string, runs = 5): number {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const start = performance.now();
    execFileSync('sh', ['-c', command], { cwd, stdio: 'ignore' });
    if (i > 0) times.push(performance.now() - start);
  }
  return median(times);
}

export async function runFleetBench(polecats = 30, chains = 30, depth = 3): Promise<void> {
  const t = await makeDaemonTown({ maxPolecats: polecats, rigToml: '\n[refinery]\nbatch_max = 16\n' });
  try {
    const checkout = join(t.dir, 'timing');
    execFileSync('git', ['clone', '--quiet', t.bare, checkout], { env: t.env, stdio: 'ignore' });
    const sheriff = timeShell(SAMPLE_SHERIFF, checkout);
    const gate = timeShell(SAMPLE_GATE, checkout);
    const lowerBound = depth * (sheriff + gate);

    const fleet = await createFleet(t, chains, depth);
    await t.up();
    const deadline = Date.now() + 30 * 60_000;
    while (mergedCount(t, fleet.ids) < fleet.ids.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
    }
    const merged = mergedCount(t, fleet.ids);
    const list = fleet.ids.map(() => '?').join(',');
    const first = (
      t.ledger
        .prepare(`SELECT min(started_at) AS t FROM agent_history WHERE bead_id IN (${list})`)
        .get(...fleet.ids) as {
        t: number;
      }
    ).t;
    const last = (
      t.ledger.prepare(`SELECT max(closed_at) AS t FROM beads WHERE id IN (${list})`).get(...fleet.ids) as {
        t: number;
      }
    ).t;
    const runs = t.ledger.prepare('SELECT kind, count(*) AS n FROM gate_runs GROUP BY kind').all() as Array<{
      kind: string;
      n: number;
    }>;
    const batches = (
      t.ledger.prepare("SELECT count(*) AS n FROM mq_batches WHERE state = 'done'").get() as { n: number }
    ).n;
    const wall = last - first;
    const landed = landingsTested(t);
    console.log(`fleet: ${polecats} sim polecats, ${fleet.ids.length} beads in ${chains} chains of ${depth}`);
    console.log(`  merged:               ${merged}/${fleet.ids.length}`);
    console.log(`  first sling → last merge: ${(wall / 1000).toFixed(1)} s`);
    console.log(
      `  lower bound:          ${(lowerBound / 1000).toFixed(1)} s = ${depth} × (Sheriff ${sheriff.toFixed(0)} ms + gate ${gate.toFixed(0)} ms)`,
    );
    console.log(`  ratio:                ${(wall / lowerBound).toFixed(1)}× the lower bound`);
    console.log(
      `  gate runs:            ${runs.find((r) => r.kind === 'gate')?.n ?? 0} (${batches} landed batches); Sheriff runs ${runs.find((r) => r.kind === 'sheriff')?.n ?? 0}`,
    );
    console.log(
      `  main:                 ${landed.ok ? 'every landing tested' : `NOT ALL TESTED: ${landed.detail}`}; ${mainIsGreen(t) ? 'green' : 'RED'}`,
    );
    await t.down(true);
  } finally {
    t.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runFleetBench();
