import type { Command } from 'commander';
import { oneLine } from '../../core/text';
import { action, withJson } from '../harness';

/** `gt rig add|list|show|remove|park|unpark`. */
export function registerRigCommands(program: Command): void {
  const rig = program.command('rig').description('manage rigs: the projects (git repositories) of this town');
  const town = async () => (await import('../../town/locate-town')).findTownRoot(process.cwd());

  withJson(
    rig
      .command('add <name> <repo>')
      .description('add a project: bare clone with a protected main, Refinery clone, detected gate commands')
      .option('--branch <branch>', "default branch (default: the repository's HEAD)")
      .option('--prefix <prefix>', 'bead id prefix for this rig (default: derived from the name)')
      .option('--experimental', 'sandbox rig: never pushes to the upstream remote'),
  ).action(
    action(
      async (
        name: string,
        repo: string,
        opts: { branch?: string; prefix?: string; experimental?: boolean },
      ) => {
        const [{ addRig }, { formatGateCommand }] = await Promise.all([
          import('../../town/rigs'),
          import('../../town/config'),
        ]);
        const tty = Boolean(process.stderr.isTTY);
        // Progress goes to stderr (never into --json output): git's own meter on a terminal, steps otherwise.
        const result = await addRig(
          await town(),
          {
            name,
            source: repo,
            experimental: Boolean(opts.experimental),
            ...(opts.branch !== undefined ? { branch: opts.branch } : {}),
            ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}),
          },
          {
            phase: (message) => process.stderr.write(`${message}\n`),
            ...(tty ? { gitProgress: (chunk: string) => process.stderr.write(chunk) } : {}),
          },
        );
        return {
          data: result,
          text: () => {
            const lines = [
              `Added rig "${result.name}" at ${result.path}`,
              `  upstream        ${result.upstream}${result.experimental ? ' (experimental: never pushed upstream)' : ''}`,
              `  default branch  ${result.defaultBranch} (protected: only the Refinery may move it)`,
              `  bead prefix     ${result.prefix}`,
              '  commands (rig.toml):',
            ];
            for (const kind of ['setup', 'sheriff', 'gate'] as const) {
              const command = result.commands[kind];
              lines.push(
                command
                  ? `    ${kind.padEnd(8)} ${formatGateCommand(command.command)}   [detected from ${command.source}]`
                  : `    ${kind.padEnd(8)} (none detected)`,
              );
            }
            for (const note of result.notes) lines.push(`  note: ${note}`);
            return lines.join('\n');
          },
        };
      },
    ),
  );

  withJson(rig.command('list').description('list the rigs of this town')).action(
    action(async () => {
      const { listRigs } = await import('../../town/rigs');
      const rigs = listRigs(await town());
      return {
        data: rigs,
        text: () =>
          rigs.length === 0
            ? "no rigs yet: add one with 'gt rig add <name> <git-url-or-path>'"
            : rigs
                .map((r) => {
                  const flags = [r.parked ? 'parked' : '', r.experimental ? 'experimental' : ''].filter(
                    Boolean,
                  );
                  return `${r.name.padEnd(16)} ${r.prefix.padEnd(10)} ${r.defaultBranch.padEnd(10)} ${oneLine(r.upstream ?? '')}${flags.length ? `  [${flags.join(', ')}]` : ''}`;
                })
                .join('\n'),
      };
    }),
  );

  withJson(
    rig.command('show <name>').description('show a rig: configuration, branches, guard status, agents'),
  ).action(
    action(async (name: string) => {
      const [{ showRig }, { formatGateCommand }] = await Promise.all([
        import('../../town/rigs'),
        import('../../town/config'),
      ]);
      const details = await showRig(await town(), name);
      return {
        data: details,
        text: () => {
          const lines = [
            `rig ${details.name}${details.parked ? ' (parked)' : ''}${details.experimental ? ' (experimental)' : ''}`,
            `  path            ${details.path}`,
            `  upstream        ${oneLine(details.upstream ?? '(none)')}`,
            `  default branch  ${details.defaultBranch} at ${details.mainCommit?.slice(0, 12) ?? '(missing)'}`,
            `  bead prefix     ${details.prefix}`,
            `  guard           ${details.guardIntact ? 'intact' : `BROKEN: ${details.guardProblems.join('; ')}`}`,
            `  branches        ${details.branches.length}`,
          ];
          if (details.config) {
            for (const kind of ['setup', 'sheriff', 'gate'] as const) {
              const command = details.config.commands[kind];
              lines.push(
                `  ${kind.padEnd(15)} ${command ? `${formatGateCommand(command.command)} (timeout ${command.timeout ?? 'default'})` : '(none)'}`,
              );
            }
          } else {
            lines.push(`  config error    ${details.configError}`);
          }
          lines.push(
            `  agents          ${details.agents.length === 0 ? '(none)' : details.agents.map((a) => `${a.id}:${a.state}`).join(', ')}`,
          );
          return lines.join('\n');
        },
      };
    }),
  );

  withJson(
    rig
      .command('remove <name>')
      .description(
        'unregister a rig; refuses while it holds unmerged work unless --force (which keeps that work)',
      )
      .option('--force', 'remove even with unmerged work: the rig is moved to .gt/attic/ instead of deleted'),
  ).action(
    action(async (name: string, opts: { force?: boolean }) => {
      const { removeRig } = await import('../../town/rigs');
      const result = await removeRig(await town(), name, Boolean(opts.force));
      return {
        data: result,
        text: () =>
          result.keptAt
            ? `Removed rig "${name}" from the town; its unmerged work was kept at ${result.keptAt}:\n${result.unmerged.map((u) => `  - ${u.where}: ${u.detail}`).join('\n')}`
            : `Removed rig "${name}"`,
      };
    }),
  );

  for (const [verb, parked] of [
    ['park', true],
    ['unpark', false],
  ] as const) {
    withJson(
      rig
        .command(`${verb} <name>`)
        .description(parked ? 'stop dispatching work to a rig' : 'resume dispatching work to a rig'),
    ).action(
      action(async (name: string) => {
        const { parkRig } = await import('../../town/rigs');
        const result = parkRig(await town(), name, parked);
        return {
          data: result,
          text: () =>
            `rig "${name}" is ${result.parked ? 'parked: no new work is dispatched to it' : 'active'}`,
        };
      }),
    );
  }
}
