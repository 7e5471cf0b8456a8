import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GtError } from '../core/errors';
import { stripControl } from '../core/text';
import { isProcessAlive, killProcessTree } from './proctree';
import {
  assertSessionName,
  inheritableEnv,
  type Liveness,
  launcherArgv,
  readExitFile,
  renderLauncherEnv,
  type SessionInfo,
  type SessionKey,
  type SessionProvider,
  type StartSpec,
  shellQuote,
  writePrivateFile,
} from './session';

/** Linux sun_path is 108 bytes including the terminator; macOS is 104. */
const MAX_SOCKET_PATH = process.platform === 'darwin' ? 103 : 107;
const MIN_TMUX = [3, 0];

export interface TmuxOptions {
  /** The town's own server socket (`<town>/.gt/tmux.sock`): never the user's default server. */
  socket: string;
  /** Private scratch space for launcher env files. */
  stateDir: string;
}

interface TmuxResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** tmux on a private socket, driven with argument arrays only (no shell strings with untrusted text). */
export class TmuxProvider implements SessionProvider {
  readonly kind = 'tmux' as const;
  readonly socket: string;
  private readonly stateDir: string;

  constructor(options: TmuxOptions) {
    if (Buffer.byteLength(options.socket) > MAX_SOCKET_PATH) {
      throw new GtError('GT_E_SESSION', `tmux socket path is too long for a Unix socket: ${options.socket}`, {
        hint: `keep the town path shorter than about ${MAX_SOCKET_PATH - 15} bytes`,
      });
    }
    this.socket = options.socket;
    this.stateDir = options.stateDir;
  }

  /** Runs `tmux -S <socket> -f /dev/null …` (no user config: sessions behave the same everywhere). */
  run(args: string[], input?: string): Promise<TmuxResult> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        'tmux',
        ['-S', this.socket, '-f', '/dev/null', ...args],
        { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, env: tmuxClientEnv() },
        (error, stdout, stderr) => {
          if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
            reject(
              new GtError('GT_E_TOOL_MISSING', 'tmux is not installed (needed for agent sessions)', {
                hint: 'install tmux ≥ 3.0 (e.g. apt-get install tmux, brew install tmux), or use runtime "headless"',
              }),
            );
            return;
          }
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  private async runOk(args: string[], what: string): Promise<string> {
    const result = await this.run(args);
    if (result.code !== 0) {
      throw new GtError(
        'GT_E_SESSION',
        `tmux ${what} failed: ${result.stderr.trim() || `exit ${result.code}`}`,
        {
          hint: `socket ${this.socket}`,
        },
      );
    }
    return result.stdout;
  }

  /** Once per process: refuses tmux older than 3.0. */
  checkVersion(): Promise<void> {
    versionCheck ??= this.run(['-V']).then(checkTmuxVersion);
    return versionCheck;
  }

  async start(spec: StartSpec): Promise<SessionInfo> {
    assertSessionName(spec.name);
    await this.checkVersion();
    mkdirSync(dirname(this.socket), { recursive: true, mode: 0o700 });
    mkdirSync(dirname(spec.logFile), { recursive: true });
    const envFile = join(this.stateDir, spec.name, 'launch.env');
    writePrivateFile(envFile, renderLauncherEnv(spec));
    let result = await this.newSession(spec, envFile);
    if (result.code !== 0 && /duplicate session/i.test(result.stderr)) {
      const live = await this.liveness(spec.name);
      if (live.processAlive) {
        rmSync(envFile, { force: true });
        throw new GtError('GT_E_SESSION', `session ${spec.name} is already running`, {
          hint: `stop it first with 'gt session stop' (socket ${this.socket})`,
        });
      }
      // A pane whose agent died: replace it.
      await this.run(['kill-session', '-t', `=${spec.name}`]);
      writePrivateFile(envFile, renderLauncherEnv(spec));
      result = await this.newSession(spec, envFile);
    }
    if (result.code !== 0) {
      rmSync(envFile, { force: true });
      throw new GtError(
        'GT_E_SESSION',
        `could not start tmux session ${spec.name}: ${result.stderr.trim()}`,
        {
          hint: `socket ${this.socket}`,
        },
      );
    }
    if (spec.stdin !== undefined) await this.sendText(spec.name, spec.stdin);
    return { name: spec.name, pid: Number(result.stdout.trim()) || null };
  }

  /** One tmux command queue: the options and the output pipe are in place before the agent's first byte. */
  private newSession(spec: StartSpec, envFile: string): Promise<TmuxResult> {
    const argv = launcherArgv(envFile, join(this.stateDir, spec.name, 'exit'), spec.command, spec.args);
    return this.run([
      'start-server',
      ';',
      'set-option',
      '-g',
      'remain-on-exit',
      'on',
      ';',
      'set-option',
      '-g',
      'history-limit',
      '20000',
      ';',
      'new-session',
      '-d',
      '-P',
      '-F',
      '#{pane_pid}',
      '-s',
      spec.name,
      '-c',
      spec.cwd,
      '-x',
      '200',
      '-y',
      '50',
      '--',
      ...argv,
      ';',
      'pipe-pane',
      '-o',
      '-t',
      `=${spec.name}:`,
      // tmux runs this through /bin/sh: the only variable part is our own log path, single-quoted.
      `exec cat >> ${shellQuote(spec.logFile)}`,
    ]);
  }

  async liveness(name: string): Promise<Liveness> {
    const result = await this.run([
      'list-panes',
      '-t',
      `=${name}:`,
      '-F',
      '#{pane_pid} #{pane_dead} #{pane_dead_status}',
    ]);
    if (result.code !== 0) return { session: false, processAlive: false, pid: null, exitCode: null };
    const [pidText, dead, status] = (result.stdout.split('\n')[0] ?? '').split(' ');
    const pid = Number(pidText) || null;
    // The pane's root is our launcher, which lives exactly as long as the agent (see LAUNCH_SCRIPT).
    const alive = dead !== '1' && isProcessAlive(pid);
    if (alive) return { session: true, processAlive: true, pid, exitCode: null };
    const exitCode = status ? Number(status) : readExitFile(join(this.stateDir, name, 'exit'));
    return { session: true, processAlive: false, pid, exitCode };
  }

  async capture(name: string, lines: number): Promise<string> {
    const out = await this.runOk(
      ['capture-pane', '-p', '-J', '-t', `=${name}:`, '-S', `-${Math.max(1, lines)}`],
      'capture-pane',
    );
    const all = out.replace(/\s+$/, '').split('\n');
    return stripControl(all.slice(-lines).join('\n'));
  }

  async sendText(name: string, text: string): Promise<void> {
    if (text.length === 0) return;
    // tmux's argv parser takes an argument ending in ';' as a command separator, so trailing
    // semicolons go as hex key codes; everything else goes with -l (literal: no key names like "C-c"
    // or "Enter") after `--` (text starting with "-" is not an option).
    const body = text.replace(/;+$/, '');
    const semicolons = text.length - body.length;
    if (body.length > 0) await this.runOk(['send-keys', '-t', `=${name}:`, '-l', '--', body], 'send-keys');
    if (semicolons > 0) {
      await this.runOk(['send-keys', '-t', `=${name}:`, '-H', ...Array(semicolons).fill('3b')], 'send-keys');
    }
  }

  async sendKeys(name: string, key: SessionKey): Promise<void> {
    await this.runOk(['send-keys', '-t', `=${name}:`, key], 'send-keys');
  }

  async kill(name: string): Promise<void> {
    const live = await this.liveness(name);
    if (live.pid && live.processAlive) await killProcessTree(live.pid);
    await this.run(['kill-session', '-t', `=${name}`]);
    rmSync(join(this.stateDir, name), { recursive: true, force: true });
  }

  async list(): Promise<string[]> {
    const result = await this.run(['list-sessions', '-F', '#{session_name}']);
    if (result.code !== 0) return []; // no server yet: no sessions
    return result.stdout.split('\n').filter((line) => line.length > 0);
  }

  async waitForExit(name: string, timeoutMs: number): Promise<number | null | undefined> {
    const deadline = Date.now() + timeoutMs;
    let deadSince: number | null = null;
    for (;;) {
      const live = await this.liveness(name);
      if (!live.processAlive) {
        // tmux marks the pane dead (with its status) a moment after the process is gone.
        deadSince ??= Date.now();
        if (live.exitCode !== null || !live.session || Date.now() - deadSince > 1000) return live.exitCode;
      }
      if (Date.now() >= deadline) return undefined;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Kills the whole town server (tests, `gt down`). */
  async killServer(): Promise<void> {
    for (const name of await this.list()) await this.kill(name);
    await this.run(['kill-server']);
  }

  /** argv for a human to attach (run with inherited stdio). */
  attachArgv(name: string): string[] {
    return ['-S', this.socket, 'attach-session', '-t', `=${name}`];
  }
}

/**
 * The first client starts the server, and the server's environment is what panes inherit: no
 * credentials there (see inheritableEnv). A client inside another tmux refuses to nest unless TMUX is
 * unset.
 */
function tmuxClientEnv(): NodeJS.ProcessEnv {
  const env = inheritableEnv();
  delete env.TMUX;
  delete env.TMUX_PANE;
  return env;
}

/** True when tmux can be found (used to skip rather than fail where tmux is optional). */
export function tmuxAvailable(): boolean {
  const path = process.env.PATH ?? '';
  return path.split(':').some((dir) => dir && existsSync(join(dir, 'tmux')));
}

let versionCheck: Promise<void> | undefined;

function checkTmuxVersion(result: TmuxResult): void {
  const match = /tmux\s+(?:next-)?(\d+)\.(\d+)/.exec(result.stdout);
  if (!match) return; // e.g. "tmux master": a development build, assume new enough
  const [major, minor] = [Number(match[1]), Number(match[2])];
  if (major < MIN_TMUX[0]! || (major === MIN_TMUX[0] && minor < MIN_TMUX[1]!)) {
    throw new GtError('GT_E_TOOL_TOO_OLD', `tmux ${major}.${minor} is too old; gt needs tmux ≥ 3.0`, {
      hint: 'upgrade tmux from your package manager',
    });
  }
}
