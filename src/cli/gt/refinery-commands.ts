import type { Command } from 'commander';
import { action, type CommandResult, withJson } from '../harness';

/**
 * `gt refinery run <rig> [--once]` and `gt mq list|show|retry|reject|cancel` (docs/refinery.md).
 * Services load lazily inside the actions.
 */
async function refineryRun(
  rig: string,
  flags: { once?: boolean; interval?: string },
): Promise<CommandResult> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const { Refinery } = await import('../../refinery/controller');
  const { parseDuration } = await import('../../town/duration');
  const { GtError } = await import('../../core/errors');
  const interval = flags.interval ? parseDuration(flags.interval) : 5000;
  if (interval === undefined || interval === null) {
    throw new GtError('GT_E_USAGE', `'${flags.interval}' is not a duration`, { hint: 'e.g. --interval 5s' });
  }
  const log = (line: string) => process.stderr.write(`refinery ${rig}: ${line}\n`);
  const passes = await withTownLedger(async ({ root, store }) => {
    const refinery = new Refinery({ root, store, rig, log });
    if (flags.once) return refinery.drain();
    let stop = false;
    process.once('SIGTERM', () => {
      stop = true;
    });
    process.once('SIGINT', () => {
      stop = true;
    });
    const all = [];
    while (!stop) {
      try {
        const s = await refinery.pass();
        all.push(s);
        if (all.length > 100) all.shift();
        if (s.idle) await new Promise((r) => setTimeout(r, interval));
      } catch (error) {
        // Keep running (the next pass recomputes from the ledger); say what went wrong.
        log(`pass failed: ${error instanceof Error ? error.message : String(error)}`);
        await new Promise((r) => setTimeout(r, interval));
      }
    }
    return all;
  });
  const landed = passes.flatMap((p) => p.batches.flatMap((b) => b.landed));
  const rejected = passes.flatMap((p) => [
    ...p.sheriff.rejected,
    ...p.batches.flatMap((b) => [...b.rejected, ...b.conflicts]),
  ]);
  const runs = passes.reduce((n, p) => n + p.batches.reduce((m, b) => m + b.gateRuns, 0), 0);
  return {
    data: { rig, passes, landed, rejected, gate_runs: runs },
    text: () => {
      const lines: string[] = [];
      for (const p of passes) {
        for (const r of p.recovered) lines.push(`recovered: ${r}`);
        for (const b of p.batches) {
          lines.push(
            `batch ${b.id}: ${b.members.length} MR(s), ${b.gateRuns} gate run(s) [${b.path}]${b.landedSha ? ` → landed ${b.landedSha.slice(0, 12)}` : ''}${b.rejected.length ? `; rejected ${b.rejected.map((i) => `#${i}`).join(' ')}` : ''}${b.requeued.length ? `; requeued ${b.requeued.length}` : ''}${b.outcome ? ` (${b.outcome})` : ''}`,
          );
        }
      }
      lines.push(`landed ${landed.length}, rejected ${rejected.length}, gate runs ${runs}`);
      return lines.join('\n');
    },
  };
}

async function mqList(rig: string | undefined, flags: { all?: boolean }): Promise<CommandResult> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const { listQueue } = await import('../../refinery/mq');
  const { oneLine } = await import('../../core/text');
  const items = await withTownLedger(({ store }) => listQueue(store, { rig, all: flags.all }));
  return {
    data: items,
    text: () =>
      items.length === 0
        ? 'the merge queue is empty'
        : items
            .map(
              (m) =>
                `#${m.id}  ${m.state.padEnd(8)} ${m.rig}  ${m.bead_id}  P${m.priority}  ${oneLine(m.branch)}  ${m.head_sha.slice(0, 12)}${m.rejected_reason ? `  (${oneLine(m.rejected_reason)})` : ''}${m.merged_sha ? `  → ${m.merged_sha.slice(0, 12)}` : ''}`,
            )
            .join('\n'),
  };
}

async function mqShow(id: string): Promise<CommandResult> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const { parseMrId, showMr } = await import('../../refinery/mq');
  const { oneLine } = await import('../../core/text');
  const mr = await withTownLedger(({ store }) => showMr(store, parseMrId(id)));
  return {
    data: mr,
    text: () =>
      [
        `MR #${mr.id} ${mr.state}${mr.rejected_reason ? ` (${oneLine(mr.rejected_reason)})` : ''} — ${mr.rig} ${mr.bead_id} by ${mr.agent_id}`,
        `branch ${oneLine(mr.branch)} at ${mr.head_sha}${mr.merged_sha ? `, merged in ${mr.merged_sha}` : ''}; attempts ${mr.attempts}`,
        '',
        'events:',
        ...mr.events.map(
          (e) =>
            `  ${e.at}  ${e.event.padEnd(14)} ${e.from ?? '-'} → ${e.to ?? '-'}  ${oneLine(e.detail ?? '')}`,
        ),
        '',
        'runs:',
        ...mr.runs.map(
          (r) =>
            `  run ${r.id} ${r.kind}${r.batch_id ? ` batch ${r.batch_id} prefix ${r.prefix}` : ''} (${r.reason}) ${r.candidate_sha.slice(0, 12)}: ${r.state}${r.error ? ` — ${oneLine(r.error)}` : ''}${r.log_path ? `  log ${r.log_path}` : ''}`,
        ),
      ].join('\n'),
  };
}

async function mqChange(
  kind: 'retry' | 'reject' | 'cancel',
  id: string,
  flags: { reason?: string },
): Promise<CommandResult> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const { parseMrId, rejectMr, retryMr } = await import('../../refinery/mq');
  const mr = await withTownLedger(({ store }) => {
    const actor = store.actor;
    const n = parseMrId(id);
    if (kind === 'retry') return retryMr(store, n, actor);
    return rejectMr(store, n, actor, kind === 'reject' ? 'rejected' : 'cancelled', flags.reason);
  });
  return {
    data: mr,
    text: () => `MR #${mr.id} is now ${mr.state}${mr.rejected_reason ? ` (${mr.rejected_reason})` : ''}`,
  };
}

export function registerRefineryCommands(program: Command): void {
  const refinery = program.command('refinery').description('the merge queue controller of a rig');
  withJson(
    refinery
      .command('run')
      .description('run the Refinery of a rig: Sheriff, batches, gate, bisection, landing')
      .argument('<rig>', 'the rig')
      .option('--once', 'process everything queued now, then exit')
      .option('--interval <duration>', 'idle poll interval without --once', '5s'),
  ).action(action(refineryRun));

  const mq = program.command('mq').description('the merge queue: list, show, retry, reject, cancel');
  withJson(
    mq
      .command('list')
      .description('merge requests waiting or being tested (--all: also merged and rejected)')
      .argument('[rig]', 'only this rig')
      .option('--all', 'include merged and rejected'),
  ).action(action(mqList));
  withJson(
    mq.command('show').description('a merge request, its event trail and gate runs').argument('<id>'),
  ).action(action(mqShow));
  withJson(
    mq.command('retry').description('put a rejected merge request back in the queue').argument('<id>'),
  ).action(action((id: string) => mqChange('retry', id, {})));
  withJson(
    mq
      .command('reject')
      .description('reject a waiting merge request (the bead goes back to its polecat)')
      .argument('<id>')
      .option('--reason <text>', 'why (sent to the polecat)'),
  ).action(action((id: string, flags: { reason?: string }) => mqChange('reject', id, flags)));
  withJson(
    mq
      .command('cancel')
      .description('cancel a waiting merge request')
      .argument('<id>')
      .option('--reason <text>', 'why'),
  ).action(action((id: string, flags: { reason?: string }) => mqChange('cancel', id, flags)));
}
