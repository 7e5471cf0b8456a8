import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { groupAlive } from '../../src/refinery/gate-runner';
import { GT_BIN } from '../helpers/gt';
import { makeRefineryTown, moveMainElsewhere, type RefineryTown } from '../helpers/refinery-fixtures';
import { until } from '../helpers/wait';

/**
 * The Refinery (issue 7) on real repos with a real gate script whose verdict the test controls
 * (test/helpers/refinery-fixtures.ts). After every test: every commit on main's first-parent chain passed
 * the gate (gate.log), i.e. main was always green. Requires `npm run build` (the kill tests run bin/gt.js).
 */
async function withTown(fn: (t: RefineryTown) => Promise<void>): Promise<void> {
  const t = await makeRefineryTown();
  try {
    await fn(t);
  } finally {
    t.cleanup();
  }
}

function events(t: RefineryTown, mr: number): string[] {
  return (
    t.store.db.prepare('SELECT event FROM mr_events WHERE mr_id = ? ORDER BY id').all(mr) as Array<{
      event: string;
    }>
  ).map((e) => e.event);
}

function countOnFirstParents(t: RefineryTown, sha: string): number {
  return t.firstParents().filter((s) => s === sha).length;
}

describe('refinery: batches, bisection, landing', { concurrency: 2 }, () => {
  test('an all-green batch lands in one gate run; beads closed, checkout and branch removed', async () => {
    await withTown(async (t) => {
      const mrs = [];
      for (let i = 0; i < 3; i++) mrs.push(await t.addMr({ name: `g${i}` }));
      const withPolecat = await t.addMr({ name: 'toast', polecat: true });
      mrs.push(withPolecat);
      await t.refinery().drain();
      assert.equal(t.gateRuns(), 1, 'one gate run for the whole batch');
      const main = t.main();
      assert.equal(t.firstParents().length, 1);
      for (const m of mrs) {
        const row = t.mr(m.mr);
        assert.equal(row.state, 'merged');
        assert.equal(row.merged_sha, main);
        assert.equal(row.followup, 'done');
        const bead = t.store.get(m.bead)!;
        assert.equal(bead.status, 'closed');
        assert.equal(bead.close_reason, `merged in ${main}`);
        assert.deepEqual(events(t, m.mr).slice(0, 6), [
          'created',
          'accepted',
          'sheriff-skipped',
          'batched',
          'tested',
          'landed',
        ]);
        // The polecat's commit is reachable from main (a merge, not a rewrite).
        t.sb.git(['merge-base', '--is-ancestor', m.head, 'refs/heads/main'], t.bare);
        assert.notEqual(
          t.sb.gitRun(['rev-parse', '--verify', '--quiet', `refs/heads/${m.branch}`], t.bare).code,
          0,
          'branch deleted',
        );
      }
      assert.equal(existsSync(join(t.town, 'rigs', 'app', 'polecats', 'toast')), false, 'checkout removed');
      const agent = t.store.db
        .prepare("SELECT state, hooked_bead FROM agents WHERE id = 'app/toast'")
        .get() as {
        state: string;
        hooked_bead: string | null;
      };
      assert.deepEqual(agent, { state: 'idle', hooked_bead: null });
      t.assertMainGreen();
    });
  });

  test('a merged branch that moved after it was batched keeps its new commits; the others are deleted', async () => {
    await withTown(async (t) => {
      const a = await t.addMr({ name: 'moved' });
      const b = await t.addMr({ name: 'still' });
      // Before the landing, the polecat pushes one more commit onto a's branch: a's MR lands its old head.
      const later = join(t.sb.dir, 'later');
      t.sb.git(['clone', '--quiet', '--branch', a.branch, t.bare, later], t.sb.dir);
      writeFileSync(join(later, 'later.txt'), 'not merged yet\n');
      t.sb.git(['add', '-A'], later);
      t.sb.git(['commit', '--quiet', '-m', 'later work'], later);
      const newer = t.sb.git(['rev-parse', 'HEAD'], later);
      await t
        .refinery({
          hooks: {
            beforeLand: () => void t.sb.git(['push', '--quiet', 'origin', `HEAD:${a.branch}`], later),
          },
        })
        .drain();
      assert.equal(t.mr(a.mr).state, 'merged');
      assert.equal(t.mr(b.mr).state, 'merged');
      assert.equal(
        t.sb.git(['rev-parse', `refs/heads/${a.branch}`], t.bare),
        newer,
        'the moved branch is kept with its unmerged commit',
      );
      assert.notEqual(
        t.sb.gitRun(['rev-parse', '--verify', '--quiet', `refs/heads/${b.branch}`], t.bare).code,
        0,
      );
      const detail = (id: number) =>
        (
          t.store.db
            .prepare("SELECT detail FROM mr_events WHERE mr_id = ? AND event = 'closed-bead'")
            .get(id) as { detail: string }
        ).detail;
      assert.match(detail(a.mr), /branch kept \(moved or gone\)/);
      assert.match(detail(b.mr), /branch deleted/);
      t.assertMainGreen();
    });
  });

  test('one culprit among 8: isolated by bisection, the other 7 land; bead back to its polecat with the log', async () => {
    await withTown(async (t) => {
      t.configure({ extra: '[refinery]\nbatch_min = 8\nbatch_max = 8\nmax_rework = 1' });
      const mrs = [];
      for (let i = 0; i < 8; i++)
        mrs.push(await t.addMr({ name: `m${i}`, broken: i === 5, polecat: i === 5 }));
      const passes = await t.refinery().drain();
      const culprit = mrs[5]!;
      assert.equal(t.mr(culprit.mr).state, 'rejected');
      assert.equal(t.mr(culprit.mr).rejected_reason, 'gate-failed');
      for (const [i, m] of mrs.entries()) if (i !== 5) assert.equal(t.mr(m.mr).state, 'merged', `MR ${i}`);
      const batches = passes.flatMap((p) => p.batches);
      // The green half lands as soon as it passed; the rest continues with the red verdict carried over
      // (4✗ there is the parent's 8✗: the same trees), so the culprit is isolated without re-running it.
      assert.equal(batches[0]!.path, '8✗ 4✓ ⇒ land 4, the rest continues on it');
      assert.deepEqual(
        batches[0]!.landed,
        mrs.slice(0, 4).map((m) => m.mr),
      );
      assert.equal(batches[1]!.path, '4✗ 2✗ 1✓ ⇒ land 1, reject #2, requeue 2');
      assert.equal(t.gateRuns(), 5, '4 runs to isolate, 1 for the requeued pair');
      assert.equal(t.firstParents().length, 3, 'the early landing, the prefix before the culprit, the pair');
      const carried = t.store.db
        .prepare("SELECT count(*) AS n FROM mr_events WHERE event = 'carried'")
        .get() as { n: number };
      assert.equal(carried.n, 4, 'the four MRs after the early landing moved to the continued batch');
      // The bead went back to the polecat, with mail carrying the reason and the fenced end of the log.
      assert.equal(t.store.get(culprit.bead)!.status, 'hooked');
      const mail = t.store.db
        .prepare("SELECT subject, body FROM messages WHERE to_addr = 'app/m5' ORDER BY id DESC LIMIT 1")
        .get() as { subject: string; body: string };
      assert.match(mail.subject, /rejected \(gate-failed\)/);
      assert.match(mail.body, /UNTRUSTED DATA/);
      assert.match(mail.body, /BROKEN is present/);
      // max_rework = 1: escalated.
      const esc = t.store.db
        .prepare('SELECT severity FROM escalations WHERE bead_id = ?')
        .get(culprit.bead) as { severity: string } | undefined;
      assert.equal(esc?.severity, 'HIGH');
      // The polecat's checkout holds unmerged work: kept.
      assert.ok(existsSync(join(t.town, 'rigs', 'app', 'polecats', 'm5')));
      t.assertMainGreen();
    });
  });

  test('two culprits: both isolated, the other 6 land', async () => {
    await withTown(async (t) => {
      t.configure({ extra: '[refinery]\nbatch_min = 8\nbatch_max = 8' });
      const mrs = [];
      for (let i = 0; i < 8; i++) mrs.push(await t.addMr({ name: `m${i}`, broken: i === 2 || i === 6 }));
      await t.refinery().drain();
      for (const [i, m] of mrs.entries()) {
        assert.equal(t.mr(m.mr).state, i === 2 || i === 6 ? 'rejected' : 'merged', `MR ${i}`);
      }
      assert.equal(t.store.get(mrs[2]!.bead)!.status, 'open', 'no polecat: back to open');
      t.assertMainGreen();
    });
  });

  test('a conflicting MR is rejected as conflict and the batch goes on without it', async () => {
    await withTown(async (t) => {
      const a = await t.addMr({ name: 'a', files: { 'shared.txt': 'from a\n' } });
      const b = await t.addMr({ name: 'b', files: { 'shared.txt': 'from b\n' } });
      const c = await t.addMr({ name: 'c' });
      await t.refinery().drain();
      assert.equal(t.mr(a.mr).state, 'merged');
      assert.deepEqual([t.mr(b.mr).state, t.mr(b.mr).rejected_reason], ['rejected', 'conflict']);
      assert.equal(t.mr(c.mr).state, 'merged');
      assert.equal(t.gateRuns(), 1);
      t.assertMainGreen();
    });
  });

  test('a flaky gate that passes on retry lands the batch, nobody rejected', async () => {
    await withTown(async (t) => {
      writeFileSync(join(t.dir, 'flake-once'), '');
      const mrs = [await t.addMr({ name: 'a' }), await t.addMr({ name: 'b' })];
      const passes = await t.refinery().drain();
      for (const m of mrs) assert.equal(t.mr(m.mr).state, 'merged');
      // 2✗ (the flake) 1✓: #1 lands early; #2 carries the red run, which its retry does not reproduce.
      const outcomes = passes.flatMap((p) => p.batches.map((b) => b.outcome));
      assert.ok(
        outcomes.some((o) => /flake/.test(o)),
        outcomes.join('; '),
      );
      assert.equal(
        t.store.db.prepare("SELECT count(*) AS n FROM merge_requests WHERE state = 'rejected'").pluck().get(),
        0,
      );
      t.assertMainGreen();
    });
  });

  test('a hanging gate times out (process group killed) → gate-error; the innocent land', async () => {
    await withTown(async (t) => {
      t.configure({ gateTimeout: '1s' });
      const a = await t.addMr({ name: 'a' });
      const h = await t.addMr({ name: 'h', hang: true });
      const started = Date.now();
      await t.refinery().drain();
      assert.ok(Date.now() - started < 30_000, 'the hang was cut short');
      assert.equal(t.mr(a.mr).state, 'merged');
      assert.deepEqual([t.mr(h.mr).state, t.mr(h.mr).rejected_reason], ['rejected', 'gate-error']);
      const err = t.store.db.prepare("SELECT error FROM gate_runs WHERE state = 'error' LIMIT 1").get() as {
        error: string;
      };
      assert.match(err.error, /timed out/);
      for (const r of t.store.db.prepare('SELECT pid FROM gate_runs WHERE pid IS NOT NULL').all() as Array<{
        pid: number;
      }>) {
        assert.equal(groupAlive(r.pid), false, 'no gate process outlives its run');
      }
      t.assertMainGreen();
    });
  });

  test('a missing gate command (exit 127) is gate-error, never landed', async () => {
    await withTown(async (t) => {
      t.configure({ gate: 'gt-no-such-command-anywhere --run' });
      const before = t.main();
      const a = await t.addMr({ name: 'a' });
      const b = await t.addMr({ name: 'b' });
      await t.refinery().drain();
      assert.equal(t.main(), before, 'main did not move');
      for (const m of [a, b])
        assert.deepEqual([t.mr(m.mr).state, t.mr(m.mr).rejected_reason], ['rejected', 'gate-error']);
      const err = t.store.db.prepare("SELECT error FROM gate_runs WHERE state = 'error' LIMIT 1").get() as {
        error: string;
      };
      assert.match(err.error, /127/);
    });
  });

  test('an argv gate runs without a shell: its arguments arrive literally; green lands, red is rejected', async () => {
    await withTown(async (t) => {
      // Each argument would do something if a shell ever saw it: run a command, expand, split, glob.
      const pwned = join(t.dir, 'PWNED');
      const hostile = [
        `a;touch ${pwned}-semicolon`,
        `$(touch ${pwned}-subst)`,
        `\`touch ${pwned}-backtick\``,
        'two words * $HOME',
        'it\'s "quoted"',
      ];
      const argvLog = join(t.dir, 'argv.log');
      const gate = join(t.dir, 'argv-gate.sh');
      // Records its argv (one NUL-terminated argument each, then a record separator), then the usual gate.
      writeFileSync(
        gate,
        `#!/bin/sh\nfor a in "$@"; do printf '%s\\0' "$a"; done >> ${JSON.stringify(argvLog)}\nprintf '\\n' >> ${JSON.stringify(argvLog)}\nexec sh ${JSON.stringify(join(t.dir, 'gate.sh'))}\n`,
        { mode: 0o755 },
      );
      t.configure({ gate: [gate, ...hostile], sheriff: ['test', '!', '-e', 'LINT_FAIL'] });
      const show = await t.sb.gt(['rig', 'show', 'app'], { cwd: t.town });
      assert.equal(show.code, 0, show.stderr);
      assert.ok(show.stdout.includes(`gate            ${JSON.stringify([gate, ...hostile])}`), show.stdout);
      assert.ok(show.stdout.includes('sheriff         ["test","!","-e","LINT_FAIL"]'), show.stdout);

      const good = await t.addMr({ name: 'good' });
      await t.refinery().drain();
      assert.equal(t.mr(good.mr).state, 'merged', 'a passing argv gate lands');
      assert.equal(t.main(), t.mr(good.mr).merged_sha);
      const lint = await t.addMr({ name: 'lint', files: { LINT_FAIL: 'x\n' } });
      const bad = await t.addMr({ name: 'bad', broken: true });
      await t.refinery().drain();
      assert.deepEqual([t.mr(lint.mr).state, t.mr(lint.mr).rejected_reason], ['rejected', 'sheriff-failed']);
      assert.deepEqual([t.mr(bad.mr).state, t.mr(bad.mr).rejected_reason], ['rejected', 'gate-failed']);
      assert.equal(t.main(), t.mr(good.mr).merged_sha, 'a failing argv gate lands nothing');

      const runs = readFileSync(argvLog, 'utf8').split('\n').filter(Boolean);
      assert.ok(runs.length >= 2, `the gate ran for the green and the red MR (${runs.length} runs)`);
      for (const run of runs)
        assert.deepEqual(run.split('\0').slice(0, -1), hostile, 'argv passed literally');
      for (const suffix of ['semicolon', 'subst', 'backtick'])
        assert.equal(existsSync(`${pwned}-${suffix}`), false, `no shell ran the ${suffix} payload`);
      t.assertMainGreen();
    });
  });

  test('the Sheriff bounces a failing MR without costing a batch run', async () => {
    await withTown(async (t) => {
      t.configure({ sheriff: 'test ! -e LINT_FAIL' });
      const bad = await t.addMr({ name: 'bad', files: { LINT_FAIL: 'x\n' } });
      const good = await t.addMr({ name: 'good' });
      await t.refinery().drain();
      assert.deepEqual([t.mr(bad.mr).state, t.mr(bad.mr).rejected_reason], ['rejected', 'sheriff-failed']);
      assert.equal(t.mr(good.mr).state, 'merged');
      assert.equal(t.gateRuns(), 1, 'only the good MR reached the gate');
      t.assertMainGreen();
    });
  });

  test('main moved by another writer during the test: the CAS fails, the batch is retested on the new main', async () => {
    await withTown(async (t) => {
      const a = await t.addMr({ name: 'a' });
      const b = await t.addMr({ name: 'b' });
      let other = '';
      const passes = await t
        .refinery({
          hooks: {
            beforeLand: () => {
              if (!other) other = moveMainElsewhere(t, 'other.txt');
            },
          },
        })
        .drain();
      assert.ok(other);
      assert.equal(passes[0]!.batches[0]!.outcome, 'main moved: retest');
      for (const m of [a, b]) assert.equal(t.mr(m.mr).state, 'merged');
      assert.equal(t.gateRuns(), 2, 'tested again on the new main');
      const main = t.main();
      t.sb.git(['merge-base', '--is-ancestor', other, main], t.bare);
      assert.ok(t.passed().has(main), 'main is exactly a tested commit');
      t.assertMainGreen([other]);
    });
  });
});

describe('refinery: speculative parallel gate runs (gate_parallelism)', { concurrency: 2 }, () => {
  /** The controlled gate, wrapped to log "start|end <sha> <ns>" so overlapping runs can be proven. */
  const timedGate = (t: RefineryTown) => {
    const times = join(t.dir, 'times.log');
    const stamp = (what: string) => `echo "${what} $(git rev-parse HEAD) $(date +%s%N)" >> ${times}`;
    return {
      times,
      gate: `${stamp('start')}; sh ${join(t.dir, 'gate.sh')}; rc=$?; ${stamp('end')}; exit $rc`,
    };
  };
  const intervals = (times: string) => {
    const byRun: Array<{ sha: string; start: bigint; end: bigint }> = [];
    const open: Array<{ sha: string; start: bigint }> = [];
    for (const line of readFileSync(times, 'utf8').split('\n').filter(Boolean)) {
      const [what, sha, ns] = line.split(' ') as [string, string, string];
      if (what === 'start') open.push({ sha, start: BigInt(ns) });
      else {
        const i = open.findIndex((o) => o.sha === sha);
        byRun.push({ sha, start: open[i]!.start, end: BigInt(ns) });
        open.splice(i, 1);
      }
    }
    return byRun;
  };
  const overlapping = (runs: ReturnType<typeof intervals>) => {
    let n = 0;
    for (const [i, a] of runs.entries())
      for (const b of runs.slice(i + 1)) if (a.start < b.end && b.start < a.end) n++;
    return n;
  };

  test('healthy branches: batches stacked on each other run at the same time and land in one pass', async () => {
    await withTown(async (t) => {
      const { times, gate } = timedGate(t);
      // A barrier, not a clock: each run waits until all three have started (a minute at most, then it
      // fails). Run one after another, the first would never see the others and the batch would be red.
      const barrier = `n=0; while [ "$(grep -c '^start' ${times})" -lt 3 ]; do n=$((n+1)); [ $n -gt 600 ] && exit 1; sleep 0.1; done`;
      const gated = gate.replace('; sh ', `; ${barrier}; sh `);
      assert.notEqual(gated, gate);
      t.configure({ gate: gated, extra: '[refinery]\nbatch_min = 2\nbatch_max = 2\ngate_parallelism = 3' });
      writeFileSync(join(t.dir, 'sleep'), '1');
      const mrs = [];
      for (let i = 0; i < 6; i++) mrs.push(await t.addMr({ name: `s${i}` }));
      const passes = await t.refinery().drain();
      for (const m of mrs) assert.equal(t.mr(m.mr).state, 'merged');
      assert.equal(t.gateRuns(), 3, 'one run per batch of 2, all three at once');
      const runs = intervals(times);
      assert.equal(runs.length, 3);
      assert.equal(overlapping(runs), 3, 'every pair of the three gate runs overlapped in time');
      assert.deepEqual(
        passes[0]!.batches.map((b) => b.landed.length),
        [2, 2, 2],
        'the three batches landed in the first pass',
      );
      // main's first-parent chain is exactly the three tested candidates, each on the one before.
      assert.equal(t.firstParents().length, 3);
      assert.equal(t.firstParents()[0], t.main());
      t.assertMainGreen();
    });
  });

  test('a culprit in the head batch: speculation discarded and retested, parallel bisection, main only holds tested commits', async () => {
    await withTown(async (t) => {
      const { times, gate } = timedGate(t);
      t.configure({
        gate,
        extra: '[refinery]\nbatch_min = 4\nbatch_max = 4\ngate_parallelism = 3\nparallel_bisection = true',
      });
      // Runs of one round start within moments of each other; 2 s keeps them overlapping on a loaded box.
      writeFileSync(join(t.dir, 'sleep'), '2');
      const mrs: Array<Awaited<ReturnType<RefineryTown['addMr']>>> = [];
      for (let i = 0; i < 8; i++) mrs.push(await t.addMr({ name: `c${i}`, broken: i === 2 }));
      const passes = await t.refinery().drain();
      for (const [i, m] of mrs.entries()) {
        assert.equal(t.mr(m.mr).state, i === 2 ? 'rejected' : 'merged', `MR ${i}`);
      }
      const batches = passes.flatMap((p) => p.batches);
      assert.ok(
        batches.some((b) => b.outcome === 'speculation discarded: requeued' && b.gateRuns === 1),
        'the batch stacked on the red head was discarded (its run counted)',
      );
      // The head's bisection ran its probes in parallel: 4✗, then 1, 2 and 3 at once (recorded in the order
      // they started); the culprit is #3, prefix 2 (tested green itself) lands.
      const path = batches.find((b) => b.members.includes(mrs[0]!.mr) && b.outcome === 'decided')!.path;
      assert.match(path, /^4✗ .* ⇒ land 2, reject #3, requeue 1$/);
      assert.deepEqual(path.split(' ').slice(1, 4).sort(), ['1✓', '2✓', '3✗']);
      assert.ok(overlapping(intervals(times)) >= 2, 'gate runs overlapped');
      assert.equal(t.gateRuns(), intervals(times).length, 'every run, discarded or not, is in the gate log');
      t.assertMainGreen();
    });
  });
});

describe('refinery: red batches bisected beside the main flow', () => {
  test('a likely-red head gets a sibling on main: the green sibling lands at once, the head is bisected on its old base', async () => {
    await withTown(async (t) => {
      // No history: f = 0.1, b = 7, the head is red with p = 0.52 and stacking is off (green p = 0.48 < 0.65).
      t.configure({ extra: '[refinery]\nbatch_min = 7\nbatch_max = 7\ngate_parallelism = 2' });
      const mrs: Array<Awaited<ReturnType<RefineryTown['addMr']>>> = [];
      for (let i = 0; i < 14; i++) mrs.push(await t.addMr({ name: `s${i}`, broken: i === 1 }));
      const passes = await t.refinery().drain();
      for (const [i, m] of mrs.entries())
        assert.equal(t.mr(m.mr).state, i === 1 ? 'rejected' : 'merged', `MR ${i}`);
      const batches = passes.flatMap((p) => p.batches);
      // The sibling (MRs 8..14) landed first, in the first round, on the main both were built on.
      const sibling = batches.find((b) => b.members.includes(mrs[7]!.mr))!;
      assert.deepEqual(
        sibling.landed,
        mrs.slice(7).map((m) => m.mr),
      );
      assert.equal(
        t.firstParents().at(-1),
        sibling.landedSha,
        "the sibling's candidate is main's first landing",
      );
      const runs = t.store.db
        .prepare("SELECT reason FROM gate_runs WHERE kind = 'gate' ORDER BY id LIMIT 2")
        .all() as Array<{ reason: string }>;
      assert.deepEqual(runs.map((r) => r.reason).sort(), ['batch', 'sibling']);
      // The head was bisected on its base, by then an older main: the culprit is rejected, nothing of the
      // head lands from there, the innocents are retested on the new main and land.
      const head = batches.find((b) => b.members.includes(mrs[0]!.mr) && b.rejected.length > 0)!;
      assert.match(head.outcome, /an older main/);
      assert.deepEqual(head.rejected, [mrs[1]!.mr]);
      assert.deepEqual(head.landed, []);
      t.assertMainGreen();
    });
  });
});

describe('refinery: the work loop', () => {
  test('MRs recorded by the real gt done flow through the Sheriff and the Refinery to main', async () => {
    await withTown(async (t) => {
      t.configure({ sheriff: 'test ! -e LINT_FAIL' });
      const good = await t.addMr({ name: 'nux', polecat: true, viaDone: true });
      const bad = await t.addMr({ name: 'rictus', polecat: true, viaDone: true, broken: true });
      assert.equal(t.store.get(good.bead)!.status, 'in_review');
      const run = await t.sb.gtJson<{ landed: number[]; rejected: number[] }>(
        ['refinery', 'run', 'app', '--once'],
        {
          cwd: t.town,
        },
      );
      assert.deepEqual(run.landed, [good.mr]);
      assert.deepEqual(run.rejected, [bad.mr]);
      assert.equal(t.store.get(good.bead)!.status, 'closed');
      assert.equal(existsSync(join(t.town, 'rigs', 'app', 'polecats', 'nux')), false);
      assert.equal(t.store.get(bad.bead)!.status, 'hooked');
      assert.ok(existsSync(join(t.town, 'rigs', 'app', 'polecats', 'rictus')), 'unmerged work kept');
      const inbox = await t.sb.gtJson<{ messages: Array<{ subject: string }> }>(['mail', 'inbox'], {
        cwd: join(t.town, 'rigs', 'app', 'polecats', 'rictus'),
        env: { GT_ROLE: 'polecat', GT_AGENT: 'app/rictus', GT_RIG: 'app' },
      } as { cwd: string });
      assert.ok(inbox.messages.some((m) => /rejected \(gate-failed\)/.test(m.subject)));
      t.assertMainGreen();
    });
  });
});

describe('refinery: crash safety (kill -9, restart converges)', { concurrency: 2 }, () => {
  const runGt = (t: RefineryTown, env: Record<string, string> = {}) =>
    spawn(process.execPath, [GT_BIN, 'refinery', 'run', 'app', '--once', '--json'], {
      cwd: t.town,
      env: { ...t.sb.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const finish = (child: ReturnType<typeof spawn>) =>
    new Promise<number | null>((done) => child.on('close', (code) => done(code)));

  test('kill -9 during the gate, then restart: the orphaned gate is killed, the batch re-tested and landed', async () => {
    await withTown(async (t) => {
      const mrs = [await t.addMr({ name: 'a' }), await t.addMr({ name: 'b' })];
      writeFileSync(join(t.dir, 'sleep'), '20');
      const child = runGt(t);
      await until('the gate to start', async () => existsSync(join(t.dir, 'started')), 30_000);
      child.kill('SIGKILL');
      await finish(child);
      const before = t.main();
      rmSync(join(t.dir, 'sleep'));
      const again = runGt(t);
      const code = await finish(again);
      assert.equal(code, 0);
      for (const m of mrs) assert.equal(t.mr(m.mr).state, 'merged');
      assert.notEqual(t.main(), before);
      const aborted = t.store.db.prepare("SELECT pid FROM gate_runs WHERE state = 'aborted'").all() as Array<{
        pid: number;
      }>;
      assert.equal(aborted.length, 1);
      assert.equal(groupAlive(aborted[0]!.pid), false, 'the orphaned gate process group was killed');
      t.assertMainGreen();
    });
  });

  test('kill -9 while three speculative gate runs are in flight, then restart: all killed, pipeline resumed, landed once', async () => {
    await withTown(async (t) => {
      t.configure({ extra: '[refinery]\nbatch_min = 2\nbatch_max = 2\ngate_parallelism = 3' });
      const mrs = [];
      for (let i = 0; i < 6; i++) mrs.push(await t.addMr({ name: `k${i}` }));
      writeFileSync(join(t.dir, 'sleep'), '20');
      const child = runGt(t);
      const running = () =>
        t.store.db
          .prepare("SELECT count(*) AS n FROM gate_runs WHERE state = 'running' AND pid IS NOT NULL")
          .get() as { n: number };
      await until('three gates to start', async () => running().n === 3, 30_000);
      child.kill('SIGKILL');
      await finish(child);
      const before = t.main();
      rmSync(join(t.dir, 'sleep'));
      const code = await finish(runGt(t));
      assert.equal(code, 0);
      for (const m of mrs) assert.equal(t.mr(m.mr).state, 'merged');
      assert.notEqual(t.main(), before);
      const aborted = t.store.db.prepare("SELECT pid FROM gate_runs WHERE state = 'aborted'").all() as Array<{
        pid: number;
      }>;
      assert.equal(aborted.length, 3);
      for (const a of aborted) assert.equal(groupAlive(a.pid), false, 'every orphaned gate group was killed');
      assert.equal(t.firstParents().length, 3, 'three tested candidates, each landed once');
      t.assertMainGreen();
    });
  });

  for (const point of ['refinery:before-cas', 'refinery:after-cas']) {
    test(`crash at ${point}, then restart: landed exactly once, no MR lost`, async () => {
      await withTown(async (t) => {
        const mrs = [
          await t.addMr({ name: 'a' }),
          await t.addMr({ name: 'b' }),
          await t.addMr({ name: 'c' }),
        ];
        const crashed = await finish(runGt(t, { GT_FAULT: point }));
        assert.equal(crashed, 86);
        const batch = t.store.db.prepare('SELECT state, landing_sha FROM mq_batches').get() as {
          state: string;
          landing_sha: string;
        };
        assert.equal(batch.state, 'landing', 'the landing intent was recorded before the push');
        assert.equal(t.main() === batch.landing_sha, point === 'refinery:after-cas');
        const code = await finish(runGt(t));
        assert.equal(code, 0);
        for (const m of mrs) assert.equal(t.mr(m.mr).state, 'merged');
        const main = t.main();
        assert.equal(main, batch.landing_sha, 'the tested candidate landed, not a rebuilt one');
        assert.equal(countOnFirstParents(t, main), 1);
        assert.equal(t.firstParents().length, 1, 'no double merge');
        assert.equal(t.gateRuns(), 1, 'no retest was needed: the candidate had passed');
        for (const m of mrs) assert.equal(t.store.get(m.bead)!.status, 'closed');
        t.assertMainGreen();
      });
    });
  }
});

describe('refinery: early landing survives a crash', () => {
  test('kill at the CAS of an early landing: on restart the landing is recorded once and the rest continues', async () => {
    await withTown(async (t) => {
      t.configure({ extra: '[refinery]\nbatch_min = 8\nbatch_max = 8' });
      const mrs = [];
      for (let i = 0; i < 8; i++) mrs.push(await t.addMr({ name: `e${i}`, broken: i === 6 }));
      const run = (env: Record<string, string> = {}) =>
        new Promise<number | null>((done) =>
          spawn(process.execPath, [GT_BIN, 'refinery', 'run', 'app', '--once', '--json'], {
            cwd: t.town,
            env: { ...t.sb.env, ...env },
            stdio: 'ignore',
          }).on('close', (code) => done(code)),
        );
      assert.equal(await run({ GT_FAULT: 'refinery:after-cas' }), 86);
      const first = t.store.db.prepare('SELECT state, landing_sha, outcome FROM mq_batches').get() as {
        state: string;
        landing_sha: string;
        outcome: string;
      };
      assert.equal(first.state, 'landing');
      assert.equal(t.main(), first.landing_sha, 'the early landing was pushed before the crash');
      assert.equal((JSON.parse(first.outcome) as { land: number }).land, 4);
      assert.equal(await run(), 0);
      for (const [i, m] of mrs.entries()) assert.equal(t.mr(m.mr).state, i === 6 ? 'rejected' : 'merged');
      const batches = t.store.db
        .prepare('SELECT id, parent_id, path FROM mq_batches ORDER BY id')
        .all() as Array<{
        id: number;
        parent_id: number | null;
        path: string;
      }>;
      assert.equal(batches[1]!.parent_id, batches[0]!.id, 'the rest continued as a child batch, once');
      assert.equal(batches.filter((b) => b.parent_id === batches[0]!.id).length, 1);
      assert.equal(countOnFirstParents(t, first.landing_sha), 1, 'the early landing is on main once');
      t.assertMainGreen();
    });
  });
});

describe('gt mq', () => {
  test('list, show, reject, cancel, retry', async () => {
    await withTown(async (t) => {
      const a = await t.addMr({ name: 'a' });
      const b = await t.addMr({ name: 'b' });
      const list = await t.sb.gtJson<Array<{ id: number; state: string }>>(['mq', 'list', 'app'], {
        cwd: t.town,
      });
      assert.deepEqual(
        list.map((m) => [m.id, m.state]),
        [
          [a.mr, 'queued'],
          [b.mr, 'queued'],
        ],
      );
      const rejected = await t.sb.gtJson<{ state: string; rejected_reason: string }>(
        ['mq', 'reject', String(a.mr), '--reason', 'not like this'],
        { cwd: t.town },
      );
      assert.deepEqual([rejected.state, rejected.rejected_reason], ['rejected', 'rejected']);
      const cancelled = await t.sb.gtJson<{ rejected_reason: string }>(['mq', 'cancel', `#${b.mr}`], {
        cwd: t.town,
      });
      assert.equal(cancelled.rejected_reason, 'cancelled');
      const again = await t.sb.gt(['mq', 'cancel', String(b.mr), '--json'], { cwd: t.town });
      assert.equal(again.code, 1);
      assert.match(again.stderr + again.stdout, /GT_E_MR_STATE/);
      const retried = await t.sb.gtJson<{ state: string }>(['mq', 'retry', String(a.mr)], { cwd: t.town });
      assert.equal(retried.state, 'queued');
      const run = await t.sb.gtJson<{ landed: number[] }>(['refinery', 'run', 'app', '--once'], {
        cwd: t.town,
      });
      assert.deepEqual(run.landed, [a.mr]);
      const show = await t.sb.gtJson<{ state: string; events: Array<{ event: string }>; runs: unknown[] }>(
        ['mq', 'show', String(a.mr)],
        { cwd: t.town },
      );
      assert.equal(show.state, 'merged');
      assert.deepEqual(
        show.events.map((e) => e.event),
        [
          'created',
          'rejected',
          'retry',
          'accepted',
          'sheriff-skipped',
          'batched',
          'tested',
          'landed',
          'closed-bead',
        ],
      );
      assert.equal(show.runs.length, 1);
      const text = await t.sb.gt(['mq', 'list', '--all'], { cwd: t.town });
      assert.equal(text.code, 0);
      assert.match(text.stdout, /merged/);
      const missing = await t.sb.gt(['mq', 'show', '999'], { cwd: t.town });
      assert.match(missing.stderr, /GT_E_MR_NOT_FOUND/);
      assert.ok(readFileSync(t.gateLog, 'utf8').length > 0);
      t.assertMainGreen();
    });
  });
});
