import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openLedger } from '../../src/ledger/open';

/**
 * A minimal town for runtime tests: town.toml, a ledger, one rig row. Kept under a short temp path
 * because the town's tmux socket path must fit in a Unix socket address.
 */
export interface AgentTown {
  root: string;
  /** Runs the real built CLI (`node bin/gt.js`) inside the town. */
  gt: (args: string[], env?: NodeJS.ProcessEnv) => Promise<{ code: number; stdout: string; stderr: string }>;
  cleanup: () => Promise<void>;
}

export const GT_BIN = resolve(import.meta.dirname, '../../bin/gt.js');

export function makeAgentTown(townToml = '', rigs: string[] = ['rig']): AgentTown {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'gta-')));
  writeFileSync(join(root, 'town.toml'), `name = "test-town"\n${townToml}`);
  const db = openLedger(join(root, '.gt', 'ledger.db'), { create: true });
  const now = Date.now();
  for (const [i, rig] of rigs.entries()) {
    mkdirSync(join(root, 'rigs', rig), { recursive: true });
    db.prepare('INSERT INTO rigs (name, prefix, path, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(
      rig,
      `r${i}`,
      join('rigs', rig),
      now,
      now,
    );
  }
  db.close();
  const gt: AgentTown['gt'] = (args, env = {}) =>
    new Promise((done) => {
      const childEnv = { ...process.env, ...env };
      for (const name of ['GT_TOWN', 'GT_RIG', 'GT_ROLE', 'GT_AGENT', 'BD_ACTOR', 'BEADS_DIR', 'TMUX']) {
        if (!(name in env)) delete childEnv[name];
      }
      execFile(process.execPath, [GT_BIN, ...args], { cwd: root, env: childEnv }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      });
    });
  const cleanup = async () => {
    await new Promise((done) =>
      execFile('tmux', ['-S', join(root, '.gt', 'tmux.sock'), 'kill-server'], () => done(undefined)),
    );
    rmSync(root, { recursive: true, force: true });
  };
  return { root, gt, cleanup };
}
