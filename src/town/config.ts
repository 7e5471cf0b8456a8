import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import { GtError } from '../core/errors';
import { agentsSectionSchema, rolesSectionSchema } from '../runtime/config-schema';
import { parseDuration } from './duration';
import { TOWN_CONFIG_FILE } from './paths';

/**
 * The schemas of town.toml and rig.toml, and loaders whose errors name the file, the key, what is wrong
 * and an example of a right value. Unknown keys are errors (`.strict()`), never silently ignored.
 */

const duration = z
  .string()
  .refine((value) => parseDuration(value) !== undefined, 'must be a duration like "90s", "10m" or "1h"');

const PREFIX_PATTERN = /^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$/;
const prefix = z
  .string()
  .max(20)
  .regex(PREFIX_PATTERN, 'must be a lowercase identifier (letters, digits, _ and inner hyphens)');

/** A git branch name we are willing to protect: no option-like or ref-breaking characters. */
export const BRANCH_PATTERN = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)[A-Za-z0-9._/-]+(?<![./])$/;
const branch = z.string().regex(BRANCH_PATTERN, 'must be a plain git branch name such as "main"');

export const townConfigSchema = z
  .object({
    name: z.string().min(1).max(100).describe('display name of the town'),
    ledger: z
      .object({ path: z.string().min(1).describe('ledger file, relative to the town root') })
      .strict()
      .optional(),
    agents: agentsSectionSchema,
    roles: rolesSectionSchema,
    scheduler: z
      .object({
        max_polecats: z.number().int().min(1).max(200).optional(),
        scale: z
          .enum(['small', 'medium', 'large'])
          .optional()
          .describe('preset for max_polecats: 2, 10 or 30'),
        max_polecats_per_rig: z.number().int().min(1).max(200).optional(),
        poll_interval: duration.default('5s'),
        feed_convoys: z
          .boolean()
          .default(true)
          .describe('dispatch ready beads of open convoys automatically'),
      })
      .strict()
      .refine((s) => s.max_polecats === undefined || s.scale === undefined, {
        message: 'set either scale or max_polecats, not both (max_polecats is the exact number)',
        path: ['scale'],
      })
      .default({ poll_interval: '5s', feed_convoys: true }),
    witness: z
      .object({
        stall_after: duration.default('5m').describe('hooked work with no progress for this long is stalled'),
        nudge_grace: duration.default('2m').describe('after a nudge, how long to wait for progress'),
        max_restarts: z.number().int().min(0).max(100).default(3),
        check_interval: duration.default('2s').describe('how often sessions are checked for liveness'),
      })
      .strict()
      .default({ stall_after: '5m', nudge_grace: '2m', max_restarts: 3, check_interval: '2s' }),
    daemon: z
      .object({
        log_max_bytes: z
          .number()
          .int()
          .min(4096)
          .default(10 * 1024 * 1024),
        log_keep: z.number().int().min(0).max(50).default(3),
        reescalate_after: duration.default('30m').describe('unacknowledged escalations are raised again'),
      })
      .strict()
      .default({ log_max_bytes: 10 * 1024 * 1024, log_keep: 3, reescalate_after: '30m' }),
    budget: z
      .object({
        daily_usd: z.number().min(0).default(50),
        per_bead_usd: z.number().min(0).default(10),
        warn_at_fraction: z.number().gt(0).max(1).default(0.8),
      })
      .strict()
      .default({ daily_usd: 50, per_bead_usd: 10, warn_at_fraction: 0.8 }),
    notify: z
      .object({
        command: z
          .array(z.string().min(1))
          .min(1)
          .max(64)
          .describe('argv run (never through a shell) when a convoy lands or an escalation is raised'),
        timeout: duration.default('30s'),
      })
      .strict()
      .optional(),
  })
  .strict();

export type TownConfig = z.infer<typeof townConfigSchema>;

export type GateKind = 'setup' | 'sheriff' | 'gate';
export const GATE_KINDS: readonly GateKind[] = ['setup', 'sheriff', 'gate'];
export const DEFAULT_GATE_TIMEOUTS: Record<GateKind, string> = { setup: '10m', sheriff: '5m', gate: '30m' };

const MAX_ARGV = 64;
/**
 * A rig's command: a command line (a string, run with `sh -c`) or an argv array (run directly, never
 * through a shell: its elements reach the program literally). src/refinery/gate-runner.ts runs both.
 */
const gateCommandValue = z
  .union([z.string(), z.array(z.string())], {
    error: (issue) =>
      issue.input === undefined
        ? 'is required but missing'
        : 'must be a command line (a string) or an argv array of strings',
  })
  .superRefine((command, ctx) => {
    if (typeof command === 'string') {
      if (command.length === 0) ctx.addIssue('must not be empty (a command line, run with sh -c)');
      return;
    }
    if (command.length === 0)
      ctx.addIssue('must not be an empty array (argv: the program, then its arguments)');
    if (command.length > MAX_ARGV) ctx.addIssue(`must have at most ${MAX_ARGV} argv elements`);
    command.forEach((arg, i) => {
      if (arg.length === 0)
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: 'must not be empty (each argv element is one argument)',
        });
    });
  })
  .describe('command line (run with sh -c) or argv array (run without a shell) in a worktree of the rig');

const gateCommandSchema = z
  .object({
    command: gateCommandValue,
    timeout: duration.optional(),
  })
  .strict();

/** A rig command as people read it: a command line as written, an argv array as JSON. */
export function formatGateCommand(command: string | readonly string[]): string {
  return typeof command === 'string' ? command : JSON.stringify(command);
}

export const rigConfigSchema = z
  .object({
    default_branch: branch,
    prefix,
    upstream: z.string().min(1).optional(),
    experimental: z.boolean().default(false),
    commands: z
      .object({
        setup: gateCommandSchema.optional(),
        sheriff: gateCommandSchema.optional(),
        gate: gateCommandSchema.optional(),
      })
      .strict()
      .default({}),
    roles: rolesSectionSchema,
    scheduler: z
      .object({ max_polecats: z.number().int().min(1).max(200).optional() })
      .strict()
      .optional(),
    refinery: z
      .object({
        batch_min: z.number().int().min(1).max(64).default(1),
        batch_max: z.number().int().min(1).max(64).default(8),
        max_rework: z.number().int().min(0).max(100).default(3),
        gate_parallelism: z.number().int().min(1).max(16).default(1),
        parallel_bisection: z.boolean().default(false),
      })
      .strict()
      .refine((r) => r.batch_min <= r.batch_max, {
        message: 'batch_min must not exceed batch_max',
        path: ['batch_min'],
      })
      .optional(),
  })
  .strict();

export type RigConfig = z.infer<typeof rigConfigSchema>;

/** Right-value examples shown in errors, by dotted key ('*' matches one table name). */
const EXAMPLES: Record<string, string> = {
  name: 'name = "my-town"',
  'ledger.path': '[ledger]\npath = ".gt/ledger.db"',
  'scheduler.max_polecats': '[scheduler]\nmax_polecats = 4',
  'scheduler.max_polecats_per_rig': '[scheduler]\nmax_polecats_per_rig = 2',
  'scheduler.poll_interval': '[scheduler]\npoll_interval = "5s"',
  'budget.daily_usd': '[budget]\ndaily_usd = 50',
  'budget.per_bead_usd': '[budget]\nper_bead_usd = 10',
  'budget.warn_at_fraction': '[budget]\nwarn_at_fraction = 0.8',
  'roles.*': '[roles.polecat]\nagent = "claude"\nmodel = "sonnet"',
  'roles.*.agent': '[roles.polecat]\nagent = "claude"',
  'agents.*': '[agents.mycli]\ncommand = "mycli"\nargs = ["--yes"]',
  'agents.*.command': '[agents.mycli]\ncommand = "mycli"',
  default_branch: 'default_branch = "main"',
  prefix: 'prefix = "app"',
  upstream: 'upstream = "https://github.com/me/app.git"',
  experimental: 'experimental = true',
  'commands.*': '[commands.gate]\ncommand = "npm test"\ntimeout = "30m"',
  'commands.*.command':
    '[commands.gate]\ncommand = "npm test"           # a command line, run with sh -c\n# or: command = ["npm", "test"]   # argv, run directly (never through a shell)',
  'commands.*.timeout': '[commands.gate]\ntimeout = "30m"',
  'scheduler.*': '[scheduler]\nmax_polecats = 4',
  'scheduler.scale': '[scheduler]\nscale = "medium"   # and no max_polecats',
  'scheduler.feed_convoys': '[scheduler]\nfeed_convoys = true',
  'witness.*': '[witness]\nstall_after = "5m"\nnudge_grace = "2m"\nmax_restarts = 3\ncheck_interval = "2s"',
  'daemon.*': '[daemon]\nlog_max_bytes = 10485760\nlog_keep = 3\nreescalate_after = "30m"',
  'refinery.*':
    '[refinery]\nbatch_min = 1\nbatch_max = 8\nmax_rework = 3\ngate_parallelism = 1\nparallel_bisection = false',
  'budget.*': '[budget]\ndaily_usd = 50',
  'ledger.*': '[ledger]\npath = ".gt/ledger.db"',
  'notify.command': '[notify]\ncommand = ["notify-send", "Gas Town"]',
  'notify.timeout': '[notify]\ntimeout = "30s"',
  'notify.*': '[notify]\ncommand = ["/usr/local/bin/my-notifier", "--quiet"]',
};

function exampleFor(key: string): string | undefined {
  // Exact key, then the key with one part wildcarded, then the enclosing tables' examples.
  let parts = key.split('.').filter(Boolean);
  while (parts.length > 0) {
    const exact = EXAMPLES[parts.join('.')];
    if (exact) return exact;
    for (let i = parts.length - 1; i >= 0; i--) {
      const pattern = parts.map((part, j) => (j === i ? '*' : part)).join('.');
      if (EXAMPLES[pattern]) return EXAMPLES[pattern];
    }
    parts = parts.slice(0, -1);
    if (parts.length > 0 && EXAMPLES[`${parts.join('.')}.*`]) return EXAMPLES[`${parts.join('.')}.*`];
  }
  return undefined;
}

export interface ConfigIssue {
  file: string;
  key: string;
  message: string;
  example?: string;
  line?: number;
}

/** Keys a table of `schema` accepts at `path`, for "unknown key" messages. */
export function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: z.ZodType | undefined = schema;
  const unwrap = (value: z.ZodType | undefined): z.ZodType | undefined => {
    let current = value;
    for (let i = 0; i < 5 && current; i++) {
      const def = (current as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
      if (def.type === 'default' || def.type === 'optional' || def.type === 'pipe') {
        current = (def.innerType ?? def.in) as z.ZodType | undefined;
      } else break;
    }
    return current;
  };
  for (const part of path) {
    node = unwrap(node);
    if (!node) return [];
    const def = (node as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def.type === 'object') node = (def.shape as Record<string, z.ZodType>)[String(part)];
    else if (def.type === 'record') node = def.valueType as z.ZodType;
    else return [];
  }
  node = unwrap(node);
  const def = node ? (node as unknown as { _zod: { def: Record<string, unknown> } })._zod.def : undefined;
  return def?.type === 'object' ? Object.keys(def.shape as object) : [];
}

function issuesFromZod(file: string, schema: z.ZodType, error: z.ZodError): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, issue.path);
      for (const key of issue.keys) {
        const full = base ? `${base}.${key}` : key;
        issues.push({
          file,
          key: full,
          message: `unknown key${known.length ? ` (known keys${base ? ` in [${base}]` : ''}: ${known.join(', ')})` : ''}`,
          ...withExample(exampleFor(base ? `${base}.*` : key)),
        });
      }
      continue;
    }
    const message =
      issue.code === 'invalid_type' && /received undefined/.test(issue.message)
        ? 'is required but missing'
        : issue.message.replace(/^Invalid input: /, '');
    issues.push({ file, key: base || '(top level)', message, ...withExample(exampleFor(base)) });
  }
  return issues;
}

function withExample(example: string | undefined): { example?: string } {
  return example ? { example } : {};
}

export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues
    .map((issue) => {
      const where = issue.line ? `${issue.file}:${issue.line}` : issue.file;
      const example = issue.example ? `\n    e.g. ${issue.example.replace(/\n/g, '\n         ')}` : '';
      return `${where}: ${issue.key}: ${issue.message}${example}`;
    })
    .join('\n');
}

export type Validation<T> =
  | { ok: true; value: T; raw: Record<string, unknown> }
  | { ok: false; issues: ConfigIssue[] };

/** Parses and validates TOML text against a schema; never throws. */
export function validateToml<T>(file: string, text: string, schema: z.ZodType<T>): Validation<T> {
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TomlError) {
      const first = error.message.split('\n')[0] ?? error.message;
      return {
        ok: false,
        issues: [
          {
            file,
            key: '(syntax)',
            line: error.line,
            message: `invalid TOML at line ${error.line}, column ${error.column}: ${first}`,
            example: 'key = "string value"',
          },
        ],
      };
    }
    throw error;
  }
  const result = schema.safeParse(raw);
  if (!result.success) return { ok: false, issues: issuesFromZod(file, schema, result.error) };
  return { ok: true, value: result.data, raw };
}

function loadConfig<T>(
  file: string,
  schema: z.ZodType<T>,
  what: string,
): { value: T; raw: Record<string, unknown>; text: string } {
  if (!existsSync(file)) {
    throw new GtError('GT_E_CONFIG', `${what} ${file} does not exist`, {
      hint:
        what === 'town config' ? "create a town with 'gt install <dir>'" : "re-add the rig with 'gt rig add'",
    });
  }
  const text = readFileSync(file, 'utf8');
  const result = validateToml(file, text, schema);
  if (!result.ok) {
    throw new GtError('GT_E_CONFIG', `invalid ${what}:\n${formatIssues(result.issues)}`, {
      hint: `edit ${file} (or use 'gt config set'), then run 'gt doctor'`,
      details: { issues: result.issues },
    });
  }
  return { value: result.value, raw: result.raw, text };
}

export function townConfigPath(root: string): string {
  return join(root, TOWN_CONFIG_FILE);
}

export function loadTownConfig(root: string): TownConfig {
  return loadConfig(townConfigPath(root), townConfigSchema, 'town config').value;
}

export function loadRigConfigFile(file: string): RigConfig {
  return loadConfig(file, rigConfigSchema, 'rig config').value;
}

/** Polecats a scale preset allows at once. */
export const SCALE_PRESETS = { small: 2, medium: 10, large: 30 } as const;
export const DEFAULT_MAX_POLECATS = 4;

/** The town-wide polecat cap: max_polecats, else the scale preset, else 4. */
export function maxPolecats(config: TownConfig): number {
  const s = config.scheduler;
  return s.max_polecats ?? (s.scale ? SCALE_PRESETS[s.scale] : DEFAULT_MAX_POLECATS);
}

export function gateTimeoutMs(config: RigConfig, kind: GateKind): number {
  const text = config.commands[kind]?.timeout ?? DEFAULT_GATE_TIMEOUTS[kind];
  return parseDuration(text) ?? (parseDuration(DEFAULT_GATE_TIMEOUTS[kind]) as number);
}
