/**
 * Agent runtime benchmarks (prints figures, asserts nothing). Run after `npm run build`:
 *   npm run bench -- agents      or      node --import tsx bench/agents.ts [--sessions 30] [--runs 15]
 *
 * 1. Start N sim sessions in tmux (through the same service `gt session start` uses) and wait until
 *    every one shows its ready prompt. Target: ≤ 10 s for 30 on a 2-core machine.
 * 2. Whole-process latency of `gt agents --json` with N agent records, against a bare `node -e 0`
 *    (medians of interleaved runs). Target: ≤ 2× node.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { openLedger } from '../src/ledger/open';
import { ensureAgentRow } from '../src/runtime/agent-rows';
import { resolvePreset } from '../src/runtime/presets';
import { providerFor } from '../src/runtime/town-runtime';
import { startAgentSession, waitReady } from '../src/services/agent-sessions';
import { GT_BIN, makeAgentTown } from '../test/helpers/agent-town';
import { median } from './stats';

const run = (args: string[], cwd: string) =>
  new Promise<number>((resolve, reject) => {
    const started = process.hrtime.bigint();
    execFile(process.execPath, args, { cwd }, (error) => {
      if (error) reject(error);
      else resolve(Number(process.hrtime.bigint() - started) / 1e6);
    });
  });

export async function runAgentsBench(N = 30, RUNS = 15): Promise<void> {
  const town = makeAgentTown('[roles.polecat]\nagent = "sim"\n');
  try {
    const db = openLedger(join(town.root, '.gt', 'ledger.db'));
    const rows = Array.from({ length: N }, (_, i) =>
      ensureAgentRow(db, { id: `rig/p${i}`, role: 'polecat', rig: 'rig', name: `p${i}` }),
    );
    const provider = providerFor('tmux', town.root);
    const sim = resolvePreset('sim');

    const t0 = performance.now();
    // Sim agents talk to gt at start; keep them from needing a full town (the bench measures sessions).
    const env = { GT_SIM_NO_GT: '1' };
    const started = await Promise.all(rows.map((row) => startAgentSession(town.root, db, row, { env })));
    const t1 = performance.now();
    const ready = await Promise.all(started.map((s) => waitReady(provider, s.session, sim, 30_000)));
    const t2 = performance.now();
    console.log(`sessions: ${N} sim sessions in tmux`);
    console.log(`  all started:  ${(t1 - t0).toFixed(0)} ms`);
    console.log(
      `  all ready:    ${(t2 - t0).toFixed(0)} ms  (${ready.filter(Boolean).length}/${N} ready; target ≤ 10000 ms)`,
    );
    db.close();

    const node: number[] = [];
    const agents: number[] = [];
    await run([GT_BIN, 'agents', '--json'], town.root); // warm the file cache
    // Interleaved, so machine load affects both alike.
    for (let i = 0; i < RUNS; i++) {
      node.push(await run(['-e', '0'], town.root));
      agents.push(await run([GT_BIN, 'agents', '--json'], town.root));
    }
    const a = median(agents);
    const b = median(node);
    console.log(`latency: gt agents --json with ${N} agents, median of ${RUNS}`);
    console.log(`  node -e 0:        ${b.toFixed(1)} ms`);
    console.log(`  gt agents --json: ${a.toFixed(1)} ms  (${(a / b).toFixed(2)}× node; target ≤ 2×)`);
  } finally {
    await town.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { sessions: { type: 'string' }, runs: { type: 'string' } } });
  await runAgentsBench(Number(values.sessions ?? 30), Number(values.runs ?? 15));
}
