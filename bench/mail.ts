/**
 * Mail benchmark (issue 6): whole-process latency of `gt mail inbox --json` for a mailbox holding 1,000
 * messages (plus 4,000 for other mailboxes), beside a bare `node -e 0`, and the in-process inbox query.
 * Prints figures; asserts nothing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openLedger } from '../src/ledger/open';
import { BeadStore } from '../src/ledger/store';
import { inbox, sendMail } from '../src/services/mail';
import { fmt, inProcessMedianMs, processMedianMs } from './stats';

const GT = resolve(import.meta.dirname, '..', 'bin', 'gt.js');

export function runMailBench(): void {
  const dir = mkdtempSync(join(tmpdir(), 'gt-bench-mail-'));
  try {
    const town = join(dir, 'town');
    const env: NodeJS.ProcessEnv = { ...process.env, GT_TOWN: town, GT_AGENT: 'mayor' };
    delete env.BD_ACTOR;
    execFileSync(process.execPath, [GT, 'install', town], { env, stdio: 'ignore' });
    const db = openLedger(join(town, '.gt', 'ledger.db'));
    const store = new BeadStore(db, 'bench');
    const senders = ['human', 'mayor'];
    const body = 'A realistic message body with a few sentences of text about a bead and what to do. '.repeat(
      4,
    );
    const fill = () => {
      for (let i = 0; i < 5000; i++) {
        // 1,000 for the mayor, the rest for the human.
        const to = i % 5 === 0 ? 'mayor' : 'human';
        sendMail(store, {
          from: senders[i % 2]!,
          to,
          subject: `message ${i}: status of bead ${i % 97}`,
          body,
        });
      }
    };
    const start = process.hrtime.bigint();
    store.write(fill);
    const fillMs = Number(process.hrtime.bigint() - start) / 1e6;
    const inProc = inProcessMedianMs(() => inbox(db, 'mayor'));
    const count = inbox(db, 'mayor').messages.length;
    db.close();

    const bare = processMedianMs(process.execPath, ['-e', '0'], { cwd: town, runs: 10, env });
    const inboxMs = processMedianMs(process.execPath, [GT, 'mail', 'inbox', '--json'], {
      cwd: town,
      runs: 10,
      env,
    });
    const unreadMs = processMedianMs(
      process.execPath,
      [GT, 'mail', 'inbox', '--unread', '-n', '20', '--json'],
      {
        cwd: town,
        runs: 10,
        env,
      },
    );
    console.log(`5,000 messages sent in one transaction: ${fmt(fillMs)} ms; mayor's inbox holds ${count}`);
    console.log(`  inbox query (1,000 messages), in proc     median ${fmt(inProc)} ms`);
    console.log(
      `  gt mail inbox --json (1,000 messages)     median ${fmt(inboxMs)} ms = ${(inboxMs / bare).toFixed(2)}x bare node (${fmt(bare)} ms)`,
    );
    console.log(
      `  gt mail inbox --unread -n 20 --json       median ${fmt(unreadMs)} ms = ${(unreadMs / bare).toFixed(2)}x bare node`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
