import { Command } from 'commander';
import pkg from '../../../package.json' with { type: 'json' };
import { runProgram } from '../harness';
import { registerGtCommands } from './commands';

const program = new Command('gt')
  .description('Gas Town: a coding factory that runs a fleet of AI coding agents on your git repositories')
  .version(pkg.version, '-V, --version')
  .showHelpAfterError(false);

registerGtCommands(program);

void runProgram(program, process.argv);
