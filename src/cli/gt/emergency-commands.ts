import type { Command } from 'commander';
import { oneLine } from '../../core/text';
import { action, type CommandResult, withJson } from '../harness';

/**
 * Dispatch control (docs/daemon-scheduler.md): `gt stop --all` / `gt stop <agent>`, `gt resume`, and the
 * sling queue (`gt queue`, `gt queue remove`). Services load lazily inside the actions.
 */
async function stopCommand(ref: string | undefined, flags: { all?: boolean }): Promise<CommandResult> {
  const { GtError } = await import('../../core/errors');
  if (flags.all && ref) {
    throw new GtError('GT_E_USAGE', 'gt stop takes an agent or --all, not both', {
      hint: 'gt stop --all (everything, dispatch paused) or gt stop <agent> (one session)',
    });
  }
  if (!flags.all) {
    if (!ref) {
      throw new GtError('GT_E_USAGE', 'gt stop needs an agent or --all', {
        hint: 'gt stop --all stops every agent and pauses dispatch; gt stop <agent> stops one session',
      });
    }
    // One agent: exactly `gt session stop <agent>`.
    return (await import('./agent-handlers')).sessionStopCommand(ref);
  }
  const { withTownLedger } = await import('../../services/town-ledger');
  const { stopAllAgents } = await import('../../services/emergency');
  const result = await withTownLedger(({ root, store }) =>
    stopAllAgents(root, store, { pauseDispatch: true }),
  );
  return {
    data: result,
    exitCode: result.failures.length > 0 ? 1 : 0,
    warnings: result.failures.map((f) => `error: could not stop ${f.agent}: ${oneLine(f.error)}`),
    text: () => {
      const lines = [`dispatch paused${result.paused_since ? ` (since ${result.paused_since})` : ''}`];
      for (const a of result.agents) {
        lines.push(
          `stopped ${a.agent} (${a.role}, was ${a.from}${a.hooked_bead ? `, hook ${a.hooked_bead}` : ''})${a.was_running ? '' : ': its process had already exited'}`,
        );
      }
      for (const id of result.ended)
        lines.push(`ended the idle session of ${id} (its work was already submitted)`);
      if (result.waiting.length > 0)
        lines.push(`already stopped, waiting for gt resume: ${result.waiting.join(', ')}`);
      if (result.agents.length === 0 && result.ended.length === 0) lines.push('no agent session was running');
      lines.push(
        'hooks, worktrees, branches and commits are untouched; gt resume restarts the stopped agents',
      );
      return lines.join('\n');
    },
  };
}

async function resumeCommand(): Promise<CommandResult> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const { resumeAll } = await import('../../services/emergency');
  const { runningDaemon } = await import('../../daemon/instance');
  const outcome = await withTownLedger(async ({ root, store }) => ({
    result: await resumeAll(root, store),
    daemon: runningDaemon(root) !== null,
  }));
  const { result, daemon } = outcome;
  return {
    data: { ...result, daemon_running: daemon },
    exitCode: result.failures.length > 0 ? 1 : 0,
    warnings: result.failures.map((f) => `error: could not restart ${f.agent}: ${oneLine(f.error)}`),
    text: () => {
      const lines = [result.unpaused ? 'dispatch resumed' : 'dispatch was not paused'];
      for (const a of result.resumed) {
        lines.push(`restarted ${a.agent} (was ${a.from}${a.hooked_bead ? `, hook ${a.hooked_bead}` : ''})`);
      }
      for (const s of result.skipped) lines.push(`not restarted ${s.agent}: ${s.why}`);
      if (result.resumed.length === 0 && result.skipped.length === 0)
        lines.push('no agent was waiting to resume');
      if (result.queued > 0) {
        lines.push(
          daemon
            ? `${result.queued} queued sling(s): the scheduler dispatches them as capacity allows`
            : `${result.queued} queued sling(s) wait for the scheduler: start the daemon with 'gt up'`,
        );
      }
      return lines.join('\n');
    },
  };
}

const WHY: Record<string, string> = {
  next: 'dispatched at the next scheduler tick',
  paused: 'waits: dispatch paused',
  parked: 'waits: rig parked',
  'town-cap': 'waits: town at max_polecats',
  'rig-cap': 'waits: rig at its cap',
  'agent-busy': 'waits: its agent holds other work',
  backoff: 'waits: retry backoff after a failure',
};

async function queueListCommand(): Promise<CommandResult> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const { listQueueWithReasons } = await import('../../services/sling-queue');
  const { pauseState } = await import('../../daemon/pause');
  const data = await withTownLedger(({ root, store }) => ({
    paused: pauseState(store.db).paused,
    entries: listQueueWithReasons(root, store.db),
  }));
  return {
    data,
    text: () => {
      if (data.entries.length === 0)
        return `the sling queue is empty${data.paused ? ' (dispatch is paused)' : ''}`;
      const lines = data.paused ? ['dispatch is paused (gt resume)'] : [];
      for (const e of data.entries) {
        lines.push(
          `${String(e.position).padStart(3)}. ${e.bead} → ${e.target}  P${e.priority}  ${WHY[e.why ?? ''] ?? e.why}  queued ${e.queued_at} by ${e.requested_by}${e.attempts ? `  attempts ${e.attempts}` : ''}`,
        );
        lines.push(`     ${oneLine(e.title)}`);
        if (e.last_error) lines.push(`     last error: ${oneLine(e.last_error)}`);
      }
      return lines.join('\n');
    },
  };
}

async function queueRemoveCommand(beads: string[]): Promise<CommandResult> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const { removeQueued } = await import('../../services/sling-queue');
  const result = await withTownLedger(({ store }) => removeQueued(store, beads));
  return {
    data: result,
    text: () => result.removed.map((b) => `removed ${b} from the queue (the bead stays open)`).join('\n'),
  };
}

export function registerEmergencyCommands(program: Command): void {
  withJson(
    program
      .command('stop')
      .description(
        'emergency stop: --all pauses dispatch and stops every agent session (hooks and work kept)',
      )
      .argument('[agent]', "one agent's session (same as gt session stop)")
      .option('--all', 'pause dispatch, then stop every agent session: polecats, crew, the Mayor'),
  ).action(action(stopCommand));
  withJson(
    program
      .command('resume')
      .description('after gt stop --all: resume dispatch and restart the stopped agents on their hooks'),
  ).action(action(resumeCommand));
  const queue = program.command('queue').description('slings waiting for capacity or for gt resume');
  withJson(queue.command('list', { isDefault: true }).description('the queue in dispatch order')).action(
    action(queueListCommand),
  );
  withJson(
    queue
      .command('remove')
      .description('remove queued slings (the beads stay open)')
      .argument('<bead...>', 'bead ids (or queue entry numbers)'),
  ).action(action(queueRemoveCommand));
}
