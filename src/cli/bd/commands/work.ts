import type { Command } from 'commander';
import { parseIssueType, parsePriority, parseStatus } from '../../../core/bead';
import { parseDepSpecs } from '../../../core/dep-spec';
import { GtError } from '../../../core/errors';
import { oneLine } from '../../../core/text';
import type { UpdateBeadInput } from '../../../ledger/store';
import { action, type CommandResult } from '../../harness';
import { readTextSource } from '../../input';
import { type GlobalOptions, implicitRig, openContext } from '../context';
import {
  collect,
  descriptionFrom,
  limitFrom,
  priorityFrom,
  splitList,
  statusesFrom,
  typesFrom,
} from '../options';
import { beadDetails, beadLine, beadList } from '../render';

type Globals = () => GlobalOptions;

export function registerWorkCommands(program: Command, globals: Globals): void {
  program
    .command('create')
    .alias('new')
    .description('create a bead')
    .argument('[title]', 'the title')
    .option('--title <title>', 'the title (instead of the argument)')
    .option('-d, --description <text>', 'description')
    .option('--body <text>', 'alias of --description')
    .option('--body-file <file>', "read the description from a file ('-' = stdin)")
    .option('--description-file <file>', 'alias of --body-file')
    .option('--stdin', 'read the description from standard input')
    .option('--design <text>', 'design notes')
    .option('--acceptance <text>', 'acceptance criteria')
    .option('--notes <text>', 'notes')
    .option('-t, --type <type>', 'task, bug, feature, epic, chore, …', 'task')
    .option('-p, --priority <n>', 'priority 0-4 (0 highest)', '2')
    .option('-a, --assignee <name>', 'assignee')
    .option('-l, --labels <labels>', 'comma-separated labels (repeatable)', collect)
    .option('--label <label>', 'one label (repeatable)', collect)
    .option('--parent <id>', 'parent bead: the new bead gets id <parent>.<n>')
    .option('--deps <specs>', 'dependencies: id, type:id, or blocks:id (comma-separated)')
    .option('--id <id>', 'explicit id')
    .option('--rig <rig>', 'create in a rig (its prefix); default: $GT_RIG or the rig folder you are in')
    .option('--prefix <prefix>', "id prefix (default: the rig's, else the ledger issue_prefix)")
    .option('--external-ref <ref>', 'external reference, e.g. gh-12')
    .option('-e, --estimate <minutes>', 'estimated minutes')
    .option('--silent', 'print only the id')
    .action(
      action((titleArg: string | undefined, opts) => {
        const title = titleArg ?? opts.title;
        if (titleArg !== undefined && opts.title !== undefined && titleArg !== opts.title) {
          throw new GtError('GT_E_USAGE', 'the title argument and --title differ', {
            hint: 'give the title once',
          });
        }
        if (title === undefined) {
          throw new GtError('GT_E_EMPTY_TITLE', 'a bead needs a title', {
            hint: 'bd create "Fix the login redirect"',
          });
        }
        const ctx = openContext(globals());
        const { store, queries } = ctx;
        // --rig or --prefix decide; else the rig we run in (GT_RIG, or a folder under rigs/<rig>/).
        const rig =
          opts.rig !== undefined
            ? { name: opts.rig as string, prefix: store.rigPrefix(opts.rig) }
            : opts.prefix === undefined
              ? implicitRig(ctx)
              : null;
        const estimate = opts.estimate === undefined ? undefined : Number(opts.estimate);
        if (estimate !== undefined && (!Number.isInteger(estimate) || estimate < 0)) {
          throw new GtError('GT_E_INVALID_INPUT', `invalid estimate '${opts.estimate}'`, {
            hint: 'whole minutes, e.g. -e 30',
          });
        }
        const bead = store.create({
          title,
          description: descriptionFrom(opts),
          design: opts.design,
          acceptance_criteria: opts.acceptance,
          notes: opts.notes,
          issue_type: parseIssueType(opts.type),
          priority: parsePriority(opts.priority),
          assignee: opts.assignee,
          labels: splitList([...(opts.labels ?? []), ...(opts.label ?? [])]),
          parent: opts.parent,
          deps: opts.deps ? parseDepSpecs(opts.deps) : [],
          id: opts.id,
          prefix: opts.prefix ?? rig?.prefix,
          rig: rig?.name ?? null,
          external_ref: opts.externalRef,
          estimated_minutes: estimate,
        });
        const json = queries.withCounts([bead])[0]!;
        return {
          data: json,
          text: () =>
            opts.silent
              ? bead.id
              : `✓ Created ${bead.id} — ${oneLine(bead.title)}\n  Priority: P${bead.priority} · Type: ${bead.issue_type} · Status: ${bead.status}${bead.rig ? ` · Rig: ${bead.rig}` : ''}`,
        };
      }),
    );

  program
    .command('list')
    .description('list beads (open ones by default)')
    .option('-s, --status <statuses>', "filter by status (comma-separated, or 'all')", collect)
    .option('--all', 'include closed beads')
    .option('-t, --type <types>', 'filter by type', collect)
    .option('-a, --assignee <name>', 'filter by assignee')
    .option('--no-assignee', 'only unassigned beads')
    .option('-l, --label <label>', 'filter by label (repeatable: all must match)', collect)
    .option('-p, --priority <n>', 'filter by priority')
    .option('--parent <id>', 'descendants of a bead')
    .option('--rig <rig>', 'filter by rig')
    .option('-n, --limit <n>', 'maximum rows (0 = no limit)', '50')
    .action(
      action((opts): CommandResult => {
        const { store, queries } = openContext(globals());
        const statuses = statusesFrom(opts.status);
        const beads = queries.list({
          statuses: statuses === 'all' ? undefined : statuses,
          all: Boolean(opts.all) || statuses === 'all',
          types: typesFrom(opts.type),
          assignee: typeof opts.assignee === 'string' ? opts.assignee : undefined,
          unassigned: opts.assignee === false,
          labels: splitList(opts.label),
          priority: priorityFrom(opts.priority),
          parent: opts.parent ? store.resolver.resolve(opts.parent) : undefined,
          rig: opts.rig,
          limit: limitFrom(opts.limit, 50),
        });
        const json = queries.withCounts(beads);
        return { data: json, text: () => beadList(json, 'No beads found.') };
      }),
    );

  program
    .command('show')
    .alias('view')
    .description('show beads in full (JSON: an array)')
    .argument('<ids...>', 'bead ids (partial ids are fine)')
    .action(
      action((ids: string[]): CommandResult => {
        const { store, queries } = openContext(globals());
        const details = ids.map((id) => queries.details(store.require(id)));
        return { data: details, text: () => details.map(beadDetails).join('\n\n') };
      }),
    );

  program
    .command('ready')
    .description('open beads with no open blockers, by priority then age')
    .option('-n, --limit <n>', 'maximum rows (0 = no limit)', '100')
    .option('-a, --assignee <name>', 'only this assignee')
    .option('-u, --unassigned', 'only unassigned beads')
    .option('-l, --label <label>', 'filter by label (repeatable)', collect)
    .option('-p, --priority <n>', 'only this priority')
    .option('-t, --type <types>', 'only these types', collect)
    .option('--parent <id>', 'descendants of a bead')
    .option('--rig <rig>', 'only this rig')
    .action(
      action((opts): CommandResult => {
        const { store, queries } = openContext(globals());
        const beads = queries.ready({
          limit: limitFrom(opts.limit, 100),
          assignee: opts.assignee,
          unassigned: Boolean(opts.unassigned),
          labels: splitList(opts.label),
          priority: priorityFrom(opts.priority),
          types: typesFrom(opts.type),
          parent: opts.parent ? store.resolver.resolve(opts.parent) : undefined,
          rig: opts.rig,
        });
        const json = queries.withCounts(beads);
        return {
          data: json,
          text: () =>
            json.length === 0
              ? 'No ready work.'
              : json
                  .map(
                    (b, i) =>
                      `${i + 1}. [P${b.priority}] [${b.issue_type}] ${b.id}: ${oneLine(String(b.title))}`,
                  )
                  .join('\n'),
        };
      }),
    );

  program
    .command('blocked')
    .description('beads held back by open blockers')
    .option('--parent <id>', 'descendants of a bead')
    .action(
      action((opts): CommandResult => {
        const { store, queries } = openContext(globals());
        const rows = queries.blocked({
          parent: opts.parent ? store.resolver.resolve(opts.parent) : undefined,
        });
        const json = rows.map(({ bead, blockedBy }) => ({
          ...queries.withCounts([bead])[0]!,
          blocked_by_count: blockedBy.length,
          blocked_by: blockedBy,
        }));
        return {
          data: json,
          text: () =>
            json.length === 0
              ? 'Nothing is blocked.'
              : json
                  .map((b) => `${beadLine(b, { blocked: true })}\n    blocked by: ${b.blocked_by.join(', ')}`)
                  .join('\n'),
        };
      }),
    );

  program
    .command('update')
    .description('change beads')
    .argument('<ids...>', 'bead ids')
    .option('-s, --status <status>', 'new status')
    .option(
      '--claim',
      'atomically take the bead: assignee = you, status in_progress (fails if someone else has it)',
    )
    .option('-a, --assignee <name>', "assignee ('' to unassign)")
    .option('-p, --priority <n>', 'priority 0-4')
    .option('--title <title>', 'new title')
    .option('-d, --description <text>', 'new description')
    .option('--body-file <file>', "read the description from a file ('-' = stdin)")
    .option('--design <text>', 'design notes')
    .option('--acceptance <text>', 'acceptance criteria')
    .option('--notes <text>', 'notes')
    .option('-t, --type <type>', 'type')
    .option('--external-ref <ref>', "external reference ('' clears)")
    .option('--add-label <label>', 'add a label (repeatable)', collect)
    .option('--remove-label <label>', 'remove a label (repeatable)', collect)
    .option('-r, --reason <text>', 'close reason when --status closed')
    .option('-f, --force', 'with --status closed: close even with open blockers')
    .action(
      action((ids: string[], opts): CommandResult => {
        const { store, queries } = openContext(globals());
        const changes: UpdateBeadInput = {
          status: opts.status === undefined ? undefined : parseStatus(opts.status),
          assignee: opts.assignee,
          priority: priorityFrom(opts.priority),
          title: opts.title,
          description: descriptionFrom({ description: opts.description, bodyFile: opts.bodyFile }),
          design: opts.design,
          acceptance_criteria: opts.acceptance,
          notes: opts.notes,
          issue_type: opts.type === undefined ? undefined : parseIssueType(opts.type),
          external_ref: opts.externalRef,
          close_reason: opts.reason,
          force: Boolean(opts.force),
        };
        const hasFieldChanges = Object.entries(changes).some(([k, v]) => k !== 'force' && v !== undefined);
        const hasWork = hasFieldChanges || opts.claim || opts.addLabel || opts.removeLabel;
        if (!hasWork) {
          throw new GtError('GT_E_USAGE', 'no updates specified', {
            hint: "see 'bd update --help' for the fields",
          });
        }
        return forEachId(
          ids,
          (id) => {
            if (opts.claim) store.claim(id);
            const bead = hasFieldChanges ? store.update(id, changes) : store.require(id);
            for (const label of splitList(opts.addLabel)) store.addLabel(bead.id, label);
            for (const label of splitList(opts.removeLabel)) store.removeLabel(bead.id, label);
            return queries.withCounts([store.get(bead.id)!])[0]!;
          },
          (b) =>
            `✓ Updated ${b.id}: ${oneLine(String(b.title))} [${b.status}${b.assignee ? ` @${oneLine(String(b.assignee))}` : ''}]`,
        );
      }),
    );

  program
    .command('close')
    .alias('done')
    .description('close beads (refused while they have open blockers, unless --force)')
    .argument('<ids...>', 'bead ids')
    .option('-r, --reason <text>', 'why it is closed', 'Closed')
    .option('--reason-file <file>', "read the reason from a file ('-' = stdin)")
    .option('-f, --force', 'close even with open blockers or open children')
    .action(
      action((ids: string[], opts): CommandResult => {
        const { store, queries } = openContext(globals());
        const reason = opts.reasonFile ? readTextSource(opts.reasonFile, 'reason') : opts.reason;
        return forEachId(
          ids,
          (id) => queries.withCounts([store.close(id, reason, Boolean(opts.force))])[0]!,
          (b) => `✓ Closed ${b.id}: ${oneLine(String(b.title))}`,
        );
      }),
    );

  program
    .command('reopen')
    .description('reopen closed beads')
    .argument('<ids...>', 'bead ids')
    .option('-r, --reason <text>', 'why it is reopened')
    .action(
      action((ids: string[], opts): CommandResult => {
        const { store, queries } = openContext(globals());
        return forEachId(
          ids,
          (id) => queries.withCounts([store.reopen(id, opts.reason)])[0]!,
          (b) => `✓ Reopened ${b.id}: ${oneLine(String(b.title))}`,
        );
      }),
    );

  program
    .command('search')
    .description('find beads whose id, title or description contains the text')
    .argument('<query...>', 'words to look for')
    .option('-s, --status <statuses>', "status filter (default: not closed; 'all' for everything)", collect)
    .option('-n, --limit <n>', 'maximum rows', '50')
    .action(
      action((words: string[], opts): CommandResult => {
        const { queries } = openContext(globals());
        const statuses = statusesFrom(opts.status);
        const beads = queries.list({
          text: words.join(' '),
          statuses: statuses === 'all' ? undefined : statuses,
          all: statuses === 'all',
          limit: limitFrom(opts.limit, 50),
        });
        const json = queries.withCounts(beads);
        return { data: json, text: () => beadList(json, 'No matches.') };
      }),
    );

  program
    .command('history')
    .description("a bead's event trail: who changed what, when")
    .argument('<id>')
    .action(
      action((id: string): CommandResult => {
        const { store } = openContext(globals());
        const bead = store.require(id);
        const events = store.eventsOf(bead.id);
        return {
          data: events,
          text: () =>
            events
              .map(
                (e) =>
                  `${e.created_at} ${oneLine(e.actor)} ${e.event_type}${e.new_value ? ` ${oneLine(JSON.stringify(e.new_value))}` : ''}`,
              )
              .join('\n'),
        };
      }),
    );

  program
    .command('stats')
    .alias('status')
    .description('counts by status, ready and blocked work')
    .action(
      action((): CommandResult => {
        const { queries } = openContext(globals());
        const summary = queries.stats();
        return {
          data: { summary },
          text: () =>
            Object.entries(summary)
              .map(([key, value]) => `${key.replace(/_/g, ' ').padEnd(26)} ${value}`)
              .join('\n'),
        };
      }),
    );
}

/**
 * Multi-id commands: each id is its own transaction; failures are reported per id on stderr and the
 * exit status is 1 only when nothing succeeded (beads semantics). A single id fails loudly.
 */
export function forEachId<T extends Record<string, unknown>>(
  ids: readonly string[],
  apply: (id: string) => T,
  describe: (item: T) => string,
): CommandResult {
  if (ids.length === 1) {
    const item = apply(ids[0]!);
    return { data: [item], text: () => describe(item) };
  }
  const done: T[] = [];
  const warnings: string[] = [];
  for (const id of ids) {
    try {
      done.push(apply(id));
    } catch (error) {
      if (!(error instanceof GtError)) throw error;
      warnings.push(`error[${error.code}]: ${error.message}`);
    }
  }
  return {
    data: done,
    text: () => done.map(describe).join('\n'),
    warnings,
    exitCode: done.length === 0 ? 1 : 0,
  };
}
