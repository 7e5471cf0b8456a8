/** Who is acting: --actor, then BD_ACTOR (BEADS_ACTOR for beads users), then GT_AGENT, then the OS user. */
export function resolveActor(env: NodeJS.ProcessEnv, osUser: () => string, flag?: string): string {
  const candidates = [flag, env.BD_ACTOR, env.BEADS_ACTOR, env.GT_AGENT];
  for (const candidate of candidates) {
    const trimmed = candidate?.trim();
    if (trimmed) return trimmed;
  }
  try {
    return osUser() || 'unknown';
  } catch {
    return 'unknown';
  }
}
