/**
 * `npm run bench`: every benchmark, or the ones named on the command line (e.g. `npm run bench -- ledger`).
 * Flags after the names go to the benchmarks that take them: `npm run bench -- refinery --p 0.1 --seeds 5`.
 */
import { runAgentsBench } from './agents';
import { runFleetBench } from './fleet';
import { runLedgerBench } from './ledger';
import { runMailBench } from './mail';
import { runRefineryBench } from './refinery';
import { runStatusBench } from './status';

const argv = process.argv.slice(2);
const firstFlag = argv.findIndex((a) => a.startsWith('-'));
const wanted = firstFlag < 0 ? argv : argv.slice(0, firstFlag);
const flags = firstFlag < 0 ? [] : argv.slice(firstFlag);

const suites: Record<string, () => void | Promise<void>> = {
  ledger: runLedgerBench,
  mail: runMailBench,
  agents: () => runAgentsBench(),
  refinery: () => runRefineryBench(flags),
  fleet: () => runFleetBench(),
  status: () => runStatusBench(),
};

for (const [name, run] of Object.entries(suites)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  console.log(`\n=== ${name} ===`);
  await run();
}
