import type { Command } from 'commander';
import { action, type CommandResult, withJson } from '../harness';

/**
 * `gt up`, `gt down [--all]`, `gt daemon status|logs|run` (docs/daemon.md). Services load lazily.
 */
async function up(): Promise<CommandResult> {
  const { findTownRoot } = await import('../../town/locate-town');
  const { startDaemon } = await import('../../daemon/control');
  const root = findTownRoot(process.cwd());
  const result = await startDaemon(root);
  return {
    data: result,
    text: () =>
      result.status === 'started'
        ? `daemon started (pid ${result.pid}); log: ${result.log_file}`
        : `daemon already running (pid ${result.pid}, since ${result.started_at})`,
  };
}

async function down(flags: { all?: boolean }): Promise<CommandResult> {
  const { findTownRoot } = await import('../../town/locate-town');
  const { stopDaemon } = await import('../../daemon/control');
  const root = findTownRoot(process.cwd());
  const result = await stopDaemon(root);
  let agents: { stopped: string[] } | null = null;
  if (flags.all) {
    const { stopAllAgents } = await import('../../services/emergency');
    const { withTownLedger } = await import('../../services/town-ledger');
    agents = await withTownLedger(({ root: r, store }) => stopAllAgents(r, store, { pauseDispatch: false }));
  }
  return {
    data: { daemon: result, agents },
    text: () =>
      [
        result.status === 'not-running'
          ? 'the daemon was not running'
          : `daemon stopped (pid ${result.pid}${result.status === 'killed' ? ', killed after the grace period' : ''})`,
        agents
          ? `agent sessions stopped: ${agents.stopped.length} (hooks and worktrees kept; gt resume restarts them)`
          : '',
      ]
        .filter(Boolean)
        .join('\n'),
  };
}

async function daemonStatus(): Promise<CommandResult> {
  const { findTownRoot } = await import('../../town/locate-town');
  const { daemonHealth } = await import('../../daemon/status-file');
  const health = daemonHealth(findTownRoot(process.cwd()));
  return {
    data: health,
    exitCode: health.health === 'running' ? 0 : 1,
    text: () => {
      if (health.health === 'not-running') return "daemon: not running (start it with 'gt up')";
      const lines = [
        `daemon: ${health.health} (pid ${health.pid}, since ${health.started_at}, heartbeat ${Math.round((health.heartbeat_age_ms ?? 0) / 1000)}s ago)`,
      ];
      for (const c of health.controllers) {
        lines.push(
          `  ${c.name.padEnd(24)} ${c.state.padEnd(8)} ticks ${c.ticks}${c.failures ? `, failures ${c.failures}` : ''}${c.last_error && c.state !== 'running' ? ` — ${c.last_error}` : ''}`,
        );
      }
      return lines.join('\n');
    },
  };
}

async function daemonLogs(flags: {
  lines?: string;
  follow?: boolean;
  json?: boolean;
}): Promise<CommandResult> {
  const { findTownRoot } = await import('../../town/locate-town');
  const { daemonPaths } = await import('../../daemon/paths');
  const { formatLogLine, followLog } = await import('../../daemon/log-view');
  const { readLogTail } = await import('../../runtime/headless');
  const { GtError } = await import('../../core/errors');
  const n = Number.parseInt(flags.lines ?? '50', 10);
  if (!Number.isInteger(n) || n < 0 || n > 100_000) {
    throw new GtError('GT_E_USAGE', `--lines must be a number from 0 to 100000, not '${flags.lines}'`, {
      hint: 'e.g. gt daemon logs -n 200',
    });
  }
  const file = daemonPaths(findTownRoot(process.cwd())).logFile;
  const render = (line: string) => (flags.json ? line : formatLogLine(line));
  const tail = readLogTail(file, n, 4 * 1024 * 1024)
    .split('\n')
    .filter((l) => l.trim() !== '');
  if (flags.follow) {
    for (const line of tail) process.stdout.write(`${render(line)}\n`);
    await followLog(file, (line) => process.stdout.write(`${render(line)}\n`));
    return { data: null, text: () => '' };
  }
  return {
    data: tail.map((l) => {
      try {
        return JSON.parse(l) as unknown;
      } catch {
        return l;
      }
    }),
    text: () => (tail.length === 0 ? `no daemon log yet (${file})` : tail.map(render).join('\n')),
  };
}

async function daemonRun(): Promise<CommandResult> {
  const { findTownRoot } = await import('../../town/locate-town');
  const { daemonBundle } = await import('../../daemon/control');
  const { spawn } = await import('node:child_process');
  const root = findTownRoot(process.cwd());
  // The daemon is its own bundle; run it in the foreground with our stdio. Signals reach it through the
  // shared process group (Ctrl-C) or are forwarded.
  const child = spawn(process.execPath, [daemonBundle(), '--town', root], { stdio: 'inherit' });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => child.kill(signal));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  return { data: { exit_code: code }, text: () => '', exitCode: code };
}

export function registerDaemonCommands(program: Command): void {
  withJson(
    program.command('up').description('start the town daemon (Refinery, Witness, scheduler, Deacon)'),
  ).action(action(up));
  withJson(
    program
      .command('down')
      .description('stop the town daemon; agents keep running unless --all')
      .option('--all', 'also stop every agent session (hooks, worktrees and commits are kept)'),
  ).action(action(down));
  const daemon = program.command('daemon').description('the town daemon: status, logs, foreground run');
  withJson(
    daemon.command('status').description('is the daemon running; its controllers and their health'),
  ).action(action(daemonStatus));
  withJson(
    daemon
      .command('logs')
      .description("the daemon's log (newest last)")
      .option('-n, --lines <n>', 'how many lines', '50')
      .option('-f, --follow', 'keep printing new lines'),
  ).action(action(daemonLogs));
  daemon
    .command('run')
    .description('run the daemon in the foreground (what gt up starts in the background)')
    .action(action(daemonRun));
}
