import { execFileSync } from 'node:child_process';
import { type Db, prepared } from '../ledger/open';
import type { DemoBead } from './plan';

/**
 * What `gt demo` claims, checked against the ledger and the repository after the run: collectDemoFacts
 * reads (I/O), judgeDemo decides (pure), so each claim is tested on its own.
 */
export interface DemoFacts {
  beadIds: string[];
  mergedBeads: string[];
  convoyLanded: boolean;
  mainGreen: boolean;
  mainSha: string;
  /** main's sha before the demo (the sample project's first commit). */
  initialSha: string;
  /** Every sha main was moved to, in order, and whether a passing gate run exists for it. */
  landings: Array<{ sha: string; tested: boolean }>;
  mergedMrs: number;
  rejectedMrs: number;
  gateRuns: number;
  sheriffRuns: number;
  batches: number;
  /** The bead scripted to break the tests once: its rejections (reasons) and whether it merged. */
  breaker: { bead: string; rejections: string[]; merged: boolean } | null;
  /** The bead whose worker hangs once: Witness recoveries recorded for it, and whether it merged. */
  hanger: { bead: string; recoveries: number; merged: boolean } | null;
  recoveries: string[];
  reworks: number;
  /** Dependencies where the dependent was first hooked before its blocker closed. */
  earlyStarts: Array<{ bead: string; blocker: string }>;
}

export interface DemoCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export function collectDemoFacts(
  db: Db,
  input: {
    rig: string;
    bare: string;
    beads: Map<string, string>;
    plan: readonly DemoBead[];
    convoy: string;
    mainGreen: boolean;
  },
): DemoFacts {
  const beadIds = [...input.beads.values()];
  const beadRow = prepared<
    [string],
    { status: string; close_reason: string | null; closed_at: number | null }
  >(db, 'SELECT status, close_reason, closed_at FROM beads WHERE id = ?');
  const merged = (id: string) => {
    const row = beadRow.get(id);
    return row?.status === 'closed' && (row.close_reason ?? '').startsWith('merged in ');
  };
  const mainSha = execFileSync('git', ['rev-parse', 'refs/heads/main'], {
    cwd: input.bare,
    encoding: 'utf8',
  }).trim();
  const initialSha = execFileSync('git', ['rev-list', '--max-parents=0', 'refs/heads/main'], {
    cwd: input.bare,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')[0]!;
  const landings = prepared<[string], { sha: string; tested: number }>(
    db,
    `SELECT b.landing_sha AS sha, EXISTS (SELECT 1 FROM gate_runs g WHERE g.rig = b.rig AND g.kind = 'gate'
        AND g.candidate_sha = b.landing_sha AND g.state = 'pass') AS tested
       FROM mq_batches b WHERE b.rig = ? AND b.state = 'done' AND b.landing_sha IS NOT NULL ORDER BY b.id`,
  )
    .all(input.rig)
    .map((r) => ({ sha: r.sha, tested: r.tested === 1 }));
  const count = (sql: string) => prepared<[string], { n: number }>(db, sql).get(input.rig)!.n;
  const keyOf = (fault: string) => input.plan.find((b) => b.fault === fault)?.key;
  const breakerKey = keyOf('breaks-tests-once');
  const hangerKey = keyOf('hangs-once');
  const breakerId = breakerKey ? input.beads.get(breakerKey) : undefined;
  const hangerId = hangerKey ? input.beads.get(hangerKey) : undefined;
  const recoveryRows = prepared<[], { bead: string | null; kind: string }>(
    db,
    "SELECT bead, kind FROM activity WHERE kind IN ('witness-restart','witness-zombie') ORDER BY id",
  ).all();
  const firstHooked = prepared<[string], { t: number | null }>(
    db,
    'SELECT min(started_at) AS t FROM agent_history WHERE bead_id = ?',
  );
  const earlyStarts: DemoFacts['earlyStarts'] = [];
  for (const bead of input.plan) {
    const id = input.beads.get(bead.key)!;
    const started = firstHooked.get(id)?.t ?? null;
    for (const dep of bead.dependsOn) {
      const blocker = input.beads.get(dep)!;
      const closedAt = beadRow.get(blocker)?.closed_at ?? null;
      if (started !== null && (closedAt === null || started < closedAt))
        earlyStarts.push({ bead: id, blocker });
    }
  }
  return {
    beadIds,
    mergedBeads: beadIds.filter(merged),
    convoyLanded:
      prepared<[string], { status: string }>(db, 'SELECT status FROM convoys WHERE id = ?').get(input.convoy)
        ?.status === 'landed',
    mainGreen: input.mainGreen,
    mainSha,
    initialSha,
    landings,
    mergedMrs: count("SELECT count(*) AS n FROM merge_requests WHERE rig = ? AND state = 'merged'"),
    rejectedMrs: count("SELECT count(*) AS n FROM merge_requests WHERE rig = ? AND state = 'rejected'"),
    gateRuns: count("SELECT count(*) AS n FROM gate_runs WHERE rig = ? AND kind = 'gate'"),
    sheriffRuns: count("SELECT count(*) AS n FROM gate_runs WHERE rig = ? AND kind = 'sheriff'"),
    batches: count("SELECT count(*) AS n FROM mq_batches WHERE rig = ? AND state = 'done'"),
    breaker: breakerId
      ? {
          bead: breakerId,
          rejections: prepared<[string], { r: string }>(
            db,
            "SELECT rejected_reason AS r FROM merge_requests WHERE bead_id = ? AND state = 'rejected' ORDER BY id",
          )
            .all(breakerId)
            .map((r) => r.r),
          merged: merged(breakerId),
        }
      : null,
    hanger: hangerId
      ? {
          bead: hangerId,
          recoveries: recoveryRows.filter((r) => r.bead === hangerId).length,
          merged: merged(hangerId),
        }
      : null,
    recoveries: recoveryRows.map((r) => `${r.kind} ${r.bead ?? ''}`.trim()),
    reworks: prepared<[], { n: number }>(
      db,
      "SELECT count(*) AS n FROM activity WHERE kind = 'witness-rework'",
    ).get()!.n,
    earlyStarts,
  };
}

export function judgeDemo(f: DemoFacts): DemoCheck[] {
  const checks: DemoCheck[] = [];
  const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const missing = f.beadIds.filter((id) => !f.mergedBeads.includes(id));
  add(
    'every bead merged',
    missing.length === 0,
    missing.length === 0
      ? `${f.mergedBeads.length}/${f.beadIds.length} closed as merged`
      : `not merged: ${missing.join(', ')}`,
  );
  add('the convoy landed', f.convoyLanded, f.convoyLanded ? 'all members merged' : 'still open');
  add(
    'main is green',
    f.mainGreen,
    f.mainGreen ? `the test suite passes on ${f.mainSha.slice(0, 12)}` : 'the test suite fails on main',
  );
  const untested = f.landings.filter((l) => !l.tested);
  const expectedMain = f.landings.length > 0 ? f.landings[f.landings.length - 1]!.sha : f.initialSha;
  add(
    'main only ever moved to tested commits',
    untested.length === 0 && f.mainSha === expectedMain,
    untested.length > 0
      ? `landed without a passing gate run: ${untested.map((l) => l.sha.slice(0, 12)).join(', ')}`
      : f.mainSha !== expectedMain
        ? `main is ${f.mainSha.slice(0, 12)}, not the last tested landing ${expectedMain.slice(0, 12)}`
        : `${f.landings.length} landings, each a commit that passed the gate`,
  );
  if (f.breaker) {
    const caught = f.breaker.rejections.some((r) => r === 'gate-failed');
    add(
      'the test-breaking branch was isolated, sent back and fixed on rework',
      caught && f.breaker.merged,
      `${f.breaker.bead}: rejected ${f.breaker.rejections.length}× (${f.breaker.rejections.join(', ') || 'never'}), ${f.breaker.merged ? 'then merged' : 'not merged'}`,
    );
  }
  if (f.hanger) {
    add(
      'the hung worker was recovered by the Witness',
      f.hanger.recoveries > 0 && f.hanger.merged,
      `${f.hanger.bead}: ${f.hanger.recoveries} recovery restart(s), ${f.hanger.merged ? 'then merged' : 'not merged'}`,
    );
  }
  add(
    'dependent beads started only after their blockers merged',
    f.earlyStarts.length === 0,
    f.earlyStarts.length === 0
      ? 'every dependency respected'
      : f.earlyStarts.map((e) => `${e.bead} started before ${e.blocker} merged`).join('; '),
  );
  return checks;
}
