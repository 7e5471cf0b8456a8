/**
 * Deterministic session names, so any gt process can find an agent's session from its identity alone:
 * `gt-mayor`, `gt-deacon`, `gt-<rig>-<polecat>`, `gt-<rig>-crew-<name>`, `gt-<rig>-witness`, …
 * tmux forbids '.' and ':' in names; anything outside [A-Za-z0-9_-] becomes '_'.
 */
export interface AgentIdentity {
  role: string;
  rig: string | null;
  name: string;
}

const clean = (part: string) => part.replace(/[^A-Za-z0-9_-]/g, '_');

export function sessionName(agent: AgentIdentity): string {
  if (!agent.rig)
    return agent.role === 'mayor' || agent.role === 'deacon' ? `gt-${agent.role}` : `gt-${clean(agent.name)}`;
  const rig = clean(agent.rig);
  switch (agent.role) {
    case 'polecat':
      return `gt-${rig}-${clean(agent.name)}`;
    case 'crew':
      return `gt-${rig}-crew-${clean(agent.name)}`;
    default:
      return `gt-${rig}-${clean(agent.role)}`;
  }
}

/** The ledger address of an agent: 'mayor', '<rig>/<name>'. */
export function agentAddress(agent: AgentIdentity): string {
  return agent.rig ? `${agent.rig}/${agent.name}` : agent.name;
}
