import type { Command } from 'commander';
import { action, type CommandResult, renderError, wantsJson, withJson } from '../harness';

/**
 * `gt status [--json]` and `gt feed [--plain] [--since …] [-n N] [--no-follow] [--json]`
 * (docs/daemon-status.md). Both only read the ledger (and status the daemon's two small files).
 */
async function openTown() {
  const { findTownRoot } = await import('../../town/locate-town');
  const { openLedger } = await import('../../ledger/open');
  const { townLedgerPath } = await import('../../workspace/locate');
  const root = findTownRoot(process.cwd());
  return { root, db: openLedger(townLedgerPath(root), { readonly: true }) };
}

async function status(): Promise<CommandResult> {
  const { townStatus } = await import('../../services/status');
  const { renderTownStatus } = await import('../../core/status-format');
  const { root, db } = await openTown();
  try {
    const st = townStatus(root, db);
    return { data: st, text: () => renderTownStatus(st) };
  } finally {
    db.close();
  }
}

interface FeedFlags {
  plain?: boolean;
  json?: boolean;
  since?: string;
  lines?: string;
  follow?: boolean;
}

async function feed(flags: FeedFlags): Promise<void> {
  const { GtError } = await import('../../core/errors');
  const { feedJson, formatFeedLine, parseSince } = await import('../../core/feed-format');
  const { followFeed, readFeedTail } = await import('../../services/feed');
  const n = flags.lines === undefined ? (flags.since ? 10_000 : 20) : Number(flags.lines);
  if (!Number.isInteger(n) || n < 0 || n > 100_000) {
    throw new GtError('GT_E_USAGE', `-n must be a number from 0 to 100000, not '${flags.lines}'`, {
      hint: 'e.g. gt feed -n 100',
    });
  }
  let sinceMs: number | undefined;
  if (flags.since !== undefined) {
    sinceMs = parseSince(flags.since, Date.now());
    if (sinceMs === undefined) {
      throw new GtError('GT_E_USAGE', `--since takes a duration or a time, not '${flags.since}'`, {
        hint: 'e.g. --since 10m, --since 2h, --since 2024-05-01T12:00:00Z',
      });
    }
  }
  const color = !flags.plain && !flags.json && process.stdout.isTTY === true && !process.env.NO_COLOR;
  const { db } = await openTown();
  const controller = new AbortController();
  const stop = () => controller.abort();
  // A closed pipe (gt feed | head) or Ctrl-C ends the stream quietly.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') stop();
  });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const write = (events: import('../../core/feed-format').FeedEvent[]) => {
    if (controller.signal.aborted || events.length === 0) return;
    const text = events
      .map((e) => (flags.json ? JSON.stringify(feedJson(e)) : formatFeedLine(e, { color })))
      .join('\n');
    process.stdout.write(`${text}\n`);
  };
  try {
    const tail = readFeedTail(db, { limit: n, ...(sinceMs !== undefined ? { sinceMs } : {}) });
    write(tail.events);
    if (flags.follow !== false) await followFeed(db, tail.marks, write, { signal: controller.signal });
  } finally {
    db.close();
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}

export function registerStatusCommands(program: Command): void {
  withJson(
    program
      .command('status')
      .description('the town on one screen: daemon, rigs, polecats, merge queue, convoys, escalations'),
  ).action(action(status));
  program
    .command('feed')
    .description('the live event stream: creates, slings, dones, merges, rejections, recoveries, escalations')
    .option('--plain', 'one uncoloured line per event (for pipes and logs)')
    .option('--json', 'one JSON object per line')
    .option('--since <when>', 'start from a duration ago (10m, 2h, 1d) or a time (2024-05-01T12:00:00Z)')
    .option('-n, --lines <n>', 'show the last n events first (default 20)')
    .option('--no-follow', 'print and exit instead of following')
    .action(async (flags: FeedFlags) => {
      try {
        await feed(flags);
      } catch (error) {
        process.exitCode = renderError(error, wantsJson(process.argv));
      }
    });
}
