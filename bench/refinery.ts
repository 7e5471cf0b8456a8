/**
 * Refinery benchmark (issue 7): a synthetic rig whose gate takes a fixed time T (a sleep), 32 MRs of which
 * a fraction p break the gate. For p = 0%, 10%, 30%, the bisecting batch queue and a naive one-at-a-time
 * queue (the same controller in mode 'naive': batch size 1, so no bisection) run in the same process on
 * identical MR sets. Reported: gate runs per merged MR, enqueue → main time (median, p95) in units of T,
 * and whether main stayed green (every first-parent commit passed the gate). Prints figures; asserts nothing.
 *
 *   npm run bench -- refinery   or   node --import tsx bench/refinery.ts [--t 2] [--mrs 32] [--parallel 3]
 *     [--bisect] [--p 0.1] [--seeds 3] [--trace] [--only batch|naive]
 * Batch mode runs with `[refinery] gate_parallelism = --parallel`. Which MRs are broken is drawn at random;
 * one draw is a sample of one, so each p > 0 runs --seeds draws and reports each and their median.
 * T defaults to 2 s: real gates take minutes, and with a tiny T the figures measure git's process start-up
 * more than the queue (--t 0.3 for a quick look). Needs `npm run build` (towns are made with the real gt).
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
  trace = false,
  seed = 7 + Math.round(p * 100),
): Promise<Figures> {
  const t = await makeRefineryTown();
  try {
    // Batch mode runs with speculative parallel gates (naive mode always runs one gate at a time).
    if (mode === 'batch') {
      t.configure({
        extra: `[refinery]\ngate_parallelism = ${parallelism}\nparallel_bisection = ${parallelBisection}`,
      });
    }
    const broken = brokenSet(n, p, seed);
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
    if (trace) {
      const rows = t.store.db
        .prepare(
          'SELECT id, base_sha, members, path, outcome, created_at, updated_at FROM mq_batches ORDER BY id',
        )
        .all() as Array<{
        id: number;
        base_sha: string;
        members: string;
        path: string;
        outcome: string | null;
        created_at: number;
        updated_at: number;
      }>;
      for (const r of rows) {
        const o = JSON.parse(r.outcome ?? '{}') as { kind?: string; why?: string };
        console.log(
          `  ${mode} batch ${r.id} on ${r.base_sha.slice(0, 7)} [${(JSON.parse(r.members) as number[]).join(',')}] ${((r.created_at - t0) / 1000 / tSeconds).toFixed(1)}T→${((r.updated_at - t0) / 1000 / tSeconds).toFixed(1)}T: ${r.path} ${o.kind === 'abandoned' ? `(${o.why})` : ''}`,
        );
      }
    }
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
      t: { type: 'string', default: '2' },
      mrs: { type: 'string', default: '32' },
      parallel: { type: 'string', default: '3' },
      p: { type: 'string', multiple: true },
      bisect: { type: 'boolean', default: false },
      trace: { type: 'boolean', default: false },
      seeds: { type: 'string', default: '3' },
      only: { type: 'string' },
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
  const seeds = Math.max(1, Number(values.seeds));
  console.log(
    `culprits drawn at random: ${seeds} draw${seeds === 1 ? '' : 's'} per p (seed 7+100p, then +1000 per draw); both modes see the same draw`,
  );
  console.log(
    'mode   p    draw merged rejected gate-runs runs/merged  median(T)  p95(T)  wall(T)  main-green',
  );
  const ps = values.p?.length ? values.p.map(Number) : [0, 0.1, 0.3];
  for (const p of ps) {
    const ratios: Array<{ runs: number; time: number; batchRuns: number }> = [];
    // p = 0 has nothing to draw: one run says it all.
    for (let draw = 0; draw < (p === 0 ? 1 : seeds); draw++) {
      const seed = 7 + Math.round(p * 100) + 1000 * draw;
      const pair: Figures[] = [];
      const modes = (['batch', 'naive'] as const).filter((m) => !values.only || values.only === m);
      for (const mode of modes) {
        const trace = mode === 'batch' && Boolean(values.trace);
        const f = await runOne(mode, p, n, tSeconds, parallelism, parallelBisection, trace, seed);
        pair.push(f);
        console.log(
          `${f.mode.padEnd(6)} ${`${Math.round(p * 100)}%`.padEnd(4)} ${String(draw + 1).padStart(4)} ${String(f.merged).padStart(6)} ${String(f.rejected).padStart(8)} ${String(f.gateRuns).padStart(9)} ${f.runsPerMerged.toFixed(3).padStart(11)} ${f.medianT.toFixed(1).padStart(10)} ${f.p95T.toFixed(1).padStart(7)} ${f.wallT.toFixed(1).padStart(8)}  ${f.green ? 'yes' : 'NO'}`,
        );
      }
      if (pair.length < 2) continue;
      const [b, q] = pair as [Figures, Figures];
      ratios.push({
        runs: b.runsPerMerged / q.runsPerMerged,
        time: b.medianT / q.medianT,
        batchRuns: b.runsPerMerged,
      });
      console.log(
        `  p=${Math.round(p * 100)}% draw ${draw + 1}: runs/merged batch/naive = ${(b.runsPerMerged / q.runsPerMerged).toFixed(2)}, median time batch/naive = ${(b.medianT / q.medianT).toFixed(2)}`,
      );
    }
    if (ratios.length > 1) {
      const times = ratios.map((r) => r.time);
      console.log(
        `  p=${Math.round(p * 100)}% over ${ratios.length} draws: batch runs/merged median ${median(ratios.map((r) => r.batchRuns)).toFixed(3)} (max ${Math.max(...ratios.map((r) => r.batchRuns)).toFixed(3)}), runs batch/naive max ${Math.max(...ratios.map((r) => r.runs)).toFixed(2)}, median-time ratio median ${median(times).toFixed(2)} (min ${Math.min(...times).toFixed(2)}, max ${Math.max(...times).toFixed(2)})`,
      );
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runRefineryBench(process.argv.slice(2));
}
