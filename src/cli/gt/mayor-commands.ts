import type { Command } from 'commander';
import { action, type CommandResult, withJson } from '../harness';

/**
 * `gt mayor start|attach|stop|status`: the town-level planning session (src/services/mayor.ts). Handlers
 * load the service lazily, so `gt --help` and other commands pay nothing for them.
 */
type MayorStatus = import('../../services/mayor').MayorStatus;

interface StartFlags {
  agent?: string;
  model?: string;
  runtime?: string;
  waitReady?: boolean;
}

async function withMayor<T>(
  fn: (
    mayor: typeof import('../../services/mayor'),
    town: { root: string; db: import('../../ledger/open').Db },
  ) => Promise<T>,
): Promise<T> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const mayor = await import('../../services/mayor');
  return withTownLedger((town) => fn(mayor, { root: town.root, db: town.store.db }));
}

async function parseRuntime(text: string | undefined) {
  if (text === undefined) return undefined;
  if (text !== 'tmux' && text !== 'headless') {
    const { GtError } = await import('../../core/errors');
    throw new GtError('GT_E_USAGE', `--runtime must be "tmux" or "headless", not ${JSON.stringify(text)}`);
  }
  return text;
}

async function statusText(s: MayorStatus): Promise<string> {
  const { oneLine } = await import('../../core/text');
  const { formatUptime } = await import('../../services/mayor');
  const who = (preset: string | null, model: string | null) =>
    preset ? `${oneLine(preset)}${model ? ` (${oneLine(model)})` : ''}` : '-';
  const lines: string[] = [];
  switch (s.state) {
    case 'running':
      lines.push('mayor: running');
      lines.push(`  session  ${s.session} (${s.runtime}${s.pid ? `, pid ${s.pid}` : ''})`);
      lines.push(`  agent    ${who(s.preset, s.model)}`);
      if (s.uptime_ms !== null) lines.push(`  uptime   ${formatUptime(s.uptime_ms)} (since ${s.started_at})`);
      break;
    case 'exited':
      lines.push(`mayor: exited (status ${s.exit_code ?? '?'}); its last screen: gt peek mayor`);
      lines.push(`  session  ${s.session} (${s.runtime})`);
      lines.push(`  agent    ${who(s.preset, s.model)}`);
      break;
    default:
      lines.push(`mayor: ${s.state === 'stopped' ? 'stopped' : 'not started'}`);
      lines.push(`  session  ${s.session} (none)`);
      if (s.state === 'stopped') lines.push(`  last ran ${who(s.preset, s.model)} (started ${s.started_at})`);
  }
  if (s.configured) {
    const next = who(s.configured.preset, s.configured.model);
    if (s.state !== 'running' || next !== who(s.preset, s.model)) {
      lines.push(`  config   ${next} in ${s.configured.runtime} ([roles.mayor] in town.toml)`);
    }
  } else if (s.config_error) {
    lines.push(`  config   invalid: ${oneLine(s.config_error)}`);
  }
  lines.push(`  home     ${s.cwd}`);
  if (s.state === 'running') {
    lines.push(
      s.runtime === 'tmux' ? '  talk to it: gt mayor attach (detach: C-b d)' : '  output: gt peek mayor',
    );
  } else {
    lines.push("  start it: gt mayor start (or 'gt mayor attach')");
  }
  return lines.join('\n');
}

export function registerMayorCommands(program: Command): void {
  const mayor = program
    .command('mayor')
    .description("the Mayor: the town's planning agent (turns requests into beads and convoys)");

  withJson(
    mayor
      .command('start')
      .description('start the Mayor session (reports it when it already runs)')
      .option('--agent <preset>', 'agent preset or custom agent for this start (default: [roles.mayor])')
      .option('--model <model>', 'model for this start (default: [roles.mayor], else the strong model)')
      .option('--runtime <kind>', 'tmux or headless')
      .option('--wait-ready', 'wait until the agent shows it is ready'),
  ).action(
    action(
      async (flags: StartFlags): Promise<CommandResult> =>
        withMayor(async (svc, { root, db }) => {
          const runtime = await parseRuntime(flags.runtime);
          const result = await svc.startMayor(root, db, {
            ...(flags.agent ? { agent: flags.agent } : {}),
            ...(flags.model ? { model: flags.model } : {}),
            ...(runtime ? { runtime } : {}),
            waitReady: Boolean(flags.waitReady),
          });
          const body = await statusText(result.status);
          return {
            data: result,
            warnings: result.notes,
            text: () =>
              `${result.already_running ? 'the Mayor is already running' : 'started the Mayor'}\n${body}`,
            exitCode: result.start?.ready === false ? 1 : 0,
          };
        }),
    ),
  );

  withJson(
    mayor
      .command('attach')
      .description(
        'talk to the Mayor: attach your terminal to its session, starting it if needed (detach: C-b d)',
      ),
  ).action(
    action(async (): Promise<CommandResult> => {
      const { GtError } = await import('../../core/errors');
      if (!process.stdin.isTTY) {
        throw new GtError('GT_E_USAGE', 'gt mayor attach needs a terminal', {
          hint: "run it from an interactive shell; 'gt mayor start' starts the Mayor without attaching",
        });
      }
      const started = await withMayor((svc, { root, db }) => svc.startMayor(root, db));
      if (started.status.runtime !== 'tmux') {
        throw new GtError('GT_E_SESSION', 'the Mayor runs headless: there is no terminal to attach to', {
          hint: 'watch its output with \'gt peek mayor\', or set [roles.mayor] runtime = "tmux"',
        });
      }
      const { attachCommand } = await import('./agent-handlers');
      const attached = await attachCommand('mayor');
      return { ...attached, data: { ...(attached.data as object), started: started.started } };
    }),
  );

  withJson(
    mayor.command('stop').description('stop the Mayor session and its processes (its record and home stay)'),
  ).action(
    action(
      async (): Promise<CommandResult> =>
        withMayor(async (svc, { root, db }) => {
          const stopped = await svc.stopMayor(root, db);
          return {
            data: stopped,
            text: () =>
              !stopped.existed
                ? 'the Mayor was never started: nothing to stop'
                : `stopped the Mayor (${stopped.session})${stopped.was_running ? '' : ': it was not running'}`,
          };
        }),
    ),
  );

  withJson(mayor.command('status').description("the Mayor's state, session, agent, model and uptime")).action(
    action(
      async (): Promise<CommandResult> =>
        withMayor(async (svc, { root, db }) => {
          const status = await svc.mayorStatus(root, db);
          const text = await statusText(status);
          return { data: status, text: () => text };
        }),
    ),
  );
}
