/**
 * `sim`: the deterministic simulated coding agent (docs/sim-agent.md). Bundled to dist/sim.js.
 *
 *   node dist/sim.js [prompt…]              interactive REPL (default when stdin is a terminal: tmux)
 *   node dist/sim.js -p [prompt…]           headless one-shot: JSON lines on stdout, exit status
 *   node dist/sim.js --interactive          REPL even when stdin is a pipe
 *
 * At start it runs `$GT_BIN prime`, reads its hook with `$GT_BIN hook --json`, and executes the ```sim
 * script in the hooked bead's description (or a default: a small change, a commit, usage, `gt done`).
 * GT_SIM_SCRIPT / GT_SIM_SCRIPT_FILE / a ```sim block in the prompt override the bead's script.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { stripControl } from '../../core/text';
import { type ExecContext, type ExecResult, executeSteps, runCommand, type SimEvent } from './executor';
import {
  type BeadInfo,
  beadFromHookJson,
  defaultSteps,
  hasSimBlock,
  parseSimScript,
  type SimStep,
} from './script';

const VERSION = '0.1.0';
export const SIM_PROMPT = 'sim> ';

/** Exit statuses. */
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_BAD_SCRIPT = 2;

type Mode = 'interactive' | 'headless';

interface Options {
  mode: Mode;
  prompt: string;
  logPath: string;
  transcriptPath: string;
  gtBin: string;
  skipGt: boolean;
}

function gitDir(cwd: string): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--absolute-git-dir'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/**
 * Default log directory: inside the worktree's git dir (never committed, one per worktree); outside a
 * git repository (e.g. the Mayor's home) `<cwd>/.gt-sim`; if that is not writable, a temp dir.
 */
function defaultLogDir(cwd: string): string {
  const dir = gitDir(cwd);
  if (dir) return join(dir, 'gt-sim');
  const local = join(cwd, '.gt-sim');
  try {
    mkdirSync(local, { recursive: true });
    return local;
  } catch {
    return join(tmpdir(), `gt-sim-${process.pid}`);
  }
}

const USAGE = `usage: sim [-p|--print] [--interactive] [--log FILE] [--transcript FILE] [prompt…]
  -p, --print        headless one-shot: JSON lines on stdout, exit status (prompt from args or stdin)
  --interactive      read input line by line (default when stdin is a terminal)
  --log FILE         event log, JSON lines (default: $GT_SIM_LOG or <git-dir>/gt-sim/sim.log)
  --transcript FILE  usage records, JSON lines (default: $GT_SIM_TRANSCRIPT or <git-dir>/gt-sim/transcript.jsonl)
env: GT_BIN (default gt), GT_SIM_SCRIPT, GT_SIM_SCRIPT_FILE, GT_SIM_NO_GT=1 (do not call gt prime/hook)`;

async function readAll(stream: NodeJS.ReadableStream, limit = 1024 * 1024): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += chunk.toString();
    if (text.length > limit) break;
  }
  return text;
}

async function parseOptions(argv: string[]): Promise<Options | number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        print: { type: 'boolean', short: 'p' },
        interactive: { type: 'boolean' },
        log: { type: 'string' },
        transcript: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (error) {
    process.stderr.write(`sim: ${(error as Error).message}\n${USAGE}\n`);
    return EXIT_BAD_SCRIPT;
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  if (v.version) {
    process.stdout.write(`${VERSION} (gt sim agent)\n`);
    return EXIT_OK;
  }
  const mode: Mode = v.print ? 'headless' : v.interactive || process.stdin.isTTY ? 'interactive' : 'headless';
  let prompt = parsed.positionals.join(' ');
  if (mode === 'headless' && prompt.length === 0 && !process.stdin.isTTY)
    prompt = await readAll(process.stdin);
  const cwd = process.cwd();
  const env = process.env;
  let dir: string | undefined;
  const logDir = (): string => {
    dir ??= defaultLogDir(cwd);
    return dir;
  };
  const logPath = (v.log as string | undefined) || env.GT_SIM_LOG || join(logDir(), 'sim.log');
  const transcriptPath =
    (v.transcript as string | undefined) || env.GT_SIM_TRANSCRIPT || join(logDir(), 'transcript.jsonl');
  return {
    mode,
    prompt,
    logPath,
    transcriptPath,
    gtBin: env.GT_BIN && env.GT_BIN.length > 0 ? env.GT_BIN : 'gt',
    skipGt: env.GT_SIM_NO_GT === '1',
  };
}

class Output {
  private promptShown = false;
  constructor(
    private readonly mode: Mode,
    private readonly logPath: string,
  ) {
    mkdirSync(dirname(logPath), { recursive: true });
  }

  event(event: SimEvent): void {
    const record = { ts: new Date().toISOString(), ...event };
    const line = JSON.stringify(record);
    try {
      appendFileSync(this.logPath, `${line}\n`);
    } catch {
      // the log is best effort; stdout still has the event
    }
    if (this.mode === 'headless') {
      process.stdout.write(`${line}\n`);
      return;
    }
    this.breakPrompt();
    if (event.type === 'usage') {
      const { type: _t, transcript: _p, ...usage } = event;
      process.stdout.write(`GT_USAGE ${JSON.stringify(usage)}\n`);
      return;
    }
    const { type, ...rest } = event;
    const body = JSON.stringify(rest);
    const text = body === '{}' ? '' : ` ${body.length > 400 ? `${body.slice(0, 400)}…` : body}`;
    process.stdout.write(`${stripControl(`[sim] ${type}${text}`, { keepNewlines: false })}\n`);
  }

  /** Interactive: show the ready prompt. */
  prompt(): void {
    if (this.mode !== 'interactive' || this.promptShown) return;
    process.stdout.write(SIM_PROMPT);
    this.promptShown = true;
  }

  inputReceived(): void {
    // The terminal echoed the line and its newline: the prompt is gone.
    this.promptShown = false;
  }

  /** Output while the prompt is shown: on a terminal the prompt is erased (so a visible `sim> ` line
   * always means idle); on a pipe it is ended with a newline. */
  private breakPrompt(): void {
    if (this.promptShown) {
      process.stdout.write(process.stdout.isTTY ? '\r\u001b[K' : '\n');
      this.promptShown = false;
    }
  }
}

interface Work {
  steps: SimStep[];
  source: string;
  bead?: BeadInfo;
}

class SimAgent {
  private busy = false;
  private workDone = false;
  private readonly out: Output;

  constructor(private readonly opts: Options) {
    this.out = new Output(opts.mode, opts.logPath);
  }

  private log = (event: SimEvent): void => this.out.event(event);

  private async gt(args: string[]): Promise<{ ok: boolean; stdout: string }> {
    const result = await runCommand(this.opts.gtBin, args, {
      cwd: process.cwd(),
      env: process.env,
      timeoutMs: 60_000,
    });
    this.log({
      type: 'gt',
      argv: args,
      exit_code: result.exitCode,
      stdout: result.stdout.length > 4000 ? `${result.stdout.slice(0, 4000)}…` : result.stdout,
      stderr: result.stderr.slice(0, 2000),
      ...(result.error ? { error: result.error } : {}),
    });
    return { ok: result.exitCode === 0, stdout: result.stdout };
  }

  /** Decides what to do: an override script, a script in the prompt, the hooked bead's script, or default. */
  private async findWork(primeFirst: boolean): Promise<Work | { errors: unknown } | undefined> {
    const env = process.env;
    let text: string | undefined;
    let source = '';
    if (env.GT_SIM_SCRIPT !== undefined && env.GT_SIM_SCRIPT.length > 0) {
      text = env.GT_SIM_SCRIPT;
      source = 'env:GT_SIM_SCRIPT';
    } else if (env.GT_SIM_SCRIPT_FILE) {
      try {
        text = readFileSync(env.GT_SIM_SCRIPT_FILE, 'utf8');
        source = `file:${env.GT_SIM_SCRIPT_FILE}`;
      } catch (error) {
        return {
          errors: [{ line: 0, message: `cannot read GT_SIM_SCRIPT_FILE: ${(error as Error).message}` }],
        };
      }
    } else if (hasSimBlock(this.opts.prompt)) {
      text = this.opts.prompt;
      source = 'prompt';
    }
    let bead: BeadInfo | undefined;
    if (!this.opts.skipGt) {
      if (primeFirst) await this.gt(['prime']);
      const hook = await this.gt(['hook', '--json']);
      bead = hook.ok ? beadFromHookJson(hook.stdout) : undefined;
      this.log({ type: 'hook', bead: bead ? { id: bead.id, title: bead.title } : null });
    }
    if (text === undefined && bead) {
      if (hasSimBlock(bead.description)) {
        text = bead.description;
        source = `bead:${bead.id}`;
      } else {
        return { steps: defaultSteps(bead), source: `default:${bead.id}`, bead };
      }
    }
    if (text === undefined) return undefined;
    const parsed = parseSimScript(text);
    if (!parsed.ok) return { errors: parsed.errors };
    const work: Work = { steps: parsed.steps, source };
    if (bead) work.bead = bead;
    return work;
  }

  private context(bead: BeadInfo | undefined): ExecContext {
    const ctx: ExecContext = {
      cwd: process.cwd(),
      env: process.env,
      gtBin: this.opts.gtBin,
      log: this.log,
      transcriptPath: this.opts.transcriptPath,
    };
    const agent = process.env.GT_AGENT ?? process.env.BD_ACTOR;
    if (agent) ctx.agent = agent;
    if (process.env.GT_MODEL) ctx.model = process.env.GT_MODEL;
    const beadId = bead?.id ?? process.env.GT_BEAD;
    if (beadId) ctx.bead = beadId;
    if (bead?.attempt) ctx.attempt = bead.attempt;
    return ctx;
  }

  /** Finds and runs work. Returns the exec result, 'none' when there is no work, or 'bad-script'. */
  async work(primeFirst: boolean): Promise<ExecResult | 'none' | 'bad-script'> {
    this.busy = true;
    try {
      const found = await this.findWork(primeFirst);
      if (found === undefined) {
        this.log({ type: 'idle', reason: 'no work on the hook' });
        return 'none';
      }
      if ('errors' in found) {
        this.log({ type: 'script-error', errors: found.errors });
        return 'bad-script';
      }
      this.workDone = true;
      this.log({ type: 'script', source: found.source, steps: found.steps.length });
      const result = await executeSteps(found.steps, this.context(found.bead));
      this.log({ type: 'outcome', ...result.outcome, steps_run: result.stepsRun });
      return result;
    } finally {
      this.busy = false;
    }
  }

  /** Applies hang/crash/exit outcomes to the process. Returns true when the process must stop here. */
  applyFault(result: ExecResult | 'none' | 'bad-script', onHang: () => void): boolean {
    if (typeof result === 'string') return false;
    const outcome = result.outcome;
    if (outcome.kind === 'hang') {
      this.log({ type: 'hang', line: outcome.line });
      onHang();
      // Keep the event loop alive forever; the process stays up and silent.
      setInterval(() => {}, 1 << 30);
      return true;
    }
    if (outcome.kind === 'crash') {
      process.stderr.write(`sim: crashing deliberately (exit ${outcome.code})\n`);
      process.exit(outcome.code);
    }
    if (outcome.kind === 'exit') process.exit(outcome.code);
    return false;
  }

  async runHeadless(): Promise<number> {
    this.log({ type: 'start', ...this.identity(), prompt: this.opts.prompt.slice(0, 2000) });
    const result = await this.work(true);
    if (this.applyFault(result, () => {})) return new Promise<number>(() => {});
    let status = 'completed';
    let code = EXIT_OK;
    if (result === 'none') status = 'no-work';
    else if (result === 'bad-script') {
      status = 'bad-script';
      code = EXIT_BAD_SCRIPT;
    } else if (result.outcome.kind === 'done') {
      status = result.outcome.ok ? 'done' : 'done-failed';
      code = result.outcome.ok ? EXIT_OK : EXIT_FAILED;
    } else if (result.outcome.kind === 'failed') {
      status = 'failed';
      code = EXIT_FAILED;
    }
    this.log({ type: 'result', status, exit_code: code });
    return code;
  }

  async runInteractive(): Promise<void> {
    this.log({ type: 'start', ...this.identity(), prompt: this.opts.prompt.slice(0, 2000) });
    const rl = createInterface({ input: process.stdin, terminal: false });
    const queue: string[] = [];
    let hung = false;
    const stopReading = () => {
      hung = true;
      rl.removeAllListeners('line');
      rl.pause();
    };
    const handle = async (): Promise<void> => {
      while (queue.length > 0 && !this.busy && !hung) {
        const line = queue.shift() ?? '';
        const text = stripControl(line, { keepNewlines: false });
        this.log({ type: 'input', text });
        if (text.trim() === '/exit' || text.trim() === '/quit') {
          this.log({ type: 'exit', reason: 'asked' });
          process.exit(EXIT_OK);
        }
        // A nudge or prompt: an agent with nothing done yet checks its hook again.
        if (!this.workDone) {
          const result = await this.work(false);
          if (this.applyFault(result, stopReading)) return;
        } else {
          this.log({ type: 'ack', text: 'input noted; no further work' });
        }
      }
      if (!hung) this.out.prompt();
    };
    rl.on('line', (line) => {
      this.out.inputReceived();
      queue.push(line);
      if (this.busy) this.log({ type: 'input-queued', text: stripControl(line, { keepNewlines: false }) });
      void handle();
    });
    rl.on('close', () => {
      if (hung) return;
      this.log({ type: 'eof' });
      // Input closed (pane gone or pipe ended): finish any work, then leave.
      const wait = setInterval(() => {
        if (!this.busy && queue.length === 0) {
          clearInterval(wait);
          process.exit(EXIT_OK);
        }
      }, 50);
    });
    this.out.prompt();
    const result = await this.work(true);
    if (this.applyFault(result, stopReading)) return;
    void handle();
  }

  private identity(): Record<string, unknown> {
    const env = process.env;
    return {
      version: VERSION,
      mode: this.opts.mode,
      pid: process.pid,
      cwd: process.cwd(),
      gt_bin: this.opts.gtBin,
      log: this.opts.logPath,
      transcript: this.opts.transcriptPath,
      town: env.GT_TOWN ?? null,
      rig: env.GT_RIG ?? null,
      role: env.GT_ROLE ?? null,
      agent: env.GT_AGENT ?? null,
      actor: env.BD_ACTOR ?? null,
    };
  }
}

async function main(): Promise<void> {
  const opts = await parseOptions(process.argv.slice(2));
  if (typeof opts === 'number') {
    process.exitCode = opts;
    return;
  }
  const agent = new SimAgent(opts);
  for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) {
    process.on(signal, () => {
      try {
        appendFileSync(
          opts.logPath,
          `${JSON.stringify({ ts: new Date().toISOString(), type: 'signal', signal })}\n`,
        );
      } catch {
        // best effort
      }
      process.exit(128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15));
    });
  }
  if (opts.mode === 'headless') {
    const code = await agent.runHeadless();
    process.exitCode = code;
  } else {
    await agent.runInteractive();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `sim: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(70);
});
