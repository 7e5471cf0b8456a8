import { execFile } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { loadTownConfig, type TownConfig } from '../town/config';
import { parseDuration } from '../town/duration';

/**
 * The optional town.toml `[notify] command = [...]`: an argv run with execFile (never a shell) when a convoy
 * lands or an escalation is raised. The event is passed as JSON on stdin and summarised in GT_NOTIFY_*
 * variables; nothing from the event is ever put on the command line.
 */
export type NotifyConfig = NonNullable<TownConfig['notify']>;

export interface NotifyOutcome {
  ok: boolean;
  error: string | null;
}

/** The [notify] section, or null when absent. A broken town.toml is reported, not fatal to the caller. */
export function loadNotifyConfig(root: string): { config: NotifyConfig | null; error: string | null } {
  try {
    return { config: loadTownConfig(root).notify ?? null, error: null };
  } catch (error) {
    return { config: null, error: (error as Error).message };
  }
}

export function runNotify(
  root: string,
  config: NotifyConfig,
  payload: { event: string } & Record<string, unknown>,
): Promise<NotifyOutcome> {
  const [program, ...args] = config.command as [string, ...string[]];
  // A path with a slash is relative to the town root; a bare name is looked up on PATH.
  const file = program.includes('/') && !isAbsolute(program) ? resolve(root, program) : program;
  const timeout = parseDuration(config.timeout) ?? 30_000;
  const subject = typeof payload.id === 'string' ? payload.id : '';
  return new Promise((done) => {
    const child = execFile(
      file,
      args,
      {
        cwd: root,
        timeout,
        killSignal: 'SIGKILL',
        maxBuffer: 1024 * 1024,
        env: { ...process.env, GT_TOWN: root, GT_NOTIFY_EVENT: payload.event, GT_NOTIFY_ID: subject },
      },
      (error, _stdout, stderr) => {
        if (!error) return done({ ok: true, error: null });
        const why = error.killed
          ? `timed out after ${config.timeout}`
          : typeof error.code === 'number'
            ? `exited ${error.code}`
            : error.message;
        done({
          ok: false,
          error: `notify command ${why}${stderr ? `: ${stderr.trim().slice(0, 500)}` : ''}`,
        });
      },
    );
    child.stdin?.on('error', () => {}); // the command may not read its stdin
    child.stdin?.end(`${JSON.stringify(payload)}\n`);
  });
}
