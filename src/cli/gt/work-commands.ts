import type { Command } from 'commander';
import { oneLine } from '../../core/text';
import { action, type CommandResult, withJson } from '../harness';

/**
 * The work loop's commands (docs/work-loop.md): `gt sling`, `gt prime`, `gt hook`, `gt done`,
 * `gt handoff`. Services load lazily inside the actions.
 */
interface SlingFlags {
  agent?: string;
  model?: string;
  force?: boolean;
  start?: boolean;
  queue?: boolean;
}

async function slingCommand(args: string[], flags: SlingFlags): Promise<CommandResult> {
  const { GtError } = await import('../../core/errors');
  if (args.length < 2) {
    throw new GtError('GT_E_USAGE', 'gt sling needs at least one bead and a target', {
      hint: 'gt sling <bead…> <rig | rig/name | rig/crew/name | mayor>',
    });
  }
  const target = args[args.length - 1]!;
  const beads = args.slice(0, -1);
  const { withTownLedger } = await import('../../services/town-ledger');
  const { slingBeads } = await import('../../services/sling');
  const outcome = await withTownLedger(({ root, store }) =>
    slingBeads({ root, store }, beads, target, {
      agent: flags.agent,
      model: flags.model,
      force: flags.force,
      noStart: flags.start === false,
      queue: flags.queue !== false,
    }),
  );
  const warnings: string[] = [];
  for (const r of outcome.results) warnings.push(...r.warnings.map((w) => `warning: ${r.bead}: ${w}`));
  for (const f of outcome.failures) {
    warnings.push(`error[${f.code}]: ${f.bead}: ${f.error}${f.hint ? `\n  hint: ${f.hint}` : ''}`);
  }
  return {
    data: outcome,
    warnings,
    exitCode: outcome.failures.length > 0 ? 1 : 0,
    text: () =>
      outcome.results
        .map((r) => {
          if (r.status === 'already-hooked')
            return `${r.bead} is already on the hook of ${r.agent} (nothing to do)`;
          if (r.status === 'queued')
            return `queued ${r.bead} → ${r.target} (position ${r.queued?.position}): ${r.queued?.reason}\n  ${oneLine(r.title)}`;
          const parts = [`slung ${r.bead} → ${r.agent}${r.reused ? '' : ' (new)'}`];
          if (r.moved_from) parts.push(`moved from ${r.moved_from}`);
          if (r.branch) parts.push(`branch ${r.branch}`);
          if (r.session)
            parts.push(
              `session ${r.session.name} (${r.session.preset}${r.session.model ? `, ${r.session.model}` : ''})${r.session.started ? '' : ' already running'}`,
            );
          else parts.push('no session started');
          if (r.convoy) parts.push(`convoy ${r.convoy.id}${r.convoy.created ? ' (new)' : ''}`);
          return `${parts.join('; ')}\n  ${oneLine(r.title)}`;
        })
        .join('\n'),
  };
}

async function primeHookSafe(): Promise<void> {
  // A SessionStart hook must never fail loudly: exit 0, nothing on stderr, whatever happens.
  let context: string;
  try {
    const { withTownLedger } = await import('../../services/town-ledger');
    const { identityFor, primeInfo } = await import('../../services/prime');
    context = await withTownLedger(
      ({ root, store }) => primeInfo(root, store.db, identityFor(root, process.env, process.cwd())).text,
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    context = `gt prime could not load your context (${oneLine(message).slice(0, 300)}). Run \`gt prime\` to see the error.`;
  }
  try {
    const { sessionStartHookJson } = await import('../../services/prime');
    process.stdout.write(`${sessionStartHookJson(context)}\n`);
  } catch {
    // nothing more we can safely do
  }
  process.exitCode = 0;
}

async function primeCommand(flags: { hook?: boolean }): Promise<CommandResult> {
  if (flags.hook) {
    await primeHookSafe();
    return { data: null, text: () => '' };
  }
  const { withTownLedger } = await import('../../services/town-ledger');
  const { identityFor, primeInfo } = await import('../../services/prime');
  const info = await withTownLedger(({ root, store }) =>
    primeInfo(root, store.db, identityFor(root, process.env, process.cwd())),
  );
  return { data: info, text: () => info.text };
}

async function hookCommand(agent: string | undefined): Promise<CommandResult> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const { hookInfo, identityFor } = await import('../../services/prime');
  const info = await withTownLedger(({ root, store }) =>
    hookInfo(root, store.db, identityFor(root, process.env, process.cwd(), agent)),
  );
  return {
    data: info,
    text: () => {
      if (!info.agent) return 'you are not an agent (no GT_AGENT); name one: gt hook <agent>';
      if (!info.bead) return `${info.agent}: nothing on the hook`;
      return [
        `${info.agent}: ${info.bead.id} [${info.bead.status}] ${oneLine(info.bead.title)}`,
        info.branch ? `branch ${info.branch}` : '',
        info.worktree ? `checkout ${info.worktree}` : '',
      ]
        .filter(Boolean)
        .join('\n');
    },
  };
}

async function doneCommand(flags: {
  message?: string;
  commit?: boolean;
  keepSession?: boolean;
}): Promise<CommandResult> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const { identityFor } = await import('../../services/prime');
  const { submitDone } = await import('../../services/done');
  const result = await withTownLedger(({ root, store }) =>
    submitDone(root, store, identityFor(root, process.env, process.cwd()), flags),
  );
  return {
    data: result,
    text: () =>
      [
        `${result.bead}: ${result.branch} (${result.commits} commit${result.commits === 1 ? '' : 's'}, ${result.head_sha.slice(0, 12)}) ${result.push === 'pushed' ? 'pushed to' : 'already on'} the rig's repo`,
        `merge request #${result.mr.id} ${result.mr.state}${result.mr.created ? '' : ' (already recorded)'}; bead ${result.bead_status}; ${result.agent} ${result.agent_state}`,
        result.session === 'ending'
          ? 'your session ends now. Thank you.'
          : result.session === 'kept'
            ? 'session kept (idle)'
            : '',
      ]
        .filter(Boolean)
        .join('\n'),
  };
}

async function handoffCommand(agent: string | undefined, flags: { note?: string }): Promise<CommandResult> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const { identityFor } = await import('../../services/prime');
  const { handoff } = await import('../../services/handoff');
  const result = await withTownLedger(({ root, store }) =>
    handoff(root, store, identityFor(root, process.env, process.cwd(), agent), flags.note),
  );
  return {
    data: result,
    text: () =>
      `${result.agent}: ${result.note_id !== null ? 'note saved; ' : ''}${
        result.restart === 'scheduled'
          ? 'session restarts in a moment'
          : `session ${result.session} restarted`
      } (hook ${result.hooked_bead ?? 'empty'} kept)`,
  };
}

async function sessionAfterCommand(what: string, agent: string, pid: string): Promise<void> {
  try {
    const { withTownLedger } = await import('../../services/town-ledger');
    const { runAfterHelper } = await import('../../services/work-sessions');
    await withTownLedger(({ root, store }) =>
      runAfterHelper(root, store.db, what === 'restart' ? 'restart' : 'end', agent, Number(pid)),
    );
  } catch {
    // a detached helper has nobody to tell; gt agents / the Witness see the session state
  }
}

export function registerWorkCommands(program: Command): void {
  withJson(
    program
      .command('sling')
      .description(
        "put beads on agents' hooks and start them: a rig (new or idle polecat), <rig>/<name> (polecat or crew), <rig>/crew/<name>, or mayor",
      )
      .argument('<bead-and-target...>', 'one or more beads, then the target')
      .option('--agent <preset>', 'agent preset or custom agent for this sling')
      .option('--model <model>', 'model for this sling')
      .option('--force', 'move a bead hooked by another agent (that agent is told by mail)')
      .option('--no-start', 'hook and prepare the checkout, but start no session')
      .option('--no-queue', 'fail (GT_E_CAPACITY / GT_E_PAUSED) instead of queueing when full or paused'),
  ).action(action(slingCommand));

  withJson(
    program
      .command('prime')
      .description('print your role, the bead on your hook (fenced as data), the rules and your unread mail')
      .option('--hook', 'Claude Code SessionStart hook output (never fails: exit 0, nothing on stderr)'),
  ).action(async (flags: { hook?: boolean }) => {
    if (flags.hook) return primeHookSafe();
    return action(primeCommand)(flags);
  });

  withJson(
    program
      .command('hook')
      .description('what is on my hook (or on the hook of <agent>)')
      .argument('[agent]', "an agent address ('<rig>/<name>', 'mayor'); default: you"),
  ).action(action(hookCommand));

  withJson(
    program
      .command('done')
      .description('submit your branch: push it to the rig, queue a merge request, bead → in_review')
      .option('-m, --message <text>', 'commit message for --commit')
      .option('--commit', 'commit uncommitted changes first (otherwise they are refused)')
      .option('--keep-session', 'leave the session running (idle) instead of ending it'),
  ).action(action(doneCommand));

  withJson(
    program
      .command('handoff')
      .description('restart your session with a fresh context, keeping hook, checkout and a note to yourself')
      .argument('[agent]', 'an agent address (default: you)')
      .option('--note <text>', 'a note for your next session (shown by gt prime)'),
  ).action(action(handoffCommand));

  program
    .command('_session-after', { hidden: true })
    .argument('<action>')
    .argument('<agent>')
    .argument('<pid>')
    .action(sessionAfterCommand);
}
