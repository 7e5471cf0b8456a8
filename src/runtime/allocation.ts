import type { AgentDefinition, RoleAssignment, RuntimeKind } from './config-schema';
import { type AgentPreset, BUILTIN_PRESETS, resolvePreset } from './presets';

/**
 * Which agent and model a role runs with. Pure: config in, decision out.
 *
 * Layers, weakest first: built-in defaults → town `[roles.default]` → town `[roles.<role>]` → rig
 * `[roles.default]` → rig `[roles.<role>]` → the per-sling override. A layer that switches to a
 * different agent drops the model chosen below it (a Claude model name means nothing to Codex); a layer
 * that names only a model keeps the agent. With no model anywhere, the agent's own tiered default is
 * used: its strong model for the Mayor, its economical model for everyone else.
 */
export type AgentRole = 'mayor' | 'polecat' | 'crew' | 'refinery' | 'witness' | 'deacon';

export interface AllocationConfig {
  agents?: Record<string, AgentDefinition>;
  roles?: Partial<Record<string, RoleAssignment>>;
}

export interface AllocationInput {
  role: AgentRole;
  town?: AllocationConfig;
  rig?: AllocationConfig;
  sling?: RoleAssignment;
  builtins?: Readonly<Record<string, AgentPreset>>;
}

export type LayerName = 'default' | 'town' | 'rig' | 'sling' | 'preset';

export interface Allocation {
  agent: string;
  preset: AgentPreset;
  model: string | null;
  runtime: RuntimeKind;
  source: { agent: LayerName; model: LayerName | null; runtime: LayerName };
}

export const DEFAULT_AGENT = 'claude';

/** The Mayor plans and decomposes: it gets the strong model. Everyone else does bounded work. */
export function modelTier(role: AgentRole): 'strong' | 'economical' {
  return role === 'mayor' ? 'strong' : 'economical';
}

export function allocateAgent(input: AllocationInput): Allocation {
  const layers: Array<[LayerName, RoleAssignment | undefined]> = [
    ['town', input.town?.roles?.default],
    ['town', input.town?.roles?.[input.role]],
    ['rig', input.rig?.roles?.default],
    ['rig', input.rig?.roles?.[input.role]],
    ['sling', input.sling],
  ];
  let agent = DEFAULT_AGENT;
  let agentSource: LayerName = 'default';
  let model: string | null = null;
  let modelSource: LayerName | null = null;
  let runtime: RuntimeKind | null = null;
  let runtimeSource: LayerName = 'preset';
  for (const [layer, assignment] of layers) {
    if (!assignment) continue;
    if (assignment.agent && assignment.agent !== agent) {
      agent = assignment.agent;
      agentSource = layer;
      model = null;
      modelSource = null;
    }
    if (assignment.model) {
      model = assignment.model;
      modelSource = layer;
    }
    if (assignment.runtime) {
      runtime = assignment.runtime;
      runtimeSource = layer;
    }
  }
  const preset = resolvePreset(
    agent,
    [input.town?.agents, input.rig?.agents],
    input.builtins ?? BUILTIN_PRESETS,
  );
  if (model === null) {
    model = preset.models[modelTier(input.role)];
    modelSource = model === null ? null : 'preset';
  }
  return {
    agent,
    preset,
    model,
    runtime: runtime ?? preset.runtime,
    source: { agent: agentSource, model: modelSource, runtime: runtimeSource },
  };
}
