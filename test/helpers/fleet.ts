import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { DaemonTown } from './daemon-town';

/**
 * A fleet workload for the daemon: `chains` independent chains of `depth` beads each (bead k of a chain
 * depends on bead k-1), all in one convoy, so the scheduler feeds each chain's next bead as its blocker
 * merges. Beads use the sim agent's default script (each writes its own file: no conflicts).
 */
export interface Fleet {
  ids: string[];
  deps: Array<{ bead: string; blocker: string }>;
  convoy: string;
  /** Beads on the longest dependency chain. */
  criticalPath: number;
}

/** Each bead's sim script: some work that takes a while (so the fleet overlaps), a file of its own, done. */
function fleetScript(workSeconds: number, file: string): string {
  return [
    '```sim',
    `sleep ${workSeconds}s`,
    `write ${file} "work"`,
    'commit "fleet work"',
    'done',
    '```',
  ].join('\n');
}

export async function createFleet(
  t: DaemonTown,
  chains: number,
  depth: number,
  workSeconds = 0,
): Promise<Fleet> {
  const ids: string[] = [];
  const deps: Fleet['deps'] = [];
  for (let c = 0; c < chains; c++) {
    let previous: string | null = null;
    for (let d = 0; d < depth; d++) {
      const id = await t.createBead(
        `Chain ${c} step ${d}`,
        workSeconds > 0 ? fleetScript(workSeconds, `sim/fleet-${c}-${d}.md`) : '',
      );
      if (previous) {
        const r = await t.bd(['dep', 'add', id, previous]);
        if (r.code !== 0) throw new Error(`bd dep add failed: ${r.stderr}`);
        deps.push({ bead: id, blocker: previous });
      }
      ids.push(id);
      previous = id;
    }
  }
  const convoy = await t.gtOk(['convoy', 'create', 'Fleet', ...ids]);
  return { ids, deps, convoy: convoy.id as string, criticalPath: depth };
}

export function mergedCount(t: DaemonTown, ids: readonly string[]): number {
  const list = ids.map(() => '?').join(',');
  return (
    t.ledger
      .prepare(
        `SELECT count(*) AS n FROM beads WHERE status = 'closed' AND close_reason LIKE 'merged in %' AND id IN (${list})`,
      )
      .get(...ids) as { n: number }
  ).n;
}

/** Every sha main moved to had a passing gate run, and main is the last of them. */
export function landingsTested(t: DaemonTown): { ok: boolean; landings: number; detail: string } {
  const rows = t.ledger
    .prepare(
      `SELECT b.landing_sha AS sha, EXISTS (SELECT 1 FROM gate_runs g WHERE g.candidate_sha = b.landing_sha
         AND g.kind = 'gate' AND g.state = 'pass') AS tested FROM mq_batches b WHERE b.state = 'done' ORDER BY b.id`,
    )
    .all() as Array<{ sha: string; tested: number }>;
  const untested = rows.filter((r) => r.tested !== 1);
  const main = t.mainSha();
  const last = rows[rows.length - 1]?.sha;
  return {
    ok: untested.length === 0 && rows.length > 0 && main === last,
    landings: rows.length,
    detail: `untested ${untested.map((r) => r.sha).join(',') || 'none'}; main ${main}; last landing ${last}`,
  };
}

/** Runs the sample project's test suite on a fresh clone of main. */
export function mainIsGreen(t: DaemonTown): boolean {
  const dir = join(t.dir, `verify-${Date.now()}`);
  execFileSync('git', ['clone', '--quiet', '--branch', 'main', t.bare, dir], { env: t.env, stdio: 'pipe' });
  try {
    execFileSync('sh', ['-c', 'node --test'], { cwd: dir, env: t.env, stdio: 'pipe', timeout: 120_000 });
    return true;
  } catch {
    return false;
  }
}

/** Dependencies whose dependent was hooked before its blocker closed (the scheduler must never do that). */
export function earlyStarts(t: DaemonTown, deps: Fleet['deps']): string[] {
  const started = t.ledger.prepare('SELECT min(started_at) AS t FROM agent_history WHERE bead_id = ?');
  const closed = t.ledger.prepare('SELECT closed_at AS t FROM beads WHERE id = ?');
  return deps
    .filter(({ bead, blocker }) => {
      const s = (started.get(bead) as { t: number | null }).t;
      const c = (closed.get(blocker) as { t: number | null }).t;
      return s !== null && (c === null || s < c);
    })
    .map(({ bead, blocker }) => `${bead} before ${blocker}`);
}
