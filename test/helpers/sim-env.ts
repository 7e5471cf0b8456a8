/**
 * Fixtures for sim agent tests: a temp HOME and git identity, a bare "rig" origin protected by gt's
 * real server-side guard (only the Refinery may write main), clones to work in,
 * the sim agent bundled from source, and a stand-in `gt` (prime/hook/done) that records its calls.
 *
 * The stand-in gt exists only because `gt prime`, `gt hook` and `gt done` land in the work-loop issue;
 * once they do, tests that need them should run the real bin/gt.js instead.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { installProtectedMain } from '../../src/git/protected-main';

export interface SimFixture {
  root: string;
  home: string;
  origin: string;
  /** Base environment for git and the sim (no inherited GT_*, no inherited git config). */
  env: Record<string, string>;
  /** Path of the bundled sim agent (run with `node`). */
  simJs: string;
  /** The stand-in gt executable and the JSONL file of its calls. */
  gtBin: string;
  gtLog: string;
  cleanup(): void;
}

const FAKE_GT = `#!/usr/bin/env node
// Stand-in gt for sim tests: records each call, answers prime/hook/done.
const fs = require('node:fs');
const [cmd, ...rest] = process.argv.slice(2);
const e = process.env;
fs.appendFileSync(e.FAKE_GT_LOG, JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd(),
  env: { GT_TOWN: e.GT_TOWN, GT_RIG: e.GT_RIG, GT_ROLE: e.GT_ROLE, GT_AGENT: e.GT_AGENT, BD_ACTOR: e.BD_ACTOR } }) + '\\n');
if (cmd === 'prime') { process.stdout.write('# Polecat (stand-in prime)\\nRun your hook, then gt done.\\n'); }
else if (cmd === 'hook') {
  let hook = e.FAKE_GT_HOOK_JSON || '{"bead":null}';
  if (e.FAKE_GT_HOOK_FILE) { try { hook = fs.readFileSync(e.FAKE_GT_HOOK_FILE, 'utf8'); } catch { hook = '{"bead":null}'; } }
  process.stdout.write(hook.trim() + '\\n');
}
else if (cmd === 'done') { process.stdout.write('submitted (stand-in)\\n'); process.exitCode = Number(e.FAKE_GT_DONE_EXIT || 0); }
else { process.stderr.write('stand-in gt: unknown command ' + cmd + '\\n'); process.exitCode = 2; }
`;

let bundled: Promise<string> | undefined;

/** Bundles src/runtime/sim/main.ts once per test process into a private temp dir. */
export function bundleSim(): Promise<string> {
  bundled ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gt-sim-bundle-'));
    const outfile = join(dir, 'sim.mjs');
    await build({
      entryPoints: [fileURLToPath(new URL('../../src/runtime/sim/main.ts', import.meta.url))],
      outfile,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel: 'warning',
    });
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    return outfile;
  })();
  return bundled;
}

export function git(cwd: string, env: Record<string, string>, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

export async function makeSimFixture(label: string): Promise<SimFixture> {
  const simJs = await bundleSim();
  const root = mkdtempSync(join(tmpdir(), `gt-sim-${label}-`));
  const home = join(root, 'home');
  mkdirSync(home);
  const gitconfig = join(root, 'gitconfig');
  writeFileSync(
    gitconfig,
    '[user]\n\tname = Sim Test\n\temail = sim@example.invalid\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n',
  );
  const gtDir = join(root, 'bin');
  mkdirSync(gtDir);
  const gtBin = join(gtDir, 'gt');
  writeFileSync(gtBin, FAKE_GT);
  chmodSync(gtBin, 0o755);
  const gtLog = join(root, 'gt-calls.jsonl');
  writeFileSync(gtLog, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    GIT_CONFIG_GLOBAL: gitconfig,
    GIT_CONFIG_NOSYSTEM: '1',
    GT_BIN: gtBin,
    FAKE_GT_LOG: gtLog,
  };

  // The rig's bare repo: main exists, and an update hook refuses any write of main.
  const origin = join(root, 'origin.git');
  git(root, env, 'init', '-q', '--bare', origin);
  const seed = join(root, 'seed');
  git(root, env, 'init', '-q', seed);
  writeFileSync(join(seed, 'README.md'), 'line 1\nline 2\nline 3\n');
  git(seed, env, 'add', '.');
  git(seed, env, 'commit', '-qm', 'initial');
  git(seed, env, 'push', '-q', origin, 'main');
  // gt's real server-side guard (src/git/protected-main.ts): only the Refinery may write main.
  await installProtectedMain(origin, 'main', 'refinery-token-for-tests');

  return {
    root,
    home,
    origin,
    env,
    simJs,
    gtBin,
    gtLog,
    cleanup: () => rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }),
  };
}

/** A polecat-style worktree: a clone of the origin on its own branch. */
export function makeWorktree(fx: SimFixture, name: string, bead = 'gt-abc12'): string {
  const dir = join(fx.root, 'polecats', name);
  mkdirSync(join(fx.root, 'polecats'), { recursive: true });
  git(fx.root, fx.env, 'clone', '-q', fx.origin, dir);
  git(dir, fx.env, 'checkout', '-q', '-b', `polecat/${name}/${bead}`);
  return dir;
}

/** Identity env a session provider gives an agent. */
export function identityEnv(fx: SimFixture, name: string): Record<string, string> {
  return {
    GT_TOWN: fx.root,
    GT_RIG: 'rig',
    GT_ROLE: 'polecat',
    GT_AGENT: `rig/polecats/${name}`,
    BD_ACTOR: `rig/polecats/${name}`,
  };
}

export interface GtCall {
  argv: string[];
  cwd: string;
  env: Record<string, string | undefined>;
}

export function gtCalls(fx: SimFixture): GtCall[] {
  return readFileSync(fx.gtLog, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as GtCall);
}

export function readJsonl(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
