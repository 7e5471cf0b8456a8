import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { GtError } from '../core/errors';
import { startDaemon, stopDaemon } from '../daemon/control';
import { type Db, openLedger, prepared } from '../ledger/open';
import { BeadStore } from '../ledger/store';
import { tmuxAvailable } from '../runtime/tmux';
import { createConvoy } from '../services/convoy';
import { setConfig } from '../town/config-edit';
import { installTown } from '../town/install';
import { townLayout } from '../town/layout';
import { addRig } from '../town/rigs';
import { townLedgerPath } from '../workspace/locate';
import { type DemoBead, demoDescription, demoPlan } from './plan';
import { SAMPLE_GATE, SAMPLE_SHERIFF, sampleProjectFiles } from './sample-project';
import { collectDemoFacts, type DemoCheck, judgeDemo } from './verify';

/**
 * `gt demo`: the whole factory on a fresh machine with no API key. A temporary town, the sample library as
 * a rig, a convoy of twelve beads with dependencies, simulated polecats under the daemon (scheduler,
 * Witness, Sheriff, Refinery); progress while it runs; a summary and a verdict at the end.
 */
export interface DemoOptions {
  agents: number;
  keep: boolean;
  dir?: string;
  timeoutMs: number;
  progress: (line: string) => void;
}

export interface DemoSummary {
  ok: boolean;
  town: string;
  kept: boolean;
  duration_ms: number;
  agents: number;
  beads: { total: number; merged: number };
  merge_requests: { merged: number; rejected: number };
  gate_runs: number;
  sheriff_runs: number;
  batches: number;
  recoveries: number;
  reworks: number;
  main: { sha: string; green: boolean };
  checks: DemoCheck[];
}

export const RIG = 'textkit';

const DEMO_IDENTITY = {
  GIT_AUTHOR_NAME: 'Gas Town Demo',
  GIT_AUTHOR_EMAIL: 'demo@gastown.invalid',
  GIT_COMMITTER_NAME: 'Gas Town Demo',
  GIT_COMMITTER_EMAIL: 'demo@gastown.invalid',
};

function gitCheck(): void {
  try {
    execFileSync('git', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new GtError('GT_E_TOOL_MISSING', 'git is not installed', {
      hint: 'install git (e.g. sudo apt-get install -y git), or run bash scripts/test.sh once, which installs it',
    });
  }
  if (!tmuxAvailable()) {
    throw new GtError('GT_E_TOOL_MISSING', 'tmux is not installed (the polecats run in tmux sessions)', {
      hint: 'install tmux (e.g. sudo apt-get install -y tmux), or run bash scripts/test.sh once, which installs it',
    });
  }
}

function makeSampleRepo(dir: string, env: NodeJS.ProcessEnv): void {
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(sampleProjectFiles())) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), content);
  }
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env, stdio: 'pipe' });
  git('init', '--quiet');
  git('symbolic-ref', 'HEAD', 'refs/heads/main');
  git('add', '-A');
  git('commit', '--quiet', '-m', 'textkit: a string library to grow');
}

function createBeads(store: BeadStore, plan: readonly DemoBead[]): Map<string, string> {
  const ids = new Map<string, string>();
  const prefix = store.rigPrefix(RIG);
  for (const bead of plan) {
    const created = store.create({
      title: bead.title,
      description: demoDescription(bead),
      priority: bead.priority,
      rig: RIG,
      prefix,
    });
    ids.set(bead.key, created.id);
    for (const dep of bead.dependsOn) store.addDependency(created.id, ids.get(dep)!, 'blocks');
  }
  return ids;
}

interface Counters {
  merged: number;
  total: number;
  working: number;
  queued: number;
  testing: number;
  gateRuns: number;
}

function counters(db: Db, beadIds: readonly string[]): Counters {
  const list = beadIds.map(() => '?').join(',');
  const merged = prepared<string[], { n: number }>(
    db,
    `SELECT count(*) AS n FROM beads WHERE status = 'closed' AND id IN (${list})`,
  ).get(...beadIds)!.n;
  const working = prepared<[string], { n: number }>(
    db,
    "SELECT count(*) AS n FROM agents WHERE rig = ? AND role = 'polecat' AND state IN ('starting','working','stalled')",
  ).get(RIG)!.n;
  const mq = prepared<[string], { state: string; n: number }>(
    db,
    "SELECT state, count(*) AS n FROM merge_requests WHERE rig = ? AND state NOT IN ('merged','rejected') GROUP BY state",
  ).all(RIG);
  const gateRuns = prepared<[string], { n: number }>(
    db,
    "SELECT count(*) AS n FROM gate_runs WHERE rig = ? AND kind = 'gate'",
  ).get(RIG)!.n;
  return {
    merged,
    total: beadIds.length,
    working,
    queued: mq.filter((m) => m.state !== 'testing').reduce((n, m) => n + m.n, 0),
    testing: mq.find((m) => m.state === 'testing')?.n ?? 0,
    gateRuns,
  };
}

/** New notable events since the watermarks: merges, rejections, recoveries, dispatches. */
function newEvents(db: Db, marks: { mr: number; activity: number }, titles: Map<string, string>): string[] {
  const lines: string[] = [];
  const mrEvents = prepared<
    [number],
    { id: number; bead_id: string; to_state: string; detail: string | null }
  >(
    db,
    `SELECT e.id, m.bead_id, e.to_state, e.detail FROM mr_events e JOIN merge_requests m ON m.id = e.mr_id
      WHERE e.id > ? AND e.to_state IN ('merged','rejected') AND e.event NOT IN ('closed-bead','returned') ORDER BY e.id`,
  ).all(marks.mr);
  for (const e of mrEvents) {
    marks.mr = e.id;
    const what = titles.get(e.bead_id) ?? e.bead_id;
    lines.push(
      e.to_state === 'merged'
        ? `merged     ${e.bead_id} ${what}`
        : `rejected   ${e.bead_id} ${what}: ${(e.detail ?? '').split('\n')[0]!.slice(0, 100)}`,
    );
  }
  const activity = prepared<
    [number],
    { id: number; kind: string; agent: string | null; bead: string | null; detail: string }
  >(db, 'SELECT id, kind, agent, bead, detail FROM activity WHERE id > ? ORDER BY id').all(marks.activity);
  for (const a of activity) {
    marks.activity = a.id;
    if (a.kind === 'dispatch')
      lines.push(`dispatched ${a.bead ?? ''} ${titles.get(a.bead ?? '') ?? ''} → ${a.agent ?? ''}`);
    else if (a.kind.startsWith('witness-'))
      lines.push(
        `${a.kind.replace('witness-', 'witness ').padEnd(10)} ${a.agent ?? ''} ${a.bead ?? ''}: ${a.detail.slice(0, 100)}`,
      );
  }
  return lines;
}

function killTownTmux(root: string): void {
  try {
    execFileSync('tmux', ['-S', townLayout(root).tmuxSocket, 'kill-server'], { stdio: 'ignore' });
  } catch {
    // No server: nothing to stop.
  }
}

function runGateOnMain(bare: string, dir: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  rmSync(dir, { recursive: true, force: true });
  execFileSync('git', ['clone', '--quiet', '--branch', 'main', bare, dir], { env, stdio: 'pipe' });
  return new Promise((resolve) => {
    execFile('sh', ['-c', SAMPLE_GATE], { cwd: dir, env, timeout: 180_000 }, (error) => resolve(!error));
  });
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  gitCheck();
  const started = Date.now();
  const dir = options.dir ? resolve(options.dir) : realpathSync(mkdtempSync(join(tmpdir(), 'gt-demo-')));
  if (options.dir) {
    mkdirSync(dir, { recursive: true });
    if (readdirSync(dir).length > 0) {
      throw new GtError('GT_E_INVALID_INPUT', `--dir ${dir} is not empty`, {
        hint: 'give a new or empty directory, or leave --dir out to use a temporary one',
      });
    }
  }
  const root = join(dir, 'town');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...DEMO_IDENTITY,
    // The gate runs `node`: make sure it is the node running us.
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
  };
  for (const name of ['GT_TOWN', 'GT_RIG', 'GT_ROLE', 'GT_AGENT', 'BD_ACTOR', 'TMUX']) delete env[name];
  const say = options.progress;
  let db: Db | undefined;
  let ok = false;
  // Ctrl-C ends the run early: the daemon and sessions are still stopped, and the town is kept.
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
  };
  process.on('SIGINT', onInterrupt);
  try {
    say(`demo town: ${root}`);
    makeSampleRepo(join(dir, 'textkit'), env);
    await installTown(root, { name: 'demo' });
    await addRig(root, { name: RIG, source: join(dir, 'textkit'), experimental: true });
    const settings: Array<[string, string, string?]> = [
      ['roles.polecat.agent', 'sim'],
      ['scheduler.max_polecats', String(options.agents)],
      ['witness.stall_after', '5s'],
      ['witness.nudge_grace', '3s'],
      ['witness.check_interval', '1s'],
      ['commands.sheriff.command', SAMPLE_SHERIFF, RIG],
      ['commands.sheriff.timeout', '2m', RIG],
      ['commands.gate.command', SAMPLE_GATE, RIG],
      ['commands.gate.timeout', '3m', RIG],
      ['refinery.batch_max', '4', RIG],
    ];
    for (const [key, value, rig] of settings) await setConfig(root, key, value, rig);
    say(`rig ${RIG}: the sample library (node:test suite); Sheriff: ${SAMPLE_SHERIFF}; gate: ${SAMPLE_GATE}`);

    db = openLedger(townLedgerPath(root));
    const store = new BeadStore(db, 'mayor');
    const plan = demoPlan();
    const ids = createBeads(store, plan);
    const convoy = createConvoy(store, 'textkit v1', [...ids.values()]);
    const titles = new Map(plan.map((b) => [ids.get(b.key)!, b.title]));
    say(
      `convoy ${convoy.id} "textkit v1": ${ids.size} beads, ${plan.reduce((n, b) => n + b.dependsOn.length, 0)} dependencies; ` +
        `${plan.filter((b) => b.fault).length} scripted faults (one breaks the tests once, one worker hangs once)`,
    );

    const up = await startDaemon(root, { env });
    say(`daemon up (pid ${up.pid}); ${options.agents} sim polecats at most; the scheduler feeds the convoy`);

    const marks = { mr: 0, activity: 0 };
    let last = '';
    const deadline = started + options.timeoutMs;
    const beadIds = [...ids.values()];
    for (;;) {
      for (const line of newEvents(db, marks, titles)) say(`  ${line}`);
      const c = counters(db, beadIds);
      const line = `${c.merged}/${c.total} merged · ${c.working} working · merge queue ${c.queued} waiting, ${c.testing} testing · ${c.gateRuns} gate runs`;
      if (line !== last) {
        say(`[${Math.round((Date.now() - started) / 1000)}s] ${line}`);
        last = line;
      }
      const landed = prepared<[string], { status: string }>(
        db,
        'SELECT status FROM convoys WHERE id = ?',
      ).get(convoy.id);
      if (landed?.status === 'landed') break;
      if (interrupted) {
        say('interrupted');
        break;
      }
      if (Date.now() > deadline) {
        say(`timed out after ${Math.round(options.timeoutMs / 1000)}s`);
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const duration = Date.now() - started;

    const bare = join(root, 'rigs', RIG, 'repo.git');
    say('checking main: a fresh clone runs the test suite…');
    const green = await runGateOnMain(bare, join(dir, 'verify-main'), env);
    const facts = collectDemoFacts(db, {
      rig: RIG,
      bare,
      beads: ids,
      plan,
      convoy: convoy.id,
      mainGreen: green,
    });
    const checks = judgeDemo(facts);
    ok = checks.every((c) => c.ok);
    return {
      ok,
      town: root,
      kept: options.keep || !ok,
      duration_ms: duration,
      agents: options.agents,
      beads: { total: ids.size, merged: facts.mergedBeads.length },
      merge_requests: { merged: facts.mergedMrs, rejected: facts.rejectedMrs },
      gate_runs: facts.gateRuns,
      sheriff_runs: facts.sheriffRuns,
      batches: facts.batches,
      recoveries: facts.recoveries.length,
      reworks: facts.reworks,
      main: { sha: facts.mainSha, green },
      checks,
    };
  } finally {
    process.off('SIGINT', onInterrupt);
    try {
      db?.close();
    } catch {}
    await stopDaemon(root).catch(() => undefined);
    killTownTmux(root);
    // A failed demo is kept for inspection, like --keep.
    if (!options.keep && ok) rmSync(dir, { recursive: true, force: true });
  }
}
