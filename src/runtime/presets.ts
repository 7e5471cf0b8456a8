import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GtError } from '../core/errors';
import type { AgentDefinition, HookProvider, PromptMode, RuntimeKind } from './config-schema';

/**
 * How each agent CLI is launched and driven. Facts per agent: the command and its autonomous-mode flags,
 * how the first prompt is delivered, the model flag, how readiness is detected, which hook system it has,
 * and where it writes transcripts (read later for cost accounting).
 */
export interface AgentPreset {
  name: string;
  command: string;
  /** Interactive (tmux) arguments, including the autonomous-mode flags. */
  args: string[];
  /** Non-interactive arguments (structured output), or null when the agent has no headless mode. */
  headlessArgs: string[] | null;
  env: Record<string, string>;
  /** Variables copied from gt's environment into the session via the private env file (API keys). */
  passEnv: string[];
  envFile: string | null;
  prompt: PromptMode;
  promptFlag: string | null;
  headlessPrompt: PromptMode;
  headlessPromptFlag: string | null;
  modelFlag: string | null;
  /** Default models: strong for the Mayor, economical for workers (null: the agent's own default). */
  models: { strong: string | null; economical: string | null };
  /** Regex source: a pane line matching it means the agent waits for input. */
  readyPattern: string | null;
  /** Fallback wait when there is no pattern (or it never shows). */
  readyDelayMs: number;
  /** Regex source: visible while the agent is mid-turn (a nudge then waits or queues). */
  busyPattern: string | null;
  hooks: HookProvider;
  /** `~`-relative directory of transcripts, for cost accounting. */
  transcriptDir: string | null;
  processNames: string[];
  install: string;
  runtime: RuntimeKind;
}

const base = {
  headlessArgs: null,
  env: {},
  passEnv: [],
  envFile: null,
  promptFlag: null,
  headlessPrompt: 'arg',
  headlessPromptFlag: null,
  modelFlag: '--model',
  models: { strong: null, economical: null },
  readyPattern: null,
  readyDelayMs: 5000,
  busyPattern: null,
  hooks: 'none',
  transcriptDir: null,
  runtime: 'tmux',
} satisfies Partial<AgentPreset>;

/** The package root, from the bundled dist/ or from src/ under tsx. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'gastown-ts')
          return dir;
      } catch {
        // Not ours; keep looking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the gt package root');
    dir = parent;
  }
}

export const BUILTIN_PRESETS: Readonly<Record<string, AgentPreset>> = {
  claude: {
    ...base,
    name: 'claude',
    command: 'claude',
    args: ['--dangerously-skip-permissions'],
    headlessArgs: ['-p', '--output-format', 'stream-json', '--verbose', '--dangerously-skip-permissions'],
    passEnv: ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_BASE_URL'],
    prompt: 'arg',
    models: { strong: 'opus', economical: 'sonnet' },
    // The input prompt, bare or inside the input box ("│ > ").
    readyPattern: '^[\\s│]*[❯>](\\s|$)',
    readyDelayMs: 10_000,
    busyPattern: 'esc to interrupt',
    hooks: 'claude',
    transcriptDir: '~/.claude/projects',
    processNames: ['claude', 'node'],
    install: 'npm install -g @anthropic-ai/claude-code',
  },
  codex: {
    ...base,
    name: 'codex',
    command: 'codex',
    args: ['--dangerously-bypass-approvals-and-sandbox'],
    headlessArgs: ['exec', '--json', '--dangerously-bypass-approvals-and-sandbox'],
    passEnv: ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'CODEX_HOME'],
    // Started without a prompt; the first prompt is typed once the composer shows.
    prompt: 'typed',
    models: { strong: 'gpt-5', economical: 'gpt-5-mini' },
    readyPattern: '^\\s*›',
    readyDelayMs: 3000,
    busyPattern: 'esc to interrupt',
    hooks: 'codex',
    transcriptDir: '~/.codex/sessions',
    processNames: ['codex'],
    install: 'npm install -g @openai/codex',
  },
  gemini: {
    ...base,
    name: 'gemini',
    command: 'gemini',
    args: ['--approval-mode', 'yolo'],
    headlessArgs: ['--approval-mode', 'yolo', '--output-format', 'stream-json'],
    passEnv: ['GEMINI_API_KEY', 'GOOGLE_API_KEY', 'GOOGLE_CLOUD_PROJECT'],
    prompt: 'flag',
    promptFlag: '-i',
    headlessPrompt: 'flag',
    headlessPromptFlag: '-p',
    models: { strong: 'gemini-2.5-pro', economical: 'gemini-2.5-flash' },
    busyPattern: 'esc to cancel',
    hooks: 'gemini',
    transcriptDir: '~/.gemini/tmp',
    processNames: ['gemini', 'node'],
    install: 'npm install -g @google/gemini-cli',
  },
  opencode: {
    ...base,
    name: 'opencode',
    command: 'opencode',
    args: [],
    headlessArgs: ['run', '--format', 'json'],
    env: { OPENCODE_PERMISSION: '{"*":"allow"}' },
    passEnv: ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'OPENROUTER_API_KEY', 'GEMINI_API_KEY'],
    prompt: 'flag',
    promptFlag: '--prompt',
    readyDelayMs: 8000,
    hooks: 'opencode',
    transcriptDir: '~/.local/share/opencode/storage',
    processNames: ['opencode', 'node', 'bun'],
    install: 'npm install -g opencode-ai',
  },
  amp: {
    ...base,
    name: 'amp',
    command: 'amp',
    args: ['--dangerously-allow-all', '--no-ide'],
    headlessArgs: ['--dangerously-allow-all', '--no-ide', '--stream-json', '-x'],
    passEnv: ['AMP_API_KEY'],
    prompt: 'arg',
    // Amp chooses its own models (modes), so there is no model flag.
    modelFlag: null,
    processNames: ['amp', 'node'],
    install: 'npm install -g @sourcegraph/amp',
  },
  'cursor-agent': {
    ...base,
    name: 'cursor-agent',
    command: 'cursor-agent',
    args: ['-f'],
    headlessArgs: ['-f', '-p', '--output-format', 'stream-json'],
    passEnv: ['CURSOR_API_KEY'],
    prompt: 'arg',
    hooks: 'cursor',
    transcriptDir: '~/.cursor/chats',
    processNames: ['cursor-agent', 'agent'],
    install: 'curl https://cursor.com/install -fsS | bash',
  },
  copilot: {
    ...base,
    name: 'copilot',
    command: 'copilot',
    args: ['--yolo'],
    headlessArgs: ['--yolo'],
    passEnv: ['GH_TOKEN', 'GITHUB_TOKEN', 'COPILOT_HOME'],
    prompt: 'flag',
    promptFlag: '-i',
    headlessPrompt: 'flag',
    headlessPromptFlag: '-p',
    hooks: 'copilot',
    transcriptDir: '~/.copilot/session-state',
    processNames: ['copilot', 'node'],
    install: 'npm install -g @github/copilot',
  },
  auggie: {
    ...base,
    name: 'auggie',
    command: 'auggie',
    args: ['--allow-indexing'],
    headlessArgs: ['--allow-indexing', '--print'],
    passEnv: ['AUGMENT_SESSION_AUTH'],
    prompt: 'arg',
    processNames: ['auggie', 'node'],
    install: 'npm install -g @augmentcode/auggie',
  },
  // The deterministic simulated agent (src/runtime/sim/main.ts → dist/sim.js). The model arrives as
  // GT_MODEL like every session's; it has no model flag. Its command is resolved at use (see below).
  sim: {
    ...base,
    name: 'sim',
    command: 'node',
    args: ['<package>/dist/sim.js'],
    headlessArgs: ['<package>/dist/sim.js', '-p'],
    prompt: 'arg',
    modelFlag: null,
    models: { strong: 'sim-strong', economical: 'sim-small' },
    readyPattern: '^sim> ?$',
    readyDelayMs: 0,
    processNames: ['node'],
    install: "build gt first: 'npm run build' produces dist/sim.js",
  },
};

/** Replaces the `<package>` placeholder and runs the sim with this very Node binary. */
function materialise(preset: AgentPreset): AgentPreset {
  if (
    !preset.args.some((a) => a.includes('<package>')) &&
    !preset.headlessArgs?.some((a) => a.includes('<package>'))
  )
    return preset;
  const root = packageRoot();
  const fill = (args: string[]) => args.map((a) => a.replace('<package>', root));
  return {
    ...preset,
    command: preset.command === 'node' ? process.execPath : preset.command,
    args: fill(preset.args),
    headlessArgs: preset.headlessArgs ? fill(preset.headlessArgs) : null,
  };
}

/** Merges a town/rig `[agents.<name>]` definition over the preset it inherits from. */
export function applyDefinition(
  name: string,
  def: AgentDefinition | undefined,
  parent: AgentPreset | undefined,
): AgentPreset {
  if (!parent && !def?.command) {
    throw new GtError(
      'GT_E_CONFIG',
      `agents.${name}: a custom agent needs "command" (or "preset" to inherit one)`,
      {
        hint: `e.g. [agents.${name}] command = "my-agent"  or  preset = "claude"`,
      },
    );
  }
  const from: AgentPreset = parent ?? {
    ...base,
    name,
    command: def!.command!,
    args: [],
    prompt: 'arg',
    processNames: [def!.command!.split('/').pop()!],
    install: `install "${def!.command}" and make sure it is on PATH`,
  };
  if (!def) return { ...from, name };
  return {
    ...from,
    name,
    command: def.command ?? from.command,
    args: def.args ?? from.args,
    headlessArgs: def.headless_args ?? from.headlessArgs,
    env: { ...from.env, ...def.env },
    passEnv: [...new Set([...from.passEnv, ...(def.pass_env ?? [])])],
    envFile: def.env_file ?? from.envFile,
    prompt: def.prompt_mode ?? from.prompt,
    promptFlag: def.prompt_flag ?? from.promptFlag,
    headlessPrompt: def.headless_prompt_mode ?? from.headlessPrompt,
    headlessPromptFlag: def.headless_prompt_flag ?? from.headlessPromptFlag,
    modelFlag: def.model_flag ?? from.modelFlag,
    models: {
      strong: def.strong_model ?? from.models.strong,
      economical: def.economical_model ?? from.models.economical,
    },
    readyPattern: def.ready_pattern ?? from.readyPattern,
    readyDelayMs: def.ready_delay_ms ?? from.readyDelayMs,
    busyPattern: def.busy_pattern ?? from.busyPattern,
    hooks: def.hooks ?? from.hooks,
    transcriptDir: def.transcript_dir ?? from.transcriptDir,
    processNames: def.process_names ?? (def.command ? [def.command.split('/').pop()!] : from.processNames),
    install: def.install ?? from.install,
    runtime: def.runtime ?? from.runtime,
  };
}

/**
 * The effective preset for an agent name: built-in, overridden or defined by `[agents.<name>]` layers
 * (town first, then rig). `preset = "x"` inherits x; a definition named like a built-in overrides it.
 */
export function resolvePreset(
  name: string,
  layers: ReadonlyArray<Record<string, AgentDefinition> | undefined> = [],
  builtins: Readonly<Record<string, AgentPreset>> = BUILTIN_PRESETS,
  seen: ReadonlySet<string> = new Set(),
): AgentPreset {
  if (seen.has(name)) {
    throw new GtError(
      'GT_E_CONFIG',
      `agents.${name}: "preset" inherits from itself (${[...seen, name].join(' → ')})`,
    );
  }
  const defs = layers.map((layer) => layer?.[name]).filter((d): d is AgentDefinition => d !== undefined);
  const inherit = [...defs].reverse().find((d) => d.preset)?.preset;
  let parent: AgentPreset | undefined;
  if (inherit && inherit !== name)
    parent = resolvePreset(inherit, layers, builtins, new Set([...seen, name]));
  else parent = builtins[name];
  if (!parent && defs.length === 0) {
    const known = [
      ...new Set([...Object.keys(builtins), ...layers.flatMap((l) => Object.keys(l ?? {}))]),
    ].sort();
    throw new GtError('GT_E_UNKNOWN_AGENT', `unknown agent "${name}"`, {
      hint: `known agents: ${known.join(', ')}; define others in town.toml under [agents.${name}]`,
    });
  }
  let preset = parent ? { ...parent, name } : undefined;
  for (const def of defs) preset = applyDefinition(name, def, preset);
  return materialise(preset!);
}

export interface LaunchPlan {
  command: string;
  args: string[];
  /** Written to the agent's stdin after start (prompt mode "stdin"). */
  stdin: string | null;
  /** Typed into the session once it is ready (prompt mode "typed"). */
  typedPrompt: string | null;
}

/** The command line for one session. Pure: the prompt is one argv element, never shell text. */
export function buildLaunch(
  preset: AgentPreset,
  options: { mode: RuntimeKind; model: string | null; prompt: string | null; extraArgs?: string[] },
): LaunchPlan {
  const headless = options.mode === 'headless';
  const baseArgs = headless ? preset.headlessArgs : preset.args;
  if (!baseArgs) {
    throw new GtError('GT_E_SESSION', `agent "${preset.name}" has no headless mode`, {
      hint: `run it in tmux (runtime = "tmux"), or set headless_args in [agents.${preset.name}]`,
    });
  }
  const args = [...baseArgs, ...(options.extraArgs ?? [])];
  if (options.model && preset.modelFlag) args.push(preset.modelFlag, options.model);
  const mode = headless ? preset.headlessPrompt : preset.prompt;
  const flag = headless ? preset.headlessPromptFlag : preset.promptFlag;
  let stdin: string | null = null;
  let typedPrompt: string | null = null;
  const prompt = options.prompt;
  if (prompt) {
    switch (mode) {
      case 'arg':
        // `--` would be safer, but not every agent CLI accepts it; a prompt never starts with "-".
        args.push(prompt.startsWith('-') ? ` ${prompt}` : prompt);
        break;
      case 'flag':
        if (!flag)
          throw new GtError('GT_E_CONFIG', `agents.${preset.name}: prompt_mode "flag" needs prompt_flag`);
        args.push(flag, prompt);
        break;
      case 'stdin':
        stdin = `${prompt}\n`;
        break;
      case 'typed':
        typedPrompt = prompt;
        break;
      case 'none':
        break;
    }
  }
  return { command: preset.command, args, stdin, typedPrompt };
}

/** Finds an executable on PATH (or checks an explicit path), as execvp would. */
export function findExecutable(
  command: string,
  pathEnv: string | undefined,
  cwd = process.cwd(),
): string | null {
  const isFile = (p: string) => {
    try {
      return statSync(p).isFile() && (statSync(p).mode & 0o111) !== 0;
    } catch {
      return false;
    }
  };
  if (command.includes('/')) {
    const full = isAbsolute(command) ? command : resolve(cwd, command);
    return isFile(full) ? full : null;
  }
  for (const dir of (pathEnv ?? '').split(':')) {
    if (!dir) continue;
    const full = join(dir, command);
    if (isFile(full)) return full;
  }
  return null;
}

/** GT_E_TOOL_MISSING naming the command and how to install it. */
export function assertInstalled(preset: AgentPreset, pathEnv: string | undefined, cwd?: string): string {
  const found = findExecutable(preset.command, pathEnv, cwd);
  if (!found) {
    throw new GtError(
      'GT_E_TOOL_MISSING',
      `agent "${preset.name}" needs the command "${preset.command}", which is not installed (not on PATH)`,
      {
        hint: `install it: ${preset.install}`,
        details: { agent: preset.name, command: preset.command, install: preset.install },
      },
    );
  }
  for (const arg of preset.args) {
    // The sim's script is part of the package: a missing build is the same kind of error.
    if (arg.endsWith('.js') && isAbsolute(arg) && !existsSync(arg)) {
      throw new GtError('GT_E_TOOL_MISSING', `agent "${preset.name}" needs ${arg}, which does not exist`, {
        hint: preset.install,
      });
    }
  }
  return found;
}
