import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SAMPLE_GATE, SAMPLE_SHERIFF, sampleProjectFiles } from '../../src/demo/sample-project';
import { makeSandbox, type Run, type Sandbox, townBd } from './gt';

/**
 * A town for daemon tests: rig `app` (experimental) from the sample project (real node:test suite; the
 * Sheriff a syntax check, the gate `node --test`), polecats run the sim agent, and extra town.toml text
 * (e.g. short [witness] timings). `up()`/`down()` run the real `gt up`/`gt down`; cleanup stops every
 * session and the daemon before deleting the sandbox.
 */
export interface DaemonTown extends Sandbox {
  town: string;
  bare: string;
  ledger: Database.Database;
  bd: (args: string[]) => Promise<Run>;
  /** Creates a bead in rig app; `description` may carry a ```sim block. Returns its id. */
  createBead: (title: string, description?: string) => Promise<string>;
  // biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON, shaped by each test
  gtOk: <T = any>(args: string[], env?: NodeJS.ProcessEnv) => Promise<T>;
  up: () => Promise<void>;
  down: (all?: boolean) => Promise<void>;
  mainSha: () => string;
}

export interface DaemonTownOptions {
  /** Appended to town.toml (TOML tables such as [witness]). */
  townToml?: string;
  /** Appended to rigs/app/rig.toml. */
  rigToml?: string;
  maxPolecats?: number;
  files?: Record<string, string>;
  /** The rig's gate command (default: the sample project's `node --test`). */
  gate?: string;
}

export async function makeDaemonTown(options: DaemonTownOptions = {}): Promise<DaemonTown> {
  const sb = makeSandbox();
  const town = join(sb.dir, 'town');
  const run = async (args: string[], cwd = sb.dir) => {
    const r = await sb.gt(args, { cwd });
    assert.equal(r.code, 0, `gt ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  await run(['install', town]);
  const repo = sb.makeRepo('app-src', { ...sampleProjectFiles(), ...options.files });
  await run(['rig', 'add', 'app', repo, '--experimental'], town);
  const rigToml = join(town, 'rigs', 'app', 'rig.toml');
  // Replace whatever gate/sheriff detection chose with the sample project's.
  const rigText = readFileSync(rigToml, 'utf8').replace(/\n\[commands\.[\s\S]*$/, '\n');
  writeFileSync(
    rigToml,
    `${rigText}\n[commands.sheriff]\ncommand = "${SAMPLE_SHERIFF}"\ntimeout = "2m"\n\n[commands.gate]\ncommand = "${options.gate ?? SAMPLE_GATE}"\ntimeout = "5m"\n${options.rigToml ?? ''}`,
  );
  await run(['config', 'set', 'roles.polecat.agent', 'sim'], town);
  if (options.maxPolecats)
    await run(['config', 'set', 'scheduler.max_polecats', String(options.maxPolecats)], town);
  if (options.townToml) {
    writeFileSync(
      join(town, 'town.toml'),
      `${readFileSync(join(town, 'town.toml'), 'utf8')}\n${options.townToml}\n`,
    );
  }
  const ledger = new Database(join(town, '.gt', 'ledger.db'), { readonly: true, fileMustExist: true });
  const { bd, createBead } = townBd(
    () => town,
    () => sb.env,
  );
  const gtOk = async (args: string[], env?: NodeJS.ProcessEnv) => {
    const r = await sb.gt([...args, '--json'], { cwd: town, env });
    assert.equal(r.code, 0, `gt ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim() ? JSON.parse(r.stdout) : null;
  };
  const bare = join(town, 'rigs', 'app', 'repo.git');
  const cleanup = sb.cleanup;
  return {
    ...sb,
    town,
    bare,
    ledger,
    bd,
    createBead,
    gtOk,
    up: async () => {
      await gtOk(['up']);
    },
    down: async (all = false) => {
      await gtOk(all ? ['down', '--all'] : ['down']);
    },
    mainSha: () => sb.git(['rev-parse', 'refs/heads/main'], bare),
    cleanup: () => {
      try {
        ledger.close();
      } catch {}
      // Stop the daemon first (it would restart sessions), then everything else goes with the sandbox.
      try {
        const pid = JSON.parse(readFileSync(join(town, '.gt', 'run', 'daemon.pid'), 'utf8')).pid as number;
        process.kill(pid, 'SIGKILL');
      } catch {}
      cleanup();
    },
  };
}
