import type { Command } from 'commander';
import { action, type CommandResult, withJson } from '../harness';

/**
 * `gt crew add|list|remove`: long-lived named workspaces in a rig (docs/work-loop.md#crew). Services load
 * lazily inside the actions.
 */
async function addCommand(
  rig: string,
  name: string,
  flags: { agent?: string; model?: string },
): Promise<CommandResult> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const { addCrew } = await import('../../services/crew');
  const crew = await withTownLedger(({ root, store }) => addCrew(root, store.db, rig, name, flags));
  return {
    data: crew,
    text: () =>
      `crew ${crew.id} added: workspace ${crew.worktree} on ${crew.branch}${crew.agent ? ` (agent ${crew.agent}${crew.model ? `, ${crew.model}` : ''})` : ''}\n  sling work to it: gt sling <bead> ${crew.id}`,
  };
}

async function listCommand(flags: { rig?: string }): Promise<CommandResult> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const { listCrew } = await import('../../services/crew');
  const crew = await withTownLedger(({ root, store }) => listCrew(root, store.db, flags.rig));
  return {
    data: crew,
    text: () =>
      crew.length === 0
        ? 'no crew (add one: gt crew add <rig> <name>)'
        : crew
            .map(
              (c) =>
                `${c.id.padEnd(24)} ${c.state.padEnd(8)} ${(c.hooked_bead ?? '-').padEnd(12)} ${c.branch ?? '-'}${c.session ? `  session ${c.session}` : ''}`,
            )
            .join('\n'),
  };
}

async function removeCommand(rig: string, name: string): Promise<CommandResult> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const { removeCrew } = await import('../../services/crew');
  const result = await withTownLedger(({ root, store }) => removeCrew(root, store.db, rig, name));
  return {
    data: result,
    text: () =>
      `crew ${result.id} removed${result.workspace_removed ? `; workspace ${result.workspace} deleted` : ''}${result.session_stopped ? '; session stopped' : ''}`,
  };
}

export function registerCrewCommands(program: Command): void {
  const crew = program
    .command('crew')
    .description('long-lived named workspaces in a rig (for a person or a persistent agent)');
  withJson(
    crew
      .command('add')
      .description('create crew member <rig>/<name>: a workspace rigs/<rig>/crew/<name> and its agent record')
      .argument('<rig>')
      .argument('<name>')
      .option('--agent <preset>', 'agent preset its sessions run (default: [roles.crew])')
      .option('--model <model>', 'model its sessions run'),
  ).action(action(addCommand));
  withJson(
    crew.command('list').description('list crew members').option('--rig <rig>', 'only this rig'),
  ).action(action(listCommand));
  withJson(
    crew
      .command('remove')
      .description('remove a crew member and its workspace (refused while it holds unmerged work)')
      .argument('<rig>')
      .argument('<name>'),
  ).action(action(removeCommand));
}
