import type { Command } from 'commander';
import { action, withJson } from '../harness';

/** `gt install` and `gt config get|set`. Thin: parse, call src/town, return data. */
export function registerTownCommands(program: Command): void {
  withJson(
    program
      .command('install <dir>')
      .description(
        "create a town: town.toml, the ledger, the Mayor's home and folders for rigs, logs and state",
      )
      .option('--name <name>', 'town name (default: the directory name)')
      .option('--prefix <prefix>', "bead id prefix for the town's own beads (default: derived from the name)")
      .option('--git', 'make the town itself a git repository (runtime state ignored)')
      .option('--force', 'create the town in a directory that already has files'),
  ).action(
    action(async (dir: string, opts: { name?: string; prefix?: string; git?: boolean; force?: boolean }) => {
      const { installTown } = await import('../../town/install');
      const result = await installTown(dir, {
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}),
        git: Boolean(opts.git),
        force: Boolean(opts.force),
      });
      return {
        data: result,
        warnings: result.warnings,
        text: () =>
          [
            `Created town "${result.name}" at ${result.root}`,
            '  config  town.toml',
            `  ledger  ${result.ledger} (bead prefix ${result.prefix})`,
            '  mayor   mayor/AGENTS.md',
            '  rigs    rigs/   logs   logs/   state   .gt/',
            ...(result.git ? ['  git     initialised (runtime state ignored)'] : []),
            '',
            `Next: cd ${dir} && gt rig add <name> <git-url-or-path> && gt doctor`,
          ].join('\n'),
      };
    }),
  );

  const config = program
    .command('config')
    .description("read and write town.toml (or a rig's rig.toml with --rig)");
  withJson(
    config
      .command('get [key]')
      .description('show a setting (dotted key, e.g. scheduler.max_polecats), or all settings')
      .option('--rig <name>', "read the rig's rig.toml instead of town.toml"),
  ).action(
    action(async (key: string | undefined, opts: { rig?: string }) => {
      const [{ findTownRoot }, { getConfig }] = await Promise.all([
        import('../../town/locate-town'),
        import('../../town/config-edit'),
      ]);
      const result = getConfig(findTownRoot(process.cwd()), key, opts.rig);
      return {
        data: result,
        text: () =>
          typeof result.value === 'object' && result.value !== null
            ? JSON.stringify(result.value, null, 2)
            : String(result.value),
      };
    }),
  );
  withJson(
    config
      .command('set <key> <value>')
      .description('change a setting; the file is validated first and written atomically, comments kept')
      .option('--rig <name>', "write the rig's rig.toml instead of town.toml"),
  ).action(
    action(async (key: string, value: string, opts: { rig?: string }) => {
      const [{ findTownRoot }, { setConfig }] = await Promise.all([
        import('../../town/locate-town'),
        import('../../town/config-edit'),
      ]);
      const result = await setConfig(findTownRoot(process.cwd()), key, value, opts.rig);
      return {
        data: result,
        warnings: result.commentsKept
          ? []
          : [`note: ${result.file} was re-serialised; its comments were not kept`],
        text: () =>
          `${key} = ${JSON.stringify(result.value)} (was ${JSON.stringify(result.previous)}) in ${result.file}`,
      };
    }),
  );
}
