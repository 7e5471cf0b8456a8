import { execFile, spawn } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { GtError } from '../core/errors';
import { stripControl } from '../core/text';
import { isProcessAlive, killProcessTree, procInfo } from './proctree';
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
  writePrivateFile,
} from './session';

/**
 * Headless sessions: the agent as a detached child process with no terminal (Claude Code `-p
 * --output-format stream-json`, `codex exec --json`, …).
 *
 * gt commands are short-lived, so a session is a directory any later command can read:
 *   <stateDir>/<name>/meta.json  pid (= process group), its start time (pid-reuse guard), log path
 *   <stateDir>/<name>/stdin      a FIFO wired to the agent's stdin when it takes later input (openStdin)
 *   <stateDir>/<name>/exit       the exit status, written by the launcher when the agent ends
 * Liveness is a pid check (alive, not a zombie, same start time); the turn end is the process exit and
 * its status is exact because the launcher shell that waits for the agent records it.
 */
interface HeadlessMeta {
  name: string;
  pid: number;
  startTime: number | null;
  command: string;
  args: string[];
  cwd: string;
  logFile: string;
  startedAt: number;
}

export class HeadlessProvider implements SessionProvider {
  readonly kind = 'headless' as const;

  constructor(private readonly stateDir: string) {}

  private dir(name: string): string {
    return join(this.stateDir, name);
  }

  private readMeta(name: string): HeadlessMeta | null {
    try {
      return JSON.parse(readFileSync(join(this.dir(name), 'meta.json'), 'utf8')) as HeadlessMeta;
    } catch {
      return null;
    }
  }

  async start(spec: StartSpec): Promise<SessionInfo> {
    assertSessionName(spec.name);
    const existing = await this.liveness(spec.name);
    if (existing.processAlive) {
      throw new GtError('GT_E_SESSION', `session ${spec.name} is already running`, {
        hint: 'stop it first: gt session stop',
      });
    }
    const dir = this.dir(spec.name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    mkdirSync(dirname(spec.logFile), { recursive: true });
    const envFile = join(dir, 'launch.env');
    writePrivateFile(envFile, renderLauncherEnv(spec));
    const stdinFd = await openStdin(dir, spec);
    const logFd = openSync(spec.logFile, 'a');
    const [shell, ...argv] = launcherArgv(envFile, join(dir, 'exit'), spec.command, spec.args);
    let pid: number | undefined;
    try {
      const child = spawn(shell!, argv, {
        cwd: spec.cwd,
        detached: true, // own session and process group: killable as a group, survives gt exiting
        stdio: [stdinFd, logFd, logFd],
        env: inheritableEnv(),
      });
      pid = child.pid;
      child.on('error', () => {});
      child.unref();
    } finally {
      closeSync(logFd);
    }
    if (!pid) {
      closeSync(stdinFd);
      throw new GtError('GT_E_SESSION', `could not start ${spec.command} for session ${spec.name}`);
    }
    const meta: HeadlessMeta = {
      name: spec.name,
      pid,
      startTime: procInfo(pid)?.startTime ?? null,
      command: spec.command,
      args: spec.args,
      cwd: spec.cwd,
      logFile: spec.logFile,
      startedAt: Date.now(),
    };
    writeFileSync(join(dir, 'meta.json'), `${JSON.stringify(meta)}\n`, { mode: 0o600 });
    if (spec.openStdin && spec.stdin !== undefined) writeSync(stdinFd, spec.stdin);
    closeSync(stdinFd);
    return { name: spec.name, pid };
  }

  async liveness(name: string): Promise<Liveness> {
    const meta = this.readMeta(name);
    if (!meta) return { session: false, processAlive: false, pid: null, exitCode: null };
    const alive = isProcessAlive(meta.pid, meta.startTime);
    return {
      session: true,
      processAlive: alive,
      pid: meta.pid,
      exitCode: alive ? null : this.exitCode(name),
    };
  }

  private exitCode(name: string): number | null {
    return readExitFile(join(this.dir(name), 'exit'));
  }

  async capture(name: string, lines: number): Promise<string> {
    const meta = this.readMeta(name);
    if (!meta) throw noSession(name);
    return readLogTail(meta.logFile, lines);
  }

  async sendText(name: string, text: string): Promise<void> {
    this.writeStdin(name, text);
  }

  async sendKeys(name: string, key: SessionKey): Promise<void> {
    const bytes: Record<SessionKey, string> = { Enter: '\n', Escape: '\u001b', 'C-c': '\u0003' };
    if (key === 'C-c') {
      const meta = this.readMeta(name);
      if (meta && isProcessAlive(meta.pid, meta.startTime)) process.kill(-meta.pid, 'SIGINT');
      return;
    }
    this.writeStdin(name, bytes[key]);
  }

  private writeStdin(name: string, text: string): void {
    const live = this.readMeta(name);
    if (!live || !isProcessAlive(live.pid, live.startTime)) throw noSession(name);
    let fd: number;
    try {
      // Non-blocking: with no reader left this fails (ENXIO) instead of hanging.
      fd = openSync(join(this.dir(name), 'stdin'), constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (error) {
      throw new GtError('GT_E_SESSION', `session ${name} does not accept input`, { cause: error });
    }
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
  }

  async kill(name: string): Promise<void> {
    const meta = this.readMeta(name);
    if (meta && isProcessAlive(meta.pid, meta.startTime)) await killProcessTree(meta.pid);
    rmSync(this.dir(name), { recursive: true, force: true });
  }

  async list(): Promise<string[]> {
    if (!existsSync(this.stateDir)) return [];
    return readdirSync(this.stateDir).filter((name) => existsSync(join(this.dir(name), 'meta.json')));
  }

  async waitForExit(name: string, timeoutMs: number): Promise<number | null | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = await this.liveness(name);
      if (!live.processAlive) {
        // The launcher writes the status a moment after the agent exits.
        if (live.exitCode === null && live.session && Date.now() < deadline) await sleep(50);
        return this.exitCode(name);
      }
      if (Date.now() >= deadline) return undefined;
      await sleep(50);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function noSession(name: string): GtError {
  return new GtError('GT_E_NO_SESSION', `no running session ${name}`, {
    hint: "see 'gt agents' for the sessions that exist",
  });
}

/**
 * The agent's stdin: a FIFO opened O_RDWR when it takes later input (O_RDWR does not block, and the
 * agent holding a writer end means it never sees EOF between our writes); otherwise a file holding the
 * initial input (read to EOF), or /dev/null.
 */
async function openStdin(dir: string, spec: StartSpec): Promise<number> {
  if (spec.openStdin) {
    const fifo = join(dir, 'stdin');
    await mkfifo(fifo);
    return openSync(fifo, constants.O_RDWR);
  }
  if (spec.stdin !== undefined) {
    const file = join(dir, 'stdin.txt');
    writeFileSync(file, spec.stdin, { mode: 0o600 });
    return openSync(file, 'r');
  }
  return openSync('/dev/null', 'r');
}

function mkfifo(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('mkfifo', ['-m', '600', path], (error) => {
      if (error) reject(new GtError('GT_E_SESSION', `mkfifo ${path} failed: ${error.message}`));
      else resolve();
    });
  });
}

/** The last lines of a log without reading all of it. */
export function readLogTail(file: string, lines: number, maxBytes = 256 * 1024): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const text = buffer.toString('utf8').replace(/\s+$/, '');
    return stripControl(text.split('\n').slice(-lines).join('\n'));
  } finally {
    closeSync(fd);
  }
}
