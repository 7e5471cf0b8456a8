import type { Command } from 'commander';
import { action, withJson } from '../harness';

/** `gt doctor [--fix]`: one pass/warn/fail line per check; exit status 1 when any check fails. */
export function registerDoctorCommand(program: Command): void {
  withJson(
    program
      .command('doctor')
      .description('check the host tools, town config, ledger, rigs, guards, locks and sessions')
      .option('--fix', 'repair what is safe (never deletes unmerged work)'),
  ).action(
    action(async (opts: { fix?: boolean }) => {
      const { runDoctor } = await import('../../town/doctor/doctor');
      const report = await runDoctor({ cwd: process.cwd(), env: process.env, fix: Boolean(opts.fix) });
      return {
        data: report,
        exitCode: report.ok ? 0 : 1,
        text: () => {
          const lines: string[] = [];
          for (const check of report.checks) {
            const [first, ...rest] = check.message.split('\n');
            lines.push(`${check.status.padEnd(4)}  ${check.id.padEnd(24)} ${first}`);
            for (const line of rest) lines.push(`${' '.repeat(31)}${line}`);
            if (check.fixed) lines.push(`${' '.repeat(6)}fixed: ${check.fixed}`);
            if (check.fixError) lines.push(`${' '.repeat(6)}fix failed: ${check.fixError}`);
            if (check.status !== 'pass' && check.hint) lines.push(`${' '.repeat(6)}hint: ${check.hint}`);
            if (check.status !== 'pass' && check.fixable && !check.fixed && !check.hint?.includes('--fix'))
              lines.push(`${' '.repeat(6)}(gt doctor --fix repairs this)`);
          }
          const { pass, warn, fail } = report.summary;
          lines.push(
            '',
            `${pass} passed, ${warn} warning(s), ${fail} failed${report.town ? ` — town ${report.town}` : ''}`,
          );
          return lines.join('\n');
        },
      };
    }),
  );
}
