import type { Command } from 'commander';
import { action, withJson } from '../harness';
import type { NudgeFlags, StartFlags } from './agent-handlers';

/**
 * Agent-facing commands: `gt agents`, `gt peek`, `gt attach`, `gt session start|stop|restart|status`,
 * `gt nudge`. Handlers live in agent-handlers.ts and load only when one of these commands runs.
 */
const handlers = () => import('./agent-handlers');

export function registerAgentCommands(program: Command): void {
  withJson(
    program
      .command('agents')
      .description('list every agent: role, rig, state, session, hooked bead, runtime, model')
      .option('--rig <rig>', 'only this rig')
      .option('--live', 'also check each session and process (slower)'),
  ).action(
    action(async (options: { rig?: string; live?: boolean }) => (await handlers()).agentsCommand(options)),
  );

  withJson(
    program
      .command('peek')
      .description("show an agent's recent output")
      .argument('<agent>', "address ('mayor', '<rig>/<name>') or session name")
      .option('-n, --lines <n>', 'how many lines', '40'),
  ).action(
    action(async (ref: string, options: { lines?: string }) => (await handlers()).peekCommand(ref, options)),
  );

  withJson(
    program
      .command('attach')
      .description("attach your terminal to an agent's tmux session (detach with C-b d)")
      .argument('<agent>'),
  ).action(action(async (ref: string) => (await handlers()).attachCommand(ref)));

  const session = program.command('session').description("manage an agent's session");
  const startLike = (cmd: Command) =>
    withJson(
      cmd
        .argument('<agent>')
        .option('--agent <preset>', 'agent preset or custom agent for this start')
        .option('--model <model>', 'model for this start')
        .option('--runtime <kind>', 'tmux or headless')
        .option('--prompt <text>', 'first prompt (default: the gt prime beacon)')
        .option('--no-prompt', 'start without a first prompt')
        .option('--wait-ready', 'wait until the agent is ready'),
    );
  startLike(session.command('start').description('start an agent session (creates the agent record if new)'))
    .option('--role <role>', 'role of a new agent')
    .action(
      action(async (ref: string, flags: StartFlags) => (await handlers()).sessionStartCommand(ref, flags)),
    );
  withJson(
    session.command('stop').description('stop a session and its whole process tree').argument('<agent>'),
  ).action(action(async (ref: string) => (await handlers()).sessionStopCommand(ref)));
  startLike(session.command('restart').description('restart a session on the same hook and worktree')).action(
    action(async (ref: string, flags: StartFlags) => (await handlers()).sessionRestartCommand(ref, flags)),
  );
  withJson(
    session
      .command('status')
      .description('is the session there, and its agent process alive')
      .argument('<agent>'),
  ).action(action(async (ref: string) => (await handlers()).sessionStatusCommand(ref)));

  withJson(
    program
      .command('nudge')
      .description('type a message into an agent session now, or queue it for its next turn')
      .argument('[agent]', "address ('mayor', '<rig>/<name>') or session name")
      .argument('[message...]', 'the message (untrusted text is sent literally)')
      .option('--queue', 'do not type it now: queue for the next turn boundary')
      .option('--urgent', 'urgent priority (drained first, kept longer)')
      .option('--wait-idle <ms>', 'how long to wait for a busy agent before queueing', '3000')
      .option('--drain', "print and clear the agent's queued nudges (run by agent hooks)"),
  ).action(
    action(async (ref: string | undefined, words: string[], flags: NudgeFlags) =>
      (await handlers()).nudgeCommand(ref, words, flags),
    ),
  );
}
