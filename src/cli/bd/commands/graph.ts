import type { Command } from 'commander';
import { GtError } from '../../../core/errors';
import { oneLine } from '../../../core/text';
import { beadToJson } from '../../../ledger/serialize';
import { action, type CommandResult } from '../../harness';
import { readTextSource } from '../../input';
import { type GlobalOptions, openContext } from '../context';
import { beadLine } from '../render';
import { forEachId } from './work';

type Globals = () => GlobalOptions;

export function registerGraphCommands(program: Command, globals: Globals): void {
  const dep = program.command('dep').description('dependencies between beads');
  dep
    .command('add')
    .description('<issue> depends on <depends-on> (default type: blocks)')
    .argument('<issue>', 'the dependent bead')
    .argument('<depends-on>', 'the bead it waits on')
    .option(
      '-t, --type <type>',
      'blocks, parent-child, related, discovered-from, conditional-blocks',
      'blocks',
    )
    .action(
      action((issue: string, target: string, opts): CommandResult => {
        const { store } = openContext(globals());
        const edge = store.addDependency(issue, target, opts.type);
        const data = {
          status: 'added',
          issue_id: edge.issue_id,
          depends_on_id: edge.depends_on_id,
          type: edge.type,
        };
        return {
          data,
          text: () => `✓ Added dependency: ${edge.issue_id} depends on ${edge.depends_on_id} (${edge.type})`,
        };
      }),
    );
  dep
    .command('remove')
    .alias('rm')
    .description('remove the dependency of <issue> on <depends-on>')
    .argument('<issue>')
    .argument('<depends-on>')
    .action(
      action((issue: string, target: string): CommandResult => {
        const { store } = openContext(globals());
        const edge = store.removeDependency(issue, target);
        const data = { status: 'removed', issue_id: edge.issue_id, depends_on_id: edge.depends_on_id };
        return {
          data,
          text: () => `✓ Removed dependency: ${edge.issue_id} no longer depends on ${edge.depends_on_id}`,
        };
      }),
    );
  dep
    .command('tree')
    .description('what a bead waits on, as a tree')
    .argument('<id>')
    .option('-d, --max-depth <n>', 'maximum depth', '50')
    .action(
      action((id: string, opts): CommandResult => {
        const { store, queries } = openContext(globals());
        const root = store.require(id);
        const nodes = queries.tree(root.id, Number(opts.maxDepth) || 50);
        const data = nodes.map((n) => ({
          ...beadToJson(n.bead),
          depth: n.depth,
          parent_id: n.parent_id,
          dependency_type: n.type,
        }));
        return {
          data,
          text: () =>
            nodes
              .map((n) => {
                const state = n.bead.status === 'closed' ? '' : n.bead.is_blocked ? ' [BLOCKED]' : ' [READY]';
                const edge = n.type ? `${n.type}: ` : '';
                return `${'  '.repeat(n.depth)}${edge}${beadLine(beadToJson(n.bead))}${state}`;
              })
              .join('\n'),
        };
      }),
    );

  const label = program.command('label').description('labels on beads');
  label
    .command('add')
    .description('add a label to beads')
    .argument('<args...>', '<id…> <label>')
    .action(
      action((args: string[]): CommandResult => {
        const [ids, name] = idsAndLast(args, 'label');
        const { store } = openContext(globals());
        return forEachId(
          ids,
          (id) => ({ status: 'added', ...store.addLabel(id, name) }),
          (r) => `✓ ${r.issue_id}: ${r.added ? 'added' : 'already had'} label ${oneLine(r.label)}`,
        );
      }),
    );
  label
    .command('remove')
    .description('remove a label from beads')
    .argument('<args...>', '<id…> <label>')
    .action(
      action((args: string[]): CommandResult => {
        const [ids, name] = idsAndLast(args, 'label');
        const { store } = openContext(globals());
        return forEachId(
          ids,
          (id) => ({ status: 'removed', ...store.removeLabel(id, name) }),
          (r) => `✓ ${r.issue_id}: removed label ${oneLine(r.label)}`,
        );
      }),
    );
  label
    .command('list')
    .description("a bead's labels")
    .argument('<id>')
    .action(
      action((id: string): CommandResult => {
        const { store } = openContext(globals());
        const labels = store.labelsOf(store.require(id).id);
        return { data: labels, text: () => (labels.length ? labels.map(oneLine).join('\n') : 'No labels.') };
      }),
    );
  label
    .command('list-all')
    .description('every label in use, with counts')
    .action(
      action((): CommandResult => {
        const { store } = openContext(globals());
        const rows = store.db
          .prepare<[], { label: string; count: number }>(
            'SELECT label, count(*) AS count FROM labels GROUP BY label ORDER BY label',
          )
          .all();
        return {
          data: rows,
          text: () => rows.map((r) => `${oneLine(r.label).padEnd(30)} ${r.count}`).join('\n'),
        };
      }),
    );

  program
    .command('comment')
    .description('add a comment to a bead')
    .argument('<id>')
    .argument('[text...]', 'the comment')
    .option('--file <file>', "read the comment from a file ('-' = stdin)")
    .option('--stdin', 'read the comment from standard input')
    .action(
      action((id: string, words: string[], opts): CommandResult => {
        const text = opts.file
          ? readTextSource(opts.file, 'comment')
          : opts.stdin
            ? readTextSource('-', 'comment')
            : words.join(' ');
        const { store } = openContext(globals());
        const comment = store.addComment(id, text);
        return {
          data: { ...comment, created_at: new Date(comment.created_at).toISOString() },
          text: () => `✓ Comment added to ${comment.issue_id}`,
        };
      }),
    );

  const comments = program
    .command('comments')
    .description("a bead's comments (or: comments add <id> <text>)")
    .argument('[id]')
    .action(
      action((id: string | undefined): CommandResult => {
        if (!id) throw new GtError('GT_E_USAGE', 'which bead?', { hint: 'bd comments <id>' });
        const { store } = openContext(globals());
        const list = store
          .commentsOf(store.require(id).id)
          .map((c) => ({ ...c, created_at: new Date(c.created_at).toISOString() }));
        return {
          data: list,
          text: () =>
            list.length
              ? list.map((c) => `${c.created_at} ${oneLine(c.author)}: ${oneLine(c.text)}`).join('\n')
              : 'No comments.',
        };
      }),
    );
  comments
    .command('add')
    .description('add a comment')
    .argument('<id>')
    .argument('<text...>')
    .action(
      action((id: string, words: string[]): CommandResult => {
        const { store } = openContext(globals());
        const comment = store.addComment(id, words.join(' '));
        return {
          data: { ...comment, created_at: new Date(comment.created_at).toISOString() },
          text: () => `✓ Comment added to ${comment.issue_id}`,
        };
      }),
    );
}

function idsAndLast(args: readonly string[], what: string): [string[], string] {
  if (args.length < 2) {
    throw new GtError('GT_E_USAGE', `give one or more bead ids and then the ${what}`, {
      hint: `bd label add gt-a1b gt-c2d ${what === 'label' ? 'area:auth' : what}`,
    });
  }
  return [args.slice(0, -1), args[args.length - 1]!];
}
