import type { Command } from 'commander';
import { action, type CommandResult, wantsJson, withJson } from '../harness';

/** `gt demo [--keep] [--agents N]`: the whole factory on a sample project with simulated agents. */
async function demo(flags: {
  keep?: boolean;
  agents?: string;
  timeout?: string;
  dir?: string;
}): Promise<CommandResult> {
  const { GtError } = await import('../../core/errors');
  const { parseDuration } = await import('../../town/duration');
  const { runDemo } = await import('../../demo/run');
  const agents = Number.parseInt(flags.agents ?? '4', 10);
  if (
    !Number.isInteger(agents) ||
    agents < 1 ||
    agents > 30 ||
    String(agents) !== String(flags.agents ?? '4').trim()
  ) {
    throw new GtError('GT_E_USAGE', `--agents must be a whole number from 1 to 30, not '${flags.agents}'`, {
      hint: 'e.g. gt demo --agents 6',
    });
  }
  const timeoutMs = parseDuration(flags.timeout ?? '10m');
  if (timeoutMs === undefined || timeoutMs <= 0) {
    throw new GtError('GT_E_USAGE', `--timeout must be a duration like 10m, not '${flags.timeout}'`, {
      hint: 'e.g. gt demo --timeout 15m',
    });
  }
  const json = wantsJson(process.argv);
  const progress = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);
  const summary = await runDemo({ agents, keep: Boolean(flags.keep), dir: flags.dir, timeoutMs, progress });
  const text = () => {
    const s = summary;
    const lines = [
      '',
      `gt demo ${s.ok ? 'PASSED' : 'FAILED'} in ${(s.duration_ms / 1000).toFixed(1)}s with ${s.agents} sim polecats`,
      `  beads merged      ${s.beads.merged}/${s.beads.total}`,
      `  merge requests    ${s.merge_requests.merged} merged, ${s.merge_requests.rejected} rejected`,
      `  gate runs         ${s.gate_runs} (in ${s.batches} decided batches), Sheriff runs ${s.sheriff_runs}`,
      `  recoveries        ${s.recoveries} (Witness restarts), reworks ${s.reworks}`,
      `  main              ${s.main.sha.slice(0, 12)} ${s.main.green ? 'green' : 'RED'}`,
      '',
      ...s.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name} — ${c.detail}`),
      '',
      s.kept
        ? `the town is kept for inspection: cd ${s.town} && gt status`
        : 'the demo town was removed (--keep keeps it)',
    ];
    return lines.join('\n');
  };
  if (!summary.ok) {
    process.stdout.write(`${json ? JSON.stringify(summary, null, 2) : text()}\n`);
    throw new GtError(
      'GT_E_DEMO_FAILED',
      `the demo failed: ${summary.checks
        .filter((c) => !c.ok)
        .map((c) => c.name)
        .join('; ')}`,
      {
        hint: `inspect the town it kept: ${summary.town} (gt status, gt feed --no-follow, gt daemon logs)`,
      },
    );
  }
  return { data: summary, text };
}

export function registerDemoCommand(program: Command): void {
  withJson(
    program
      .command('demo')
      .description('run the whole factory on a sample project with simulated agents (no API key needed)')
      .option('--keep', 'keep the demo town afterwards for inspection')
      .option('--agents <n>', 'how many sim polecats may work at once (1–30)', '4')
      .option('--timeout <duration>', 'give up after this long', '10m')
      .option(
        '--dir <path>',
        'make the demo town here instead of a temporary directory (must not exist or be empty)',
      ),
  ).action(action(demo));
}
