/**
 * Refinery benchmark (issue 7): a synthetic rig whose gate takes a fixed time T (a sleep), 32 MRs of which
 * a fraction p break the gate. For p = 0%, 10%, 30%, the bisecting batch queue and a naive one-at-a-time
 * queue (the same controller in mode 'naive': batch size 1, so no bisection) run in the same process on
 * identical MR sets. Reported: gate runs per merged MR, enqueue → main time (median, p95) in units of T,
 * and whether main stayed green (every first-parent commit passed the gate). Prints figures; asserts nothing.
 *
 *   npm run bench -- refinery   or   node --import tsx bench/refinery.ts [--t 0.3] [--mrs 32] [--parallel 3] [--bisect] [--p 0.1]
 * Batch mode runs with `[refinery] gate_parallelism = --parallel` (speculative parallel gate runs).
 * Needs `npm run build` (the town is made with the real gt install / gt rig add).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { makeRefineryTown } from '../test/helpers/refinery-fixtures';
import { median, percentile } from './stats';

interface Figures {
  mode: 'batch' | 'naive';
  p: number;
  merged: number;
  rejected: number;
  gateRuns: number;
  runsPerMerged: number;
  medianT: number;
  p95T: number;
  green: boolean;
  wallT: number;
}

/** A small deterministic PRNG (mulberry32), so both modes see the same broken MRs. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function brokenSet(n: number, p: number, seed: number): Set<number> {
  const k = Math.round(n * p);
  const order = Array.from({ length: n }, (_, i) => i);
  const r = rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return new Set(order.slice(0, k));
}

async function runOne(
  mode: 'batch' | 'naive',
  p: number,
  n: number,
  tSeconds: number,
  parallelism: number,
  parallelBisection = false,
): Promise<Figures> {
  const t = await makeRefineryTown();
  try {
    // Batch mode runs with speculative parallel gates (naive mode always runs one gate at a time).
    if (mode === 'batch') {
      t.configure({
        extra: `[refinery]\ngate_parallelism = ${parallelism}\nparallel_bisection = ${parallelBisection}`,
      });
    }
    const broken = brokenSet(n, p, 7 + Math.round(p * 100));
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push((await t.addMr({ name: `m${i}`, broken: broken.has(i) })).mr);
    writeFileSync(join(t.dir, 'sleep'), String(tSeconds));
    writeFileSync(t.gateLog, '');
    // Everything is enqueued at once, at t0.
    const t0 = Date.now();
    t.store.db.prepare('UPDATE merge_requests SET created_at = ?').run(t0);
    await t.refinery({ mode }).drain();
    const wall = Date.now() - t0;
    const landed = t.store.db
      .prepare("SELECT mr_id, created_at FROM mr_events WHERE event = 'landed'")
      .all() as Array<{ mr_id: number; created_at: number }>;
    const times = landed.map((l) => (l.created_at - t0) / 1000 / tSeconds);
    const rejected = (
      t.store.db.prepare("SELECT count(*) AS n FROM merge_requests WHERE state = 'rejected'").get() as {
        n: number;
      }
    ).n;
    let green = true;
    try {
      t.assertMainGreen();
    } catch {
      green = false;
    }
    const gateRuns = t.gateRuns();
    return {
      mode,
      p,
      merged: landed.length,
      rejected,
      gateRuns,
      runsPerMerged: landed.length ? gateRuns / landed.length : Number.NaN,
      medianT: times.length ? median(times) : Number.NaN,
      p95T: times.length ? percentile(times, 95) : Number.NaN,
      green,
      wallT: wall / 1000 / tSeconds,
    };
  } finally {
    t.cleanup();
  }
}

export async function runRefineryBench(argv: string[] = []): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      t: { type: 'string', default: '0.3' },
      mrs: { type: 'string', default: '32' },
      parallel: { type: 'string', default: '3' },
      p: { type: 'string', multiple: true },
      bisect: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const tSeconds = Number(values.t);
  const n = Number(values.mrs);
  const parallelism = Number(values.parallel);
  const parallelBisection = Boolean(values.bisect);
  console.log(
    `synthetic rig: gate = sleep ${tSeconds}s (T), ${n} MRs enqueued at once; times in units of T; batch mode: gate_parallelism = ${parallelism}, parallel_bisection = ${parallelBisection}`,
  );
  console.log('mode   p     merged rejected gate-runs runs/merged  median(T)  p95(T)  wall(T)  main-green');
  const rows: Figures[] = [];
  const ps = values.p?.length ? values.p.map(Number) : [0, 0.1, 0.3];
  for (const p of ps) {
    for (const mode of ['batch', 'naive'] as const) {
      const f = await runOne(mode, p, n, tSeconds, parallelism, parallelBisection);
      rows.push(f);
      console.log(
        `${f.mode.padEnd(6)} ${`${Math.round(p * 100)}%`.padEnd(5)} ${String(f.merged).padStart(6)} ${String(f.rejected).padStart(8)} ${String(f.gateRuns).padStart(9)} ${f.runsPerMerged.toFixed(3).padStart(11)} ${f.medianT.toFixed(1).padStart(10)} ${f.p95T.toFixed(1).padStart(7)} ${f.wallT.toFixed(1).padStart(8)}  ${f.green ? 'yes' : 'NO'}`,
      );
    }
    const b = rows.find((r) => r.p === p && r.mode === 'batch')!;
    const q = rows.find((r) => r.p === p && r.mode === 'naive')!;
    console.log(
      `  p=${Math.round(p * 100)}%: runs/merged batch/naive = ${(b.runsPerMerged / q.runsPerMerged).toFixed(2)}, median time batch/naive = ${(b.medianT / q.medianT).toFixed(2)}`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runRefineryBench(process.argv.slice(2));
}
