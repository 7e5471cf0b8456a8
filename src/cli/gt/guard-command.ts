import type { Command } from 'commander';
import { GtError } from '../../core/errors';
import { action, withJson } from '../harness';

const PROTOCOLS = ['claude', 'codex', 'gemini'] as const;
type Protocol = (typeof PROTOCOLS)[number];

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 4 * 1024 * 1024) reject(new Error('hook input larger than 4 MiB'));
    });
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}

/**
 * `gt guard`: the tool-call hook of agents (Claude Code / Codex PreToolUse, Gemini CLI BeforeTool). Reads
 * the hook JSON on stdin; exit 0 allows, exit 2 refuses with the reason on stderr. `gt guard explain
 * '<command>'` shows a person what the guard would decide. Everything is loaded lazily: agents call this
 * before every tool call.
 */
export function registerGuardCommand(program: Command): void {
  const guard = program
    .command('guard')
    .description(
      'tool-call hook for agents: refuses pushes to main, force pushes, --no-verify, work outside the worktree',
    )
    .option('--format <agent>', `hook protocol: ${PROTOCOLS.join(', ')} (default: detected from the input)`)
    .action(
      action(async (opts: { format?: string }) => {
        if (opts.format !== undefined && !PROTOCOLS.includes(opts.format as Protocol)) {
          throw new GtError('GT_E_USAGE', `unknown hook format '${opts.format}'`, {
            hint: `use one of ${PROTOCOLS.join(', ')}`,
          });
        }
        let answer: { exitCode: number; stdout: string; stderr: string };
        try {
          const { answerHook } = await import('../../guard/run');
          const stdin = process.stdin.isTTY
            ? ''
            : await readStdin().catch((e: Error) => `\u0000${e.message}`);
          answer = answerHook(stdin, opts.format as Protocol | undefined);
        } catch (error) {
          // Any other exit status would let the agent's call through: a broken guard blocks (exit 2).
          answer = {
            exitCode: 2,
            stdout: '',
            stderr: `gt guard failed (${(error as Error)?.message ?? error}); refused to be safe.`,
          };
        }
        return {
          data: answer,
          text: () => answer.stdout,
          ...(answer.stderr ? { warnings: [answer.stderr] } : {}),
          exitCode: answer.exitCode,
        };
      }),
    );

  withJson(
    guard
      .command('explain <command>')
      .description('show what the guard decides for a shell command line run here (exit 1 when refused)')
      .option('--cwd <dir>', 'directory the command would run in (default: here)'),
  ).action(
    action(async (command: string, opts: { cwd?: string }) => {
      const { explainCommand } = await import('../../guard/run');
      const result = explainCommand(command, opts.cwd ?? process.cwd());
      return {
        data: result,
        exitCode: result.allow ? 0 : 1,
        text: () =>
          result.allow
            ? `allowed (worktree ${result.worktree}; protected: ${result.protectedBranches.join(', ')})`
            : `refused [${result.rule}]: ${result.reason}`,
      };
    }),
  );
}
