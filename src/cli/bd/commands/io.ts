import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { GtError } from '../../../core/errors';
import { derivePrefix, validatePrefix } from '../../../core/ids';
import { exportLines, importJsonl } from '../../../ledger/jsonl';
import { openLedger } from '../../../ledger/open';
import { BeadStore } from '../../../ledger/store';
import { STANDALONE_DIR, STANDALONE_LEDGER } from '../../../town/paths';
import { locateWorkspace } from '../../../workspace/locate';
import { action, type CommandResult } from '../../harness';
import { decodeUtf8 } from '../../input';
import { type GlobalOptions, openContext } from '../context';

type Globals = () => GlobalOptions;

export function registerIoCommands(program: Command, globals: Globals): void {
  program
    .command('init')
    .description('create a standalone ledger in ./.beads')
    .option('-p, --prefix <prefix>', 'bead id prefix (default: derived from the directory name)')
    .option('-q, --quiet', 'print nothing')
    .action(
      action((opts): CommandResult => {
        const root = process.cwd();
        const ledgerPath = join(root, STANDALONE_LEDGER);
        if (existsSync(ledgerPath)) {
          throw new GtError('GT_E_LEDGER_EXISTS', `a ledger already exists at ${ledgerPath}`, {
            hint: 'use it as it is; nothing was changed',
          });
        }
        const prefix = validatePrefix(opts.prefix ?? derivePrefix(basename(root)));
        mkdirSync(join(root, STANDALONE_DIR), { recursive: true });
        const db = openLedger(ledgerPath, { create: true });
        const store = new BeadStore(db, 'bd');
        store.write(() => {
          store.setConfig('issue_prefix', prefix);
          store.registerPrefix(prefix);
        });
        db.close();
        const ignore = join(root, STANDALONE_DIR, '.gitignore');
        if (!existsSync(ignore))
          writeFileSync(
            ignore,
            '# The SQLite ledger is local state; share beads with bd export.\n*.db\n*.db-*\n*.bak\n',
          );
        const data = { path: ledgerPath, prefix };
        return {
          data,
          text: () => (opts.quiet ? '' : `✓ Initialised ledger at ${ledgerPath} (prefix '${prefix}')`),
        };
      }),
    );

  program
    .command('export')
    .description('write every bead as JSONL (beads format, sorted by id)')
    .option('-o, --output <file>', 'write to a file (atomically) instead of stdout')
    .action(
      action((opts): CommandResult => {
        const { store } = openContext(globals());
        const lines = [...exportLines(store)];
        const body = lines.length ? `${lines.join('\n')}\n` : '';
        if (!opts.output) return { data: null, text: () => body.replace(/\n$/, '') };
        const target = resolve(opts.output);
        const temp = `${target}.tmp-${process.pid}`;
        writeFileSync(temp, body);
        renameSync(temp, target);
        return {
          data: { path: target, count: lines.length },
          text: () => `✓ Exported ${lines.length} beads to ${target}`,
        };
      }),
    );

  program
    .command('import')
    .description('upsert beads from JSONL (beads format); all-or-nothing')
    .argument('[file]', "JSONL file ('-' = stdin)", '-')
    .option('-i, --input <file>', 'the file (alternative to the argument)')
    .action(
      action((fileArg: string, opts): CommandResult => {
        const file = opts.input ?? fileArg;
        let bytes: Buffer;
        try {
          bytes = readFileSync(file === '-' ? 0 : file);
        } catch (error) {
          throw new GtError('GT_E_IO', `cannot read ${file}: ${(error as Error).message}`, {
            hint: 'check the path',
          });
        }
        const source = file === '-' ? 'stdin' : file;
        const text = decodeUtf8(bytes, source);
        const { store } = openContext(globals());
        const result = importJsonl(store, text, source);
        const warnings = result.skipped_dependencies.map(
          (s) => `warning: skipped dependency ${s.issue_id} → ${s.depends_on_id}: ${s.reason}`,
        );
        return {
          data: {
            source,
            created: result.created,
            updated: result.updated,
            skipped: result.skipped,
            skipped_dependencies: result.skipped_dependencies,
            ids: result.ids,
          },
          warnings,
          text: () =>
            `✓ Imported from ${source}: ${result.created} created, ${result.updated} updated, ${result.skipped} skipped`,
        };
      }),
    );

  program
    .command('prime')
    .description('workflow guidance for agents (safe to run from a session-start hook)')
    .action(
      action((): CommandResult => {
        // Hook safety: outside a workspace print nothing and succeed.
        try {
          locateWorkspace(process.cwd(), process.env, globals().db);
        } catch {
          return { data: { active: false }, text: () => '' };
        }
        return { data: { active: true, guidance: PRIME_TEXT }, text: () => PRIME_TEXT };
      }),
    );
}

const PRIME_TEXT = `# Beads workflow (bd)

Track ALL work as beads; do not keep TODO lists in markdown. Run \`bd prime\` again after a context reset.

## Find work
- \`bd ready --json\`: open beads with no open blockers, highest priority first
- \`bd show <id> --json\`: full details (an array)
- \`bd update <id> --claim\`: take a bead atomically (fails if someone else holds it)

## Record work
- \`bd create "Title" -d "what and why" -t task|bug|feature|epic|chore -p 0-4\` (priority is 0-4 or P0-P4, never words)
- Found something while working? \`bd create "…" --deps discovered-from:<current-id>\`
- In a town, a bead created inside a rig's folder (or with GT_RIG set) belongs to that rig; \`--rig <rig>\` picks another
- \`bd dep add <issue> <depends-on>\`: <issue> waits for <depends-on> to close; \`bd blocked\` lists what waits
- \`bd comment <id> "progress note"\`, \`bd label add <id> <label>\`

## Finish
- \`bd close <id> --reason "what was done"\` (refused while open blockers remain)
- Never use an interactive editor; pass every field as a flag. Add --json to any read command.
`;
