import { Command } from 'commander';
import pkg from '../../../package.json' with { type: 'json' };
import { renderError, runProgram, wantsJson } from '../harness';
import { assertArgvUtf8 } from '../input';
import { registerGraphCommands } from './commands/graph';
import { registerIoCommands } from './commands/io';
import { registerWorkCommands } from './commands/work';
import type { GlobalOptions } from './context';

const program = new Command('bd')
  .description('beads: the work ledger shared by every agent in the town')
  .version(pkg.version, '-V, --version')
  .option('--json', 'machine-readable output')
  .option('--db <path>', 'ledger file to use (default: found from the working directory or GT_TOWN)')
  .option('--actor <name>', 'who is acting (default: BD_ACTOR, GT_AGENT, then the OS user)');

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
registerWorkCommands(program, globals);
registerGraphCommands(program, globals);
registerIoCommands(program, globals);

async function main(): Promise<void> {
  try {
    assertArgvUtf8(process.argv);
    await runProgram(program, process.argv);
  } catch (error) {
    process.exitCode = renderError(error, wantsJson(process.argv));
  }
}

void main();
