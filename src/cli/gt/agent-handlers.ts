import { spawnSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { resolveActor } from '../../core/actor';
import { GtError } from '../../core/errors';
import { oneLine } from '../../core/text';
import type { Db } from '../../ledger/open';
import { openLedger } from '../../ledger/open';
import { toRfc3339OrNull } from '../../ledger/time';
import { type AgentRow, ensureAgentRow, findAgentRow, listAgentRows } from '../../runtime/agent-rows';
import type { RuntimeKind } from '../../runtime/config-schema';
import { sessionName } from '../../runtime/names';
import type { Liveness } from '../../runtime/session';
import { providerFor, runtimeKind, townRuntimePaths } from '../../runtime/town-runtime';
import { locateWorkspace } from '../../workspace/locate';
import type { CommandResult } from '../harness';

/** Handlers of the agent-facing commands (registered in agent-commands.ts). They return data only. */
interface Town {
  root: string;
  db: Db;
}

function openTown(): Town {
  const ws = locateWorkspace(process.cwd(), process.env);
  if (ws.kind !== 'town') {
    throw new GtError('GT_E_NO_TOWN', `${ws.root} is a standalone beads project, not a town`, {
      hint: "agent commands work inside a town: 'gt install <dir>', or set GT_TOWN",
    });
  }
  return { root: ws.root, db: openLedger(ws.ledgerPath) };
}

async function withTown<T>(fn: (town: Town) => Promise<T> | T): Promise<T> {
  const town = openTown();
  try {
    return await fn(town);
  } finally {
    town.db.close();
  }
}

function agentJson(row: AgentRow, live?: Liveness) {
  const json: Record<string, unknown> = {
    id: row.id,
    role: row.role,
    rig: row.rig,
    name: row.name,
    state: row.state,
    session: row.session,
    hooked_bead: row.hooked_bead,
    runtime: row.runtime,
    agent: row.agent,
    model: row.model,
    pid: row.pid,
    worktree: row.worktree,
    branch: row.branch,
    restarts: row.restarts,
    started_at: toRfc3339OrNull(row.started_at),
    last_activity_at: toRfc3339OrNull(row.last_activity_at),
  };
  if (live)
    json.live = {
      session: live.session,
      process_alive: live.processAlive,
      pid: live.pid,
      exit_code: live.exitCode,
    };
  return json;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function agentsCommand(options: { rig?: string; live?: boolean }): Promise<CommandResult> {
  return withTown(async ({ root, db }) => {
    const rows = listAgentRows(db, options.rig);
    const lives = new Map<string, Liveness>();
    if (options.live) {
      for (const row of rows) {
        if (!row.session) continue;
        lives.set(row.id, await providerFor(runtimeKind(row.runtime), root).liveness(row.session));
      }
    }
    const data = rows.map((row) => agentJson(row, lives.get(row.id)));
    return {
      data,
      text: () => {
        if (rows.length === 0) return 'no agents yet';
        const header = ['AGENT', 'ROLE', 'RIG', 'STATE', 'SESSION', 'HOOK', 'RUNTIME', 'PRESET', 'MODEL'];
        if (options.live) header.push('ALIVE');
        const body = rows.map((row) => {
          const cells = [
            row.id,
            row.role,
            row.rig ?? '-',
            row.state,
            row.session ?? '-',
            row.hooked_bead ?? '-',
            row.runtime ?? '-',
            row.agent ?? '-',
            row.model ?? '-',
          ].map(oneLine);
          if (options.live) {
            const live = lives.get(row.id);
            cells.push(!live ? '-' : live.processAlive ? 'yes' : live.session ? 'dead' : 'no');
          }
          return cells;
        });
        return table([header, ...body]);
      },
    };
  });
}

async function sessionOf(root: string, row: AgentRow) {
  const session = row.session ?? sessionName(row);
  const provider = providerFor(runtimeKind(row.runtime), root);
  const live = await provider.liveness(session);
  if (!live.session) {
    throw new GtError('GT_E_NO_SESSION', `${row.id} has no session (${session})`, {
      hint: `start it with 'gt session start ${row.id}'`,
    });
  }
  return { session, provider, live };
}

export async function peekCommand(ref: string, options: { lines?: string }): Promise<CommandResult> {
  const lines = parseCount(options.lines ?? '40', '--lines');
  return withTown(async ({ root, db }) => {
    const row = findAgentRow(db, ref);
    const { session, provider, live } = await sessionOf(root, row);
    const output = await provider.capture(session, lines);
    return {
      data: { agent: row.id, session, alive: live.processAlive, lines: output.split('\n') },
      text: () => output,
      warnings: live.processAlive ? [] : [`note: the agent process in ${session} is not running`],
    };
  });
}

export async function attachCommand(ref: string): Promise<CommandResult> {
  const { root, row } = await withTown(({ root, db }) => ({ root, row: findAgentRow(db, ref) }));
  if (runtimeKind(row.runtime) !== 'tmux') {
    throw new GtError('GT_E_SESSION', `${row.id} runs headless: there is no terminal to attach to`, {
      hint: `watch its output with 'gt peek ${row.id}'`,
    });
  }
  const { session } = await sessionOf(root, row);
  if (!process.stdin.isTTY) {
    throw new GtError('GT_E_USAGE', 'gt attach needs a terminal', {
      hint: `run it from an interactive shell, or use 'gt peek ${row.id}'`,
    });
  }
  const env = { ...process.env };
  delete env.TMUX; // attaching from inside another tmux: nest rather than refuse
  const socket = townRuntimePaths(root).socket;
  const result = spawnSync('tmux', ['-S', socket, 'attach-session', '-t', `=${session}`], {
    stdio: 'inherit',
    env,
  });
  return {
    data: { agent: row.id, session, exit_code: result.status },
    text: () => '',
    exitCode: result.status ?? 0,
  };
}

function parseCount(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) {
    throw new GtError(
      'GT_E_USAGE',
      `${flag} must be a whole number from 1 to 100000, not ${JSON.stringify(text)}`,
    );
  }
  return n;
}

function parseRuntime(text: string | undefined): RuntimeKind | undefined {
  if (text === undefined) return undefined;
  if (text !== 'tmux' && text !== 'headless') {
    throw new GtError('GT_E_USAGE', `--runtime must be "tmux" or "headless", not ${JSON.stringify(text)}`);
  }
  return text;
}

const ROLES = ['mayor', 'polecat', 'crew', 'refinery', 'witness', 'deacon'];

/** The agent's row, created on first start from its address ('mayor', '<rig>/<name>'). */
function agentForStart(db: Db, ref: string, role: string | undefined): { row: AgentRow; created: boolean } {
  try {
    return { row: findAgentRow(db, ref), created: false };
  } catch (error) {
    if (!(error instanceof GtError) || error.code !== 'GT_E_NOT_FOUND') throw error;
  }
  const slash = ref.indexOf('/');
  const rig = slash === -1 ? null : ref.slice(0, slash);
  const name = slash === -1 ? ref : ref.slice(slash + 1);
  const effectiveRole = role ?? (rig ? 'polecat' : ref);
  if (!ROLES.includes(effectiveRole)) {
    throw new GtError('GT_E_USAGE', `cannot tell the role of new agent "${ref}"`, {
      hint: `pass --role (${ROLES.join(', ')}), or use an address like <rig>/<name>`,
    });
  }
  if (!/^[A-Za-z0-9_-]+$/.test(name) || (rig !== null && !/^[A-Za-z0-9_-]+$/.test(rig))) {
    throw new GtError('GT_E_INVALID_NAME', `invalid agent address "${ref}"`, {
      hint: "addresses are 'mayor' or '<rig>/<name>' with letters, digits, '-' and '_'",
    });
  }
  if (rig && !db.prepare('SELECT 1 FROM rigs WHERE name = ?').get(rig)) {
    throw new GtError('GT_E_RIG_NOT_FOUND', `no rig named '${rig}' in this town`, {
      hint: "add it with 'gt rig add <name> <repo>'",
    });
  }
  return { row: ensureAgentRow(db, { id: ref, role: effectiveRole, rig, name }), created: true };
}

export interface StartFlags {
  agent?: string;
  model?: string;
  runtime?: string;
  role?: string;
  prompt?: string | false;
  waitReady?: boolean;
}

function startOptions(flags: StartFlags) {
  const runtime = parseRuntime(flags.runtime);
  return {
    override: {
      ...(flags.agent ? { agent: flags.agent } : {}),
      ...(flags.model ? { model: flags.model } : {}),
      ...(runtime ? { runtime } : {}),
    },
    ...(flags.prompt === false
      ? { prompt: null }
      : flags.prompt !== undefined
        ? { prompt: flags.prompt }
        : {}),
    waitReady: Boolean(flags.waitReady),
  };
}

function startedText(
  verb: string,
  s: {
    agent: string;
    session: string;
    runtime: string;
    preset: string;
    model: string | null;
    pid: number | null;
    ready: boolean | null;
  },
) {
  const ready = s.ready === null ? '' : s.ready ? ', ready' : ', NOT ready';
  return `${verb} ${s.agent}: ${s.preset}${s.model ? ` (${s.model})` : ''} in ${s.runtime} session ${s.session}, pid ${s.pid ?? '?'}${ready}`;
}

export async function sessionStartCommand(ref: string, flags: StartFlags): Promise<CommandResult> {
  const { startAgentSession } = await import('../../services/agent-sessions');
  return withTown(async ({ root, db }) => {
    const { row, created } = agentForStart(db, ref, flags.role);
    let started: Awaited<ReturnType<typeof startAgentSession>>;
    try {
      started = await startAgentSession(root, db, row, startOptions(flags));
    } catch (error) {
      // A refused first start leaves no half-made agent behind.
      if (created) db.prepare('DELETE FROM agents WHERE id = ?').run(row.id);
      throw error;
    }
    return {
      data: started,
      text: () => startedText('started', started),
      exitCode: started.ready === false ? 1 : 0,
    };
  });
}

export async function sessionStopCommand(ref: string): Promise<CommandResult> {
  const { stopAgentSession } = await import('../../services/agent-sessions');
  return withTown(async ({ root, db }) => {
    const stopped = await stopAgentSession(root, db, findAgentRow(db, ref));
    return {
      data: stopped,
      text: () =>
        `stopped ${stopped.agent} (${stopped.session})${stopped.was_running ? '' : ': it was not running'}`,
    };
  });
}

export async function sessionRestartCommand(ref: string, flags: StartFlags): Promise<CommandResult> {
  const { restartAgentSession } = await import('../../services/agent-sessions');
  return withTown(async ({ root, db }) => {
    const restarted = await restartAgentSession(root, db, findAgentRow(db, ref), startOptions(flags));
    return { data: restarted, text: () => startedText('restarted', restarted) };
  });
}

export async function sessionStatusCommand(ref: string): Promise<CommandResult> {
  return withTown(async ({ root, db }) => {
    const row = findAgentRow(db, ref);
    const session = row.session ?? sessionName(row);
    const live = await providerFor(runtimeKind(row.runtime), root).liveness(session);
    const data = {
      agent: row.id,
      session,
      runtime: runtimeKind(row.runtime),
      session_exists: live.session,
      process_alive: live.processAlive,
      pid: live.pid,
      exit_code: live.exitCode,
    };
    const word = live.processAlive
      ? 'running'
      : live.session
        ? `dead (exit ${live.exitCode ?? '?'})`
        : 'no session';
    return { data, text: () => `${row.id}: ${session} ${word}` };
  });
}

export interface NudgeFlags {
  queue?: boolean;
  urgent?: boolean;
  waitIdle?: string;
  drain?: boolean;
}

export async function nudgeCommand(
  ref: string | undefined,
  words: string[],
  flags: NudgeFlags,
): Promise<CommandResult> {
  const nudge = await import('../../runtime/nudge');
  if (flags.drain) {
    const target = ref ?? process.env.GT_AGENT;
    if (!target)
      throw new GtError('GT_E_USAGE', 'gt nudge --drain needs an agent (or GT_AGENT in the environment)');
    return withTown(({ db }) => {
      const row = findAgentRow(db, target);
      const drained = nudge.drainNudges(db, row.id);
      return { data: { agent: row.id, nudges: drained }, text: () => nudge.renderDrained(drained) };
    });
  }
  if (!ref || words.length === 0) {
    throw new GtError('GT_E_USAGE', 'gt nudge needs an agent and a message', {
      hint: 'gt nudge <agent> "<message>"',
    });
  }
  const waitIdleMs = flags.waitIdle === undefined ? undefined : parseCount(flags.waitIdle, '--wait-idle');
  nudge.sanitizeNudge(words.join(' ')); // bad text is refused before anything else happens
  return withTown(async ({ root, db }) => {
    const row = findAgentRow(db, ref);
    const busyPattern = await busyPatternFor(root, row);
    const result = await nudge.nudgeAgent(root, db, row.id, words.join(' '), {
      sender: resolveActor(process.env, () => userInfo().username),
      priority: flags.urgent ? 'urgent' : 'normal',
      queueOnly: Boolean(flags.queue),
      waitIdleMs,
      busyPattern,
    });
    const warnings =
      result.status === 'delivered' && !result.verified
        ? [`warning: typed into ${result.session} and pressed Enter, but the text was not seen on screen`]
        : [];
    return {
      data: result,
      warnings,
      text: () =>
        result.status === 'delivered'
          ? `delivered to ${result.agent} (${result.session})`
          : `queued for ${result.agent} (${result.reason?.replace('_', ' ')}): it will see it at its next turn`,
    };
  });
}

/** The agent's busy pattern from its preset; an unknown or broken config must not block a nudge. */
async function busyPatternFor(root: string, row: AgentRow): Promise<string | null> {
  if (!row.agent) return null;
  try {
    const { resolvePreset } = await import('../../runtime/presets');
    const { loadTownConfig } = await import('../../town/config');
    return resolvePreset(row.agent, [loadTownConfig(root).agents]).busyPattern;
  } catch {
    return null;
  }
}
