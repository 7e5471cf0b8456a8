/** `npm run bench`: every benchmark, or the ones named on the command line (e.g. `npm run bench -- ledger`). */
import { runAgentsBench } from './agents';
import { runFleetBench } from './fleet';
import { runLedgerBench } from './ledger';
import { runMailBench } from './mail';
import { runRefineryBench } from './refinery';
import { runStatusBench } from './status';

const suites: Record<string, () => void | Promise<void>> = {
  ledger: runLedgerBench,
  mail: runMailBench,
  agents: () => runAgentsBench(),
  refinery: () => runRefineryBench(),
  fleet: () => runFleetBench(),
  status: () => runStatusBench(),
};

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(suites)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  console.log(`\n=== ${name} ===`);
  await run();
}
