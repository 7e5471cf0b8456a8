import type { Command } from 'commander';
import { action, type CommandResult, withJson } from '../harness';

/**
 * `gt escalate -s CRITICAL|HIGH|MEDIUM "<what>" [--bead id] [-m details]`, and `gt escalate list|ack|close`.
 * The source is GT_AGENT (agents) or 'human'.
 */
type EscalationJson = import('../../services/escalation').EscalationJson;

async function withEscalations<T>(
  fn: (
    svc: typeof import('../../services/escalation'),
    town: import('../../services/town-ledger').TownLedger,
    me: string,
  ) => T | Promise<T>,
): Promise<T> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const svc = await import('../../services/escalation');
  const { whoAmI, requireMailbox } = await import('../../services/mail');
  return withTownLedger((town) => fn(svc, town, requireMailbox(town.store.db, whoAmI(process.env))));
}

async function line(): Promise<(e: EscalationJson) => string> {
  const { oneLine, truncate } = await import('../../core/text');
  return (e) =>
    `${e.id.padEnd(12)} ${e.severity.padEnd(8)} ${e.status.padEnd(6)} ${truncate(oneLine(e.source_agent), 18).padEnd(18)} ${truncate(oneLine(e.summary), 60)}${e.bead_id ? `  (${e.bead_id})` : ''}`;
}

export function registerEscalateCommands(program: Command): void {
  const escalate = withJson(
    program
      .command('escalate')
      .description('raise a blocker to the Mayor and the human (or: escalate list|ack|close)')
      .argument('[what...]', 'what is wrong, in one line')
      .option('-s, --severity <severity>', 'CRITICAL, HIGH or MEDIUM')
      .option('-m, --message <details>', 'details (logs, what you tried)')
      .option('--bead <id>', 'the bead this is about'),
  ).action(
    action(
      async (
        words: string[],
        flags: { severity?: string; message?: string; bead?: string },
      ): Promise<CommandResult> => {
        const { GtError } = await import('../../core/errors');
        if (!flags.severity) {
          throw new GtError('GT_E_USAGE', 'say how bad it is with -s CRITICAL, HIGH or MEDIUM', {
            hint: 'gt escalate -s HIGH "cannot run the tests: database missing"',
          });
        }
        const severity = flags.severity;
        return withEscalations(async (svc, town, me) => {
          const created = svc.createEscalation(town.store, {
            severity,
            summary: words.join(' '),
            source: me,
            ...(flags.message !== undefined ? { details: flags.message } : {}),
            ...(flags.bead !== undefined ? { bead: flags.bead } : {}),
          });
          const { loadNotifyConfig } = await import('../../services/notify');
          const notify = loadNotifyConfig(town.root);
          const warnings: string[] = [];
          let notified: { ok: boolean; error: string | null } | null = null;
          if (notify.config) {
            notified = await svc.notifyEscalation(town.root, notify.config, created);
            if (!notified.ok) warnings.push(`warning: notify command failed: ${notified.error}`);
          }
          const show = await line();
          return {
            data: { ...created, notified },
            warnings,
            text: () => `escalated ${created.id} to ${created.routed_to.join(' and ')}\n${show(created)}`,
          };
        });
      },
    ),
  );

  withJson(
    escalate
      .command('list')
      .description('open and acknowledged escalations, most severe first')
      .option('--all', 'include closed ones'),
  ).action(
    action(
      async (flags: { all?: boolean }): Promise<CommandResult> =>
        withEscalations(async (svc, town) => {
          const list = svc.listEscalations(town.store, { all: Boolean(flags.all) });
          const show = await line();
          return {
            data: list,
            text: () => (list.length === 0 ? 'no escalations' : list.map(show).join('\n')),
          };
        }),
    ),
  );

  withJson(escalate.command('ack <id>').description('acknowledge: someone is on it')).action(
    action(
      async (id: string): Promise<CommandResult> =>
        withEscalations(async (svc, town, me) => {
          const acked = svc.ackEscalation(town.store, id, me);
          const show = await line();
          return { data: acked, text: () => `acknowledged by ${acked.acked_by}\n${show(acked)}` };
        }),
    ),
  );

  withJson(
    escalate
      .command('close <id>')
      .description('close: resolved')
      .option('-r, --reason <reason>', 'how it was resolved'),
  ).action(
    action(
      async (id: string, flags: { reason?: string }): Promise<CommandResult> =>
        withEscalations(async (svc, town, me) => {
          const closed = svc.closeEscalation(town.store, id, me, flags.reason);
          const show = await line();
          return { data: closed, text: () => `closed\n${show(closed)}` };
        }),
    ),
  );
}
