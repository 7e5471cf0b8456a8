import { z } from 'zod';

/**
 * The `[agents.<name>]` and `[roles.<role>]` sections of town.toml (and the same sections in rig.toml as
 * per-rig overrides). Owned by the runtime subsystem; the town config schema embeds these.
 *
 * Every agent key is optional: `[agents.claude] args = […]` overrides one field of the built-in preset,
 * and `[agents.mine] preset = "claude" …` defines a new agent that inherits a preset's behaviour.
 * A new agent with no preset needs `command`.
 */
export const promptModeSchema = z
  .enum(['arg', 'flag', 'stdin', 'typed', 'none'])
  .describe('how the first prompt reaches the agent');

export const hookProviderSchema = z.enum([
  'claude',
  'gemini',
  'codex',
  'cursor',
  'copilot',
  'opencode',
  'none',
]);

export const runtimeKindSchema = z.enum(['tmux', 'headless']);

const envNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');

export const agentDefinitionSchema = z
  .object({
    preset: z.string().min(1).optional().describe('built-in preset to inherit from'),
    command: z.string().min(1).optional().describe('executable to run, e.g. "claude"'),
    args: z.array(z.string()).optional().describe('arguments for interactive (tmux) sessions'),
    headless_args: z.array(z.string()).optional().describe('arguments for headless sessions'),
    env: z.record(envNameSchema, z.string()).optional().describe('extra non-secret environment'),
    pass_env: z
      .array(envNameSchema)
      .optional()
      .describe("variables copied from gt's environment into the session through a private file (secrets)"),
    env_file: z.string().min(1).optional().describe('KEY=VALUE file of secrets, relative to the town root'),
    prompt_mode: promptModeSchema.optional(),
    prompt_flag: z.string().min(1).optional().describe('flag before the prompt when prompt_mode = "flag"'),
    headless_prompt_mode: promptModeSchema.optional(),
    headless_prompt_flag: z.string().min(1).optional(),
    model_flag: z.string().min(1).optional().describe('flag that selects the model, e.g. "--model"'),
    strong_model: z.string().min(1).optional().describe('default model for the mayor'),
    economical_model: z.string().min(1).optional().describe('default model for workers'),
    ready_pattern: z
      .string()
      .min(1)
      .optional()
      .describe('regex matching a pane line when the agent is ready'),
    ready_delay_ms: z.number().int().min(0).max(600_000).optional(),
    busy_pattern: z.string().min(1).optional().describe('regex matching the pane while the agent is working'),
    hooks: hookProviderSchema.optional(),
    transcript_dir: z.string().min(1).optional().describe('where the agent writes transcripts (for costs)'),
    process_names: z.array(z.string().min(1)).optional(),
    install: z.string().min(1).optional().describe('how to install the command (shown when missing)'),
    runtime: runtimeKindSchema.optional().describe('default session provider for this agent'),
  })
  .strict();

export const roleAssignmentSchema = z
  .object({
    agent: z.string().min(1).optional().describe('agent preset or custom agent name'),
    model: z.string().min(1).optional().describe("model name passed with the agent's model flag"),
    runtime: runtimeKindSchema.optional(),
  })
  .strict();

/** Roles that can be assigned an agent; `default` applies to every role without its own entry. */
export const ASSIGNABLE_ROLES = [
  'default',
  'mayor',
  'polecat',
  'crew',
  'refinery',
  'witness',
  'deacon',
] as const;

export const agentsSectionSchema = z
  .record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i), agentDefinitionSchema)
  .default({});
export const rolesSectionSchema = z.partialRecord(z.enum(ASSIGNABLE_ROLES), roleAssignmentSchema).default({});

export type AgentDefinition = z.infer<typeof agentDefinitionSchema>;
export type RoleAssignment = z.infer<typeof roleAssignmentSchema>;
export type AgentsSection = z.infer<typeof agentsSectionSchema>;
export type RolesSection = z.infer<typeof rolesSectionSchema>;
export type PromptMode = z.infer<typeof promptModeSchema>;
export type HookProvider = z.infer<typeof hookProviderSchema>;
export type RuntimeKind = z.infer<typeof runtimeKindSchema>;
