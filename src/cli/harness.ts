import { type Command, CommanderError } from 'commander';
import { EXIT_INTERNAL, EXIT_USAGE, exitCodeFor, GtError, isGtError } from '../core/errors';

/**
 * What a command handler returns: the data (printed as JSON with --json) and how to show it to a person.
 * Handlers never print; this module does.
 */
export interface CommandResult {
  data: unknown;
  /** Human rendering. Defaults to pretty JSON when absent. */
  text?: () => string;
  /** Lines for stderr (notes, partial failures), shown in both modes. */
  warnings?: string[];
  /** Non-zero when the command refused part of the work but still has data to show. */
  exitCode?: number;
}

export interface IoSink {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processSink: IoSink = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const flags = end === -1 ? argv : argv.slice(0, end);
  return flags.includes('--json') || process.env.BD_JSON === '1';
}

export function renderResult(result: CommandResult, json: boolean, sink: IoSink = processSink): number {
  for (const warning of result.warnings ?? []) sink.err(`${warning}\n`);
  if (json) {
    sink.out(`${JSON.stringify(result.data, null, 2)}\n`);
  } else {
    const text = result.text ? result.text() : JSON.stringify(result.data, null, 2);
    if (text.length > 0) sink.out(text.endsWith('\n') ? text : `${text}\n`);
  }
  return result.exitCode ?? 0;
}

export function renderError(error: unknown, json: boolean, sink: IoSink = processSink): number {
  const code = exitCodeFor(error);
  if (isGtError(error)) {
    if (json) {
      const payload: Record<string, unknown> = { error: error.message, code: error.code };
      if (error.hint) payload.hint = error.hint;
      if (error.details) payload.details = error.details;
      sink.err(`${JSON.stringify(payload)}\n`);
    } else {
      sink.err(`error[${error.code}]: ${error.message}\n`);
      if (error.hint) sink.err(`  hint: ${error.hint}\n`);
    }
    return code;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  if (json) {
    sink.err(`${JSON.stringify({ error: `internal error: ${String(error)}`, code: 'GT_E_INTERNAL' })}\n`);
  } else {
    sink.err(`internal error (this is a bug in gt, please report it):\n${message}\n`);
  }
  return EXIT_INTERNAL;
}

/** Wraps a handler so its result is rendered and its errors become exit codes. */
export function action<A extends unknown[]>(
  handler: (...args: A) => CommandResult | Promise<CommandResult>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const json = wantsJson(process.argv);
    const result = await handler(...args);
    process.exitCode = renderResult(result, json);
  };
}

/** Runs a commander program: usage errors exit 2 with GT_E_USAGE, refusals 1, bugs 70. */
export async function runProgram(program: Command, argv: readonly string[]): Promise<void> {
  const json = wantsJson(argv);
  program.exitOverride();
  program.configureOutput({
    writeErr: (text) => {
      // Commander's own usage messages are re-rendered below with a stable code.
      if (!text.startsWith('error:')) process.stderr.write(text);
    },
  });
  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.exitCode === 0 ||
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version'
      ) {
        process.exitCode = 0;
        return;
      }
      const message = error.message.replace(/^error:\s*/, '');
      process.exitCode = renderError(
        new GtError('GT_E_USAGE', message, { hint: `run '${program.name()} --help' for usage` }),
        json,
      );
      process.exitCode = EXIT_USAGE;
      return;
    }
    process.exitCode = renderError(error, json);
  }
}

/** The shared `--json` option, added to every command that agents read. */
export function withJson(command: Command): Command {
  return command.option('--json', 'machine-readable output');
}
