#!/usr/bin/env node
// A trivial agent for session tests: shows its identity and cwd, prints a ready prompt, then echoes every
// input line as GOT[<json>] so tests can check text arrived literally. `--spawn-child <pidfile>` starts a
// long-lived grandchild (to prove kills take the whole tree). `--exit <code>` exits after the first line.
// A line containing 'go-busy' makes it show a busy indicator.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const ids = [
  'GT_TOWN',
  'GT_RIG',
  'GT_ROLE',
  'GT_AGENT',
  'BD_ACTOR',
  'GT_TEST_SECRET',
  'GT_CONFORMANCE_API_KEY',
];
for (const name of ids) process.stdout.write(`ENV ${name}=${process.env[name] ?? ''}\n`);
process.stdout.write(`CWD ${process.cwd()}\n`);
const pidFile = flag('--spawn-child');
if (pidFile) {
  const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
  writeFileSync(pidFile, String(child.pid));
}
const exitCode = flag('--exit');
process.stdout.write('READY> \n');
// Without input (headless, stdin at EOF) stay up like an agent working on its own.
if (args.includes('--stay')) setInterval(() => {}, 60_000);
const rl = createInterface({ input: process.stdin, terminal: false });
rl.on('line', (line) => {
  process.stdout.write(`GOT[${JSON.stringify(line)}]\n`);
  // Looks like an agent mid-turn (Claude Code's busy footer) until the next line arrives.
  if (line.includes('go-busy')) process.stdout.write('BUSY (esc to interrupt)\n');
  if (exitCode !== undefined) process.exit(Number(exitCode));
});
