import { Command } from 'commander';
import pkg from '../../../package.json' with { type: 'json' };
import { runProgram } from '../harness';

const program = new Command('bd').description('beads: the work ledger').version(pkg.version, '-V, --version');

await runProgram(program, process.argv);
