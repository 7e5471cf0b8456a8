import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { GtError } from '../core/errors';
import type { Db } from '../ledger/open';
import { type AgentRow, recordSession } from '../runtime/agent-rows';
import { type AgentRole, type Allocation, allocateAgent } from '../runtime/allocation';
import {
  claudeConfigFile,
  gastownClaudeHooks,
  trustClaudeWorkspaces,
  writeClaudeSettings,
} from '../runtime/claude-hooks';
import type { RoleAssignment, RuntimeKind } from '../runtime/config-schema';
import { sessionName } from '../runtime/names';
import { deliverText } from '../runtime/nudge';
import { type AgentPreset, assertInstalled, buildLaunch, packageRoot } from '../runtime/presets';
import type { SessionProvider } from '../runtime/session';
import { providerFor, runtimeKind, sessionLogFile } from '../runtime/town-runtime';
import { loadRigConfigFile, loadTownConfig } from '../town/config';
import { rigLayout, townLayout } from '../town/layout';

/**
 * Starting, stopping and restarting an agent's session: config → allocation → launch plan → provider,
 * with the outcome recorded on the agent's ledger row. Restart keeps the agent, model, runtime, hook and
 * worktree (DESIGN §2.5: recovery is restart-first, nothing is destroyed).
 */
export interface StartAgentOptions {
  /** Per-sling override of the configured agent/model/runtime. */
  override?: RoleAssignment;
  /** Use the agent/model/runtime recorded on the row (restart). */
  keepRecorded?: boolean;
  /** The first prompt; defaults to startupPrompt(row). null: none. */
  prompt?: string | null;
  env?: Record<string, string>;
  /** Arguments added after the preset's own (e.g. `--settings <file>` with gt's Claude hooks). */
  extraArgs?: string[];
  /** Wait until the agent shows it is ready (and type the prompt, for agents that take it typed). */
  waitReady?: boolean;
  readyTimeoutMs?: number;
  restarted?: boolean;
}

export interface StartedSession {
  agent: string;
  session: string;
  runtime: RuntimeKind;
  preset: string;
  model: string | null;
  pid: number | null;
  cwd: string;
  log_file: string;
  ready: boolean | null;
  /** The Claude Code settings file with gt's hooks, passed with --settings (claude-style agents only). */
  settings_file?: string;
}

const ROLES: readonly AgentRole[] = ['mayor', 'polecat', 'crew', 'refinery', 'witness', 'deacon'];

/** The short first prompt: who you are, and to run `gt prime` (the hook holds the actual work). */
export function startupPrompt(row: Pick<AgentRow, 'id' | 'role' | 'hooked_bead'>): string {
  const who = `[GAS TOWN] ${row.role} ${row.id}`;
  if (row.role === 'mayor' || (row.role === 'crew' && !row.hooked_bead)) {
    return `${who}. Run \`gt prime\` to load your context, then wait for instructions.`;
  }
  const hook = row.hooked_bead ? ` (hooked: ${row.hooked_bead})` : '';
  return `${who}${hook}. Run \`gt prime\` and begin work on your hook.`;
}

export function allocationFor(root: string, row: AgentRow, options: StartAgentOptions = {}): Allocation {
  const role = (ROLES as readonly string[]).includes(row.role) ? (row.role as AgentRole) : 'polecat';
  const town = loadTownConfig(root);
  const rigFile = row.rig ? rigLayout(root, row.rig).config : null;
  const rig = rigFile && existsSync(rigFile) ? loadRigConfigFile(rigFile) : undefined;
  const recorded: RoleAssignment | undefined =
    options.keepRecorded && row.agent
      ? {
          agent: row.agent,
          ...(row.model ? { model: row.model } : {}),
          ...(row.runtime ? { runtime: runtimeKind(row.runtime) } : {}),
        }
      : undefined;
  return allocateAgent({
    role,
    town: { agents: town.agents, roles: town.roles },
    rig: rig ? { roles: rig.roles } : undefined,
    sling: { ...recorded, ...options.override },
  });
}

function sessionCwd(root: string, row: AgentRow): string {
  if (row.worktree) {
    const dir = isAbsolute(row.worktree) ? row.worktree : resolve(root, row.worktree);
    if (!existsSync(dir)) {
      throw new GtError('GT_E_SESSION', `the worktree of ${row.id} is missing: ${dir}`, {
        hint: 'the agent needs its worktree back before it can run; see gt doctor',
      });
    }
    return dir;
  }
  const dir = row.role === 'mayor' ? townLayout(root).mayor : root;
  mkdirSync(dir, { recursive: true });
  return dir;
}

function sessionEnv(root: string, row: AgentRow, session: string, alloc: Allocation, kind: RuntimeKind) {
  const env: Record<string, string> = {
    ...alloc.preset.env,
    GT_TOWN: root,
    GT_ROLE: row.role,
    GT_AGENT: row.id,
    BD_ACTOR: row.id,
    GT_SESSION: session,
    GT_RUNTIME: kind,
    GT_AGENT_PRESET: alloc.agent,
    GT_MODEL: alloc.model ?? '',
  };
  if (row.rig) env.GT_RIG = row.rig;
  // The gt that started the session, for agents that call it by GT_BIN (the sim) when gt is not on PATH.
  const gtBin = gtBinPath();
  if (gtBin) env.GT_BIN = gtBin;
  // The tmux server's environment is a snapshot from whoever started it: pass the caller's basics.
  for (const name of ['PATH', 'HOME', 'LANG', 'TERM_PROGRAM'] as const) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  const secretEnv: Record<string, string> = {};
  for (const name of alloc.preset.passEnv) {
    const value = process.env[name];
    if (value !== undefined) secretEnv[name] = value;
  }
  return { env, secretEnv };
}

/** bin/gt.js of the running package, or null (gt on PATH is used then). */
function gtBinPath(): string | null {
  const gtBin = join(packageRoot(), 'bin', 'gt.js');
  return existsSync(gtBin) ? gtBin : null;
}

/** Environment for the few git plumbing calls below: never a caller's GIT_DIR/GIT_WORK_TREE. */
function gitEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_PREFIX'])
    delete env[name];
  return env;
}

/** For a directory inside a git checkout: its path prefix, its info/exclude file, and whether `file` is tracked. */
function gitCheckoutOf(
  dir: string,
  file: string,
): { prefix: string; exclude: string; tracked: boolean } | null {
  let out: string;
  try {
    out = execFileSync('git', ['-C', dir, 'rev-parse', '--show-prefix', '--git-path', 'info/exclude'], {
      encoding: 'utf8',
      env: gitEnv(),
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
  } catch {
    return null; // not a checkout (the Mayor's home, the town root)
  }
  const [prefix = '', excludeRel = ''] = out.split('\n');
  let tracked = false;
  try {
    execFileSync('git', ['-C', dir, 'ls-files', '--error-unmatch', '--', file], {
      env: gitEnv(),
      stdio: 'ignore',
      timeout: 10_000,
    });
    tracked = true;
  } catch {
    tracked = false;
  }
  return { prefix, exclude: isAbsolute(excludeRel) ? excludeRel : resolve(dir, excludeRel), tracked };
}

/** Adds `pattern` to a checkout's info/exclude (shared by all its worktrees) unless it is there. */
function excludeFromCheckout(exclude: string, pattern: string): void {
  let current = '';
  try {
    current = readFileSync(exclude, 'utf8');
  } catch {
    // no exclude file yet
  }
  if (current.split('\n').includes(pattern)) return;
  mkdirSync(dirname(exclude), { recursive: true });
  appendFileSync(exclude, `${current === '' || current.endsWith('\n') ? '' : '\n'}${pattern}\n`);
}

/**
 * Claude Code sessions (agents whose preset has hooks = "claude"): gt's hooks and folder trust.
 *
 * - Hooks: SessionStart and PreCompact run `gt prime --hook`, PreToolUse runs `gt guard --format claude`
 *   for the tools the guard polices. They are merged (atomically, other keys and matchers kept) into
 *   `<cwd>/.claude/settings.json`, and that file is also passed with `--settings`, so the hooks do not
 *   depend on Claude Code's project discovery (identical hook commands run once). In a git checkout the
 *   file is added to info/exclude, so a polecat never commits gt's hooks; if the repository tracks its own
 *   `.claude/settings.json`, it is left alone and gt's hooks go to a gt-owned file under
 *   `<town>/.gt/run/claude/<session>/` instead (Claude Code still reads the project's file from cwd).
 * - Trust: an interactive session in an untrusted folder stops at the "Do you trust this folder?"
 *   dialog. gt merges only `projects[<cwd>].hasTrustDialogAccepted = true` into the Claude config of the
 *   session's HOME (`~/.claude.json`, or `$CLAUDE_CONFIG_DIR/.claude.json`), under Claude Code's own lock
 *   and with an atomic rename; nothing else in that file is touched, and it is written only when the
 *   folder is not trusted yet. Onboarding, login and API-key approval stay the person's one-time setup.
 */
async function prepareClaudeSession(
  root: string,
  session: string,
  cwd: string,
  env: Record<string, string>,
): Promise<string> {
  const gtBin = gtBinPath();
  const hooks = gastownClaudeHooks({
    gtArgv: gtBin ? [process.execPath, gtBin] : ['gt'],
    guard: true,
  });
  const checkout = gitCheckoutOf(cwd, '.claude/settings.json');
  const settingsDir = checkout?.tracked ? join(townLayout(root).run, 'claude', session) : cwd;
  const file = writeClaudeSettings(settingsDir, hooks);
  if (checkout && !checkout.tracked)
    excludeFromCheckout(checkout.exclude, `/${checkout.prefix}.claude/settings.json`);
  const configFile = claudeConfigFile({
    CLAUDE_CONFIG_DIR: env.CLAUDE_CONFIG_DIR ?? process.env.CLAUDE_CONFIG_DIR,
    HOME: env.HOME,
  });
  if (configFile) {
    let real = cwd;
    try {
      real = realpathSync(cwd);
    } catch {}
    await trustClaudeWorkspaces(configFile, [...new Set([cwd, real])]);
  }
  return file;
}

export async function startAgentSession(
  root: string,
  db: Db,
  row: AgentRow,
  options: StartAgentOptions = {},
): Promise<StartedSession> {
  const alloc = allocationFor(root, row, options);
  const kind = alloc.runtime;
  const session = sessionName(row);
  const cwd = sessionCwd(root, row);
  const { env, secretEnv } = sessionEnv(root, row, session, alloc, kind);
  Object.assign(env, options.env);
  assertInstalled(alloc.preset, env.PATH, cwd);
  const prompt = options.prompt === undefined ? startupPrompt(row) : options.prompt;
  let extraArgs = options.extraArgs ?? [];
  let settingsFile: string | undefined;
  if (alloc.preset.hooks === 'claude') {
    settingsFile = await prepareClaudeSession(root, session, cwd, env);
    extraArgs = ['--settings', settingsFile, ...extraArgs];
  }
  const plan = buildLaunch(alloc.preset, {
    mode: kind,
    model: alloc.model,
    prompt,
    extraArgs,
  });
  const provider = providerFor(kind, root);
  const logFile = sessionLogFile(root, session);
  // The row changes only once the session runs: a refused start (already running, bad config,
  // missing tool) leaves the agent's recorded state as it was.
  const info = await provider.start({
    name: session,
    command: plan.command,
    args: plan.args,
    cwd,
    env,
    secretEnv,
    envFile: alloc.preset.envFile ? resolve(root, alloc.preset.envFile) : undefined,
    logFile,
    stdin: plan.stdin ?? undefined,
  });
  recordSession(db, row.id, {
    state: 'working',
    session,
    runtime: kind,
    agent: alloc.agent,
    model: alloc.model,
    pid: info.pid,
    restarted: options.restarted,
  });
  let ready: boolean | null = null;
  if (options.waitReady || plan.typedPrompt) {
    ready = await waitReady(provider, session, alloc.preset, options.readyTimeoutMs ?? 60_000);
    // Typing into an agent that never became ready would be lost (or land in a shell): don't.
    if (plan.typedPrompt && ready) await deliverText(provider, session, plan.typedPrompt);
  }
  return {
    agent: row.id,
    session,
    runtime: kind,
    preset: alloc.agent,
    model: alloc.model,
    pid: info.pid,
    cwd,
    log_file: logFile,
    ready,
    ...(settingsFile ? { settings_file: settingsFile } : {}),
  };
}

/**
 * Ready = a screen line matches the preset's ready pattern; without a pattern, after its fixed delay.
 * Headless agents are ready as soon as they run. Returns false if the agent died or time ran out.
 */
export async function waitReady(
  provider: SessionProvider,
  session: string,
  preset: AgentPreset,
  timeoutMs: number,
): Promise<boolean> {
  if (provider.kind === 'headless') return (await provider.liveness(session)).processAlive;
  const deadline = Date.now() + timeoutMs;
  if (!preset.readyPattern) {
    await new Promise((r) => setTimeout(r, Math.min(preset.readyDelayMs, timeoutMs)));
    return (await provider.liveness(session)).processAlive;
  }
  const pattern = new RegExp(preset.readyPattern, 'm');
  for (;;) {
    const screen = await provider.capture(session, 20);
    if (screen.split('\n').some((line) => pattern.test(line))) return true;
    if (Date.now() >= deadline || !(await provider.liveness(session)).processAlive) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface StoppedSession {
  agent: string;
  session: string;
  was_running: boolean;
}

export async function stopAgentSession(root: string, db: Db, row: AgentRow): Promise<StoppedSession> {
  const session = row.session ?? sessionName(row);
  const provider = providerFor(runtimeKind(row.runtime), root);
  const live = await provider.liveness(session);
  await provider.kill(session);
  recordSession(db, row.id, {
    state: 'stopped',
    session: null,
    runtime: row.runtime,
    agent: row.agent,
    model: row.model,
    pid: null,
  });
  return { agent: row.id, session, was_running: live.processAlive };
}

export async function restartAgentSession(
  root: string,
  db: Db,
  row: AgentRow,
  options: StartAgentOptions = {},
): Promise<StartedSession & { was_running: boolean }> {
  const stopped = await stopAgentSession(root, db, row);
  const started = await startAgentSession(root, db, row, { keepRecorded: true, restarted: true, ...options });
  return { ...started, was_running: stopped.was_running };
}
