import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPolecatCheckout } from '../../src/git/polecat-checkout';
import { openLedger } from '../../src/ledger/open';
import { BeadStore } from '../../src/ledger/store';
import { Refinery, type RefineryOptions } from '../../src/refinery/controller';
import { refineryPushEnv } from '../../src/town/secret';
import { makeTown, type Sandbox } from './gt';

/**
 * A real town with rig `app` for Refinery tests, a gate script whose verdict the test controls, and a way
 * to create merge requests the way `gt done` records them (branch pushed to repo.git, MR row 'queued').
 *
 * The gate (an absolute path in rig.toml, outside the repo, so no MR can change it) logs "<sha> <verdict>"
 * for every run to gate.log and:
 *   - fails when the tree has a file named BROKEN;
 *   - hangs (sleeps 30 s) when the tree has a file named HANG;
 *   - fails once when <dir>/flake-once exists (and removes it);
 *   - sleeps GATE_SLEEP seconds (file <dir>/sleep) and touches <dir>/started first, for kill tests.
 */
export interface RefineryTown {
  sb: Sandbox & { town: string };
  town: string;
  bare: string;
  dev: string;
  dir: string;
  gateLog: string;
  store: BeadStore;
  prefix: string;
  /**
   * Writes rig.toml with the given gate command (default: the controlled gate) and extra TOML. A command
   * is a command line (string) or an argv array.
   */
  configure: (options?: {
    gate?: string | string[];
    gateTimeout?: string;
    sheriff?: string | string[];
    extra?: string;
  }) => void;
  addMr: (options: MrSpec) => Promise<{ mr: number; bead: string; head: string; branch: string }>;
  refinery: (options?: Partial<RefineryOptions>) => Refinery;
  main: () => string;
  /** Main's first-parent history, newest first, excluding the initial commit. */
  firstParents: () => string[];
  /** Shas the gate passed (from gate.log). */
  passed: () => Set<string>;
  gateRuns: () => number;
  /** Throws unless every commit on main's first-parent chain passed the gate (or is in `trusted`). */
  assertMainGreen: (trusted?: Iterable<string>) => void;
  mr: (id: number) => {
    state: string;
    rejected_reason: string | null;
    merged_sha: string | null;
    followup: string | null;
  };
  cleanup: () => void;
}

export interface MrSpec {
  name: string;
  files?: Record<string, string>;
  broken?: boolean;
  hang?: boolean;
  priority?: number;
  /** A real polecat checkout and agent row (app/<name>) holding the bead. */
  polecat?: boolean;
  /** With polecat: submit with the real `gt done` (run in the checkout) instead of inserting the MR row. */
  viaDone?: boolean;
}

const GATE_SCRIPT = (dir: string) => `#!/bin/sh
sha=$(git rev-parse HEAD)
if [ -f "${dir}/sleep" ]; then touch "${dir}/started"; sleep "$(cat "${dir}/sleep")"; fi
if [ -e HANG ]; then echo "$sha hang" >> "${dir}/gate.log"; sleep 30; fi
if [ -f "${dir}/flake-once" ]; then rm -f "${dir}/flake-once"; echo "$sha fail" >> "${dir}/gate.log"; echo "flaky failure"; exit 1; fi
if [ -e BROKEN ]; then echo "$sha fail" >> "${dir}/gate.log"; echo "test suite: BROKEN is present"; echo "1 test failed"; exit 1; fi
echo "$sha pass" >> "${dir}/gate.log"
echo "all tests passed"
`;

export async function makeRefineryTown(): Promise<RefineryTown> {
  const sb = await makeTown({ rig: true });
  const town = sb.town;
  const bare = join(town, 'rigs', 'app', 'repo.git');
  const dir = join(sb.dir, 'gate');
  mkdirSync(dir, { recursive: true });
  const gateLog = join(dir, 'gate.log');
  writeFileSync(gateLog, '');
  writeFileSync(join(dir, 'gate.sh'), GATE_SCRIPT(dir), { mode: 0o755 });
  const rigToml = join(town, 'rigs', 'app', 'rig.toml');
  const prefix = /^prefix\s*=\s*"([^"]+)"/m.exec(readFileSync(rigToml, 'utf8'))![1]!;
  const configure: RefineryTown['configure'] = (o = {}) => {
    const lines = [
      'default_branch = "main"',
      `prefix = "${prefix}"`,
      'experimental = true',
      '',
      '[commands.gate]',
      `command = ${JSON.stringify(o.gate ?? `sh ${join(dir, 'gate.sh')}`)}`,
      `timeout = "${o.gateTimeout ?? '20s'}"`,
    ];
    if (o.sheriff)
      lines.push('', '[commands.sheriff]', `command = ${JSON.stringify(o.sheriff)}`, 'timeout = "20s"');
    if (o.extra) lines.push('', o.extra);
    writeFileSync(rigToml, `${lines.join('\n')}\n`);
  };
  configure();
  const dev = join(sb.dir, 'dev');
  sb.git(['clone', '--quiet', bare, dev], sb.dir);
  const db = openLedger(join(town, '.gt', 'ledger.db'));
  const store = new BeadStore(db, 'test');
  const git = (args: string[], cwd: string) => sb.git(args, cwd);

  const addMr: RefineryTown['addMr'] = async (spec) => {
    const bead = store.create({
      title: `work ${spec.name}`,
      prefix,
      rig: 'app',
      priority: spec.priority ?? 2,
    });
    const files: Record<string, string> = { ...(spec.files ?? { [`${spec.name}.txt`]: `${spec.name}\n` }) };
    if (spec.broken) files.BROKEN = `${spec.name}\n`;
    if (spec.hang) files.HANG = `${spec.name}\n`;
    let cwd = dev;
    let branch = `polecat/${spec.name}/${bead.id}`;
    const agent = `app/${spec.name}`;
    if (spec.polecat) {
      const co = await createPolecatCheckout(town, { rig: 'app', polecat: spec.name, bead: bead.id });
      cwd = co.path;
      branch = co.branch;
      const now = Date.now();
      db.prepare(
        `INSERT INTO agents (id, role, rig, name, state, hooked_bead, worktree, branch, created_at, updated_at)
           VALUES (?, 'polecat', 'app', ?, 'done', ?, ?, ?, ?, ?)`,
      ).run(agent, spec.name, bead.id, join('rigs', 'app', 'polecats', spec.name), branch, now, now);
      store.update(bead.id, { status: 'hooked', assignee: agent });
    } else {
      git(['fetch', '--quiet', 'origin'], dev);
      git(['checkout', '--quiet', '-B', branch, 'origin/main'], dev);
    }
    for (const [file, content] of Object.entries(files)) writeFileSync(join(cwd, file), content);
    git(['add', '-A'], cwd);
    git(['commit', '--quiet', '-m', `${bead.id}: ${spec.name}`], cwd);
    if (spec.polecat && spec.viaDone) {
      const done = await sb.gt(['done', '--json'], { cwd });
      if (done.code !== 0) throw new Error(`gt done failed: ${done.stderr}`);
      const out = JSON.parse(done.stdout) as { mr: { id: number }; head_sha: string };
      return { mr: out.mr.id, bead: bead.id, head: out.head_sha, branch };
    }
    git(['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`], cwd);
    const head = git(['rev-parse', 'HEAD'], cwd);
    const base = git(['merge-base', 'HEAD', 'origin/main'], cwd);
    store.update(bead.id, { status: 'in_review' });
    const now = Date.now();
    const mr = Number(
      db
        .prepare(
          `INSERT INTO merge_requests (rig, bead_id, agent_id, branch, head_sha, base_sha, state, created_at, updated_at)
             VALUES ('app', ?, ?, ?, ?, ?, 'queued', ?, ?)`,
        )
        .run(bead.id, agent, branch, head, base, now, now).lastInsertRowid,
    );
    db.prepare(
      `INSERT INTO mr_events (mr_id, event, from_state, to_state, actor, detail, created_at)
         VALUES (?, 'created', NULL, 'queued', ?, 'fixture', ?)`,
    ).run(mr, agent, now);
    return { mr, bead: bead.id, head, branch };
  };

  const main = () => git(['rev-parse', 'refs/heads/main'], bare);
  const firstParents = () => {
    const all = git(['rev-list', '--first-parent', 'refs/heads/main'], bare).split('\n').filter(Boolean);
    return all.slice(0, -1);
  };
  const passed = () =>
    new Set(
      readFileSync(gateLog, 'utf8')
        .split('\n')
        .filter((l) => l.endsWith(' pass'))
        .map((l) => l.split(' ')[0]!),
    );
  const gateRuns = () => readFileSync(gateLog, 'utf8').split('\n').filter(Boolean).length;
  const assertMainGreen = (trusted: Iterable<string> = []) => {
    const ok = passed();
    for (const t of trusted) ok.add(t);
    for (const sha of firstParents()) {
      if (!ok.has(sha)) throw new Error(`main has ${sha}, which never passed the gate`);
    }
  };
  return {
    sb,
    town,
    bare,
    dev,
    dir,
    gateLog,
    store,
    prefix,
    configure,
    addMr,
    refinery: (options = {}) => new Refinery({ root: town, store, rig: 'app', killGraceMs: 300, ...options }),
    main,
    firstParents,
    passed,
    gateRuns,
    assertMainGreen,
    mr: (id) =>
      db
        .prepare('SELECT state, rejected_reason, merged_sha, followup FROM merge_requests WHERE id = ?')
        .get(id) as {
        state: string;
        rejected_reason: string | null;
        merged_sha: string | null;
        followup: string | null;
      },
    cleanup: () => {
      try {
        db.close();
      } catch {}
      sb.cleanup();
    },
  };
}

/** Another writer moves main (with the Refinery credential): a commit on top of the current main. */
export function moveMainElsewhere(t: RefineryTown, file: string): string {
  const other = join(t.sb.dir, 'other');
  if (!existsSync(other)) t.sb.git(['clone', '--quiet', t.bare, other], t.sb.dir);
  t.sb.git(['fetch', '--quiet', 'origin'], other);
  t.sb.git(['checkout', '--quiet', '-B', 'work', 'origin/main'], other);
  writeFileSync(join(other, file), 'other writer\n');
  t.sb.git(['add', '-A'], other);
  t.sb.git(['commit', '--quiet', '-m', 'another writer'], other);
  execFileSync('git', ['push', '--quiet', 'origin', 'HEAD:refs/heads/main'], {
    cwd: other,
    env: { ...t.sb.env, ...refineryPushEnv(t.town) },
    stdio: 'pipe',
  });
  return t.sb.git(['rev-parse', 'HEAD'], other);
}
