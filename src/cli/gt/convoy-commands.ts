import type { Command } from 'commander';
import { action, type CommandResult, withJson } from '../harness';

/** `gt convoy create|add|list|show|close|reconcile`. Handlers load the convoy service lazily. */
type ConvoyJson = import('../../services/convoy').ConvoyJson;

async function withConvoys<T>(
  fn: (
    convoy: typeof import('../../services/convoy'),
    town: import('../../services/town-ledger').TownLedger,
  ) => T | Promise<T>,
): Promise<T> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const convoy = await import('../../services/convoy');
  return withTownLedger((town) => fn(convoy, town));
}

async function render(): Promise<{ summary: (c: ConvoyJson) => string; detail: (c: ConvoyJson) => string }> {
  const { oneLine, truncate } = await import('../../core/text');
  const summary = (c: ConvoyJson) =>
    `${c.id.padEnd(12)} ${c.status.padEnd(7)} ${`${c.progress.merged}/${c.progress.total}`.padStart(7)} merged  ${truncate(oneLine(c.name), 60)}${c.status === 'open' && c.complete ? '  (complete: lands at the next reconcile)' : ''}`;
  const detail = (c: ConvoyJson) => {
    const lines = [
      `convoy ${c.id}: ${oneLine(c.name)}`,
      `  status    ${c.status}${c.landed_at ? ` (landed ${c.landed_at})` : ''}${c.closed_at ? ` (closed ${c.closed_at})` : ''}`,
      `  progress  ${c.progress.merged}/${c.progress.total} merged`,
    ];
    if (c.notify.state !== 'none') {
      lines.push(`  notify    ${c.notify.state}${c.notify.error ? `: ${oneLine(c.notify.error)}` : ''}`);
    }
    const members = c.members ?? [];
    if (members.length === 0) lines.push("  (no beads yet: 'gt convoy add <convoy> <bead…>')");
    for (const m of members) {
      lines.push(
        `  ${m.status === 'closed' ? '✓' : '·'} ${m.id.padEnd(12)} ${m.status.padEnd(11)} ${(m.rig ?? '-').padEnd(10)} ${(m.polecat ?? m.assignee ?? '-').padEnd(18)} mr:${(m.mr_state ?? '-').padEnd(8)} ${truncate(oneLine(m.title), 50)}`,
      );
    }
    return lines.join('\n');
  };
  return { summary, detail };
}

export function registerConvoyCommands(program: Command): void {
  const convoy = program.command('convoy').description('groups of beads tracked until every one is merged');

  withJson(
    convoy.command('create <name> [beads...]').description('create a convoy, optionally with beads'),
  ).action(
    action(
      async (name: string, beads: string[]): Promise<CommandResult> =>
        withConvoys(async (svc, town) => {
          const created = svc.createConvoy(town.store, name, beads);
          const { detail } = await render();
          return { data: created, text: () => `created convoy ${created.id}\n${detail(created)}` };
        }),
    ),
  );

  withJson(convoy.command('add <convoy> <beads...>').description('add beads to an open convoy')).action(
    action(
      async (ref: string, beads: string[]): Promise<CommandResult> =>
        withConvoys(async (svc, town) => {
          const result = svc.addToConvoy(town.store, ref, beads);
          const { detail } = await render();
          return {
            data: result,
            text: () =>
              `${result.added.length === 0 ? 'nothing new added' : `added ${result.added.join(', ')}`}\n${detail(result)}`,
          };
        }),
    ),
  );

  withJson(
    convoy
      .command('list')
      .description('open convoys with their progress')
      .option('--all', 'include landed and closed convoys'),
  ).action(
    action(
      async (flags: { all?: boolean }): Promise<CommandResult> =>
        withConvoys(async (svc, town) => {
          const convoys = svc.listConvoys(town.store, { all: Boolean(flags.all) });
          const { summary } = await render();
          return {
            data: convoys,
            text: () =>
              convoys.length === 0
                ? `no ${flags.all ? '' : 'open '}convoys: create one with 'gt convoy create "<name>" <bead…>'`
                : convoys.map(summary).join('\n'),
          };
        }),
    ),
  );

  withJson(
    convoy
      .command('show [convoy]')
      .description('a convoy bead by bead: status, polecat, merge request (default: every open convoy)'),
  ).action(
    action(
      async (ref: string | undefined): Promise<CommandResult> =>
        withConvoys(async (svc, town) => {
          const { detail } = await render();
          if (ref !== undefined) {
            const shown = svc.showConvoy(town.store, ref);
            return { data: shown, text: () => detail(shown) };
          }
          const all = svc.listConvoys(town.store).map((c) => svc.showConvoy(town.store, c.id));
          return {
            data: all,
            text: () => (all.length === 0 ? 'no open convoys' : all.map(detail).join('\n\n')),
          };
        }),
    ),
  );

  withJson(
    convoy
      .command('close <convoy>')
      .description('close a convoy by hand (without landing)')
      .option('-r, --reason <reason>', 'why'),
  ).action(
    action(
      async (ref: string, flags: { reason?: string }): Promise<CommandResult> =>
        withConvoys(async (svc, town) => {
          const closed = svc.closeConvoy(town.store, ref, flags.reason);
          const { detail } = await render();
          return { data: closed, text: () => `closed convoy ${closed.id}\n${detail(closed)}` };
        }),
    ),
  );

  withJson(
    convoy
      .command('reconcile')
      .description('land every convoy whose beads are all closed (mail + notify); safe to repeat'),
  ).action(
    action(
      async (): Promise<CommandResult> =>
        withConvoys(async (svc, town) => {
          const { loadNotifyConfig } = await import('../../services/notify');
          const notify = loadNotifyConfig(town.root);
          const result = await svc.reconcileConvoys(town.store, { notify: notify.config, root: town.root });
          const { oneLine } = await import('../../core/text');
          const warnings = [
            ...(notify.error ? [`warning: [notify] not read: ${notify.error}`] : []),
            ...result.notified
              .filter((n) => !n.ok)
              .map((n) => `warning: notify for ${n.id} failed: ${n.error}`),
          ];
          return {
            data: result,
            warnings,
            text: () =>
              result.landed.length === 0
                ? 'no convoy landed'
                : result.landed
                    .map(
                      (l) =>
                        `landed ${l.id}: ${oneLine(l.name)} (${l.members.length} beads; mailed mayor, human)`,
                    )
                    .join('\n'),
          };
        }),
    ),
  );
}
