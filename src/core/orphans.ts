/**
 * Which sessions on the town's runtime belong to nobody (the Deacon reaps them; `gt doctor` reports them).
 * Pure. A session is owned when an agent row records it (`agents.session`) or when it carries the
 * deterministic name of an agent row's identity — a row is written before its session starts and its
 * `session` column only once the session runs, so the name alone must protect a session being started.
 * A session younger than the grace period is left alone as well (something may be about to record it).
 */
export interface AgentSessionOwner {
  session: string | null;
  /** sessionName(row): the name its sessions always get. */
  expected: string;
}

export interface LiveSession {
  name: string;
  /** ms since the epoch when the session was created, if known. */
  created_at: number | null;
}

export function ownedSessionNames(agents: readonly AgentSessionOwner[]): Set<string> {
  const owned = new Set<string>();
  for (const agent of agents) {
    owned.add(agent.expected);
    if (agent.session) owned.add(agent.session);
  }
  return owned;
}

export function orphanSessions(
  live: readonly LiveSession[],
  owned: ReadonlySet<string>,
  now: number,
  graceMs: number,
): string[] {
  return live
    .filter((s) => !owned.has(s.name))
    .filter((s) => s.created_at === null || now - s.created_at >= graceMs)
    .map((s) => s.name);
}
