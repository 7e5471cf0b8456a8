/**
 * Ledger benchmark (issue: foundation). At 10k and 100k beads: bulk import time, create throughput,
 * whole-process latency of `bd ready --json`, `bd show`, `bd list --status open` beside a bare
 * `node -e 0`, and the in-process ready query. Prints figures; asserts nothing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openLedger } from '../src/ledger/open';
import { BeadQueries } from '../src/ledger/queries';
import { BeadStore } from '../src/ledger/store';
import { fmt, inProcessMedianMs, processMedianMs, processMediansVsBare } from './stats';

const BD = resolve(import.meta.dirname, '..', 'bin', 'bd.js');

/** A plausible town: epics with children, blocking chains, a third of the work closed. */
function syntheticJsonl(count: number, prefix: string): { text: string; sampleId: string } {
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const lines: string[] = [];
  const base = Date.parse('2026-01-01T00:00:00Z');
  let epic = '';
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i.toString(36).padStart(5, '0')}`;
    const isEpic = i % 50 === 0;
    if (isEpic) epic = id;
    const deps: Array<Record<string, string>> = [];
    if (!isEpic) deps.push({ issue_id: id, depends_on_id: epic, type: 'parent-child' });
    if (i > 10 && random() < 0.3) {
      const target = Math.floor(random() * (i - 1));
      if (target % 50 !== 0) {
        deps.push({
          issue_id: id,
          depends_on_id: `${prefix}-${target.toString(36).padStart(5, '0')}`,
          type: 'blocks',
        });
      }
    }
    const closed = random() < 0.33;
    lines.push(
      JSON.stringify({
        _type: 'issue',
        id,
        title: `Synthetic bead ${i}: implement part of feature ${Math.floor(i / 50)}`,
        description: 'A realistic description with a few sentences of text. '.repeat(3),
        status: closed ? 'closed' : 'open',
        priority: Math.floor(random() * 5),
        issue_type: isEpic ? 'epic' : 'task',
        created_at: new Date(base + i * 1000).toISOString(),
        updated_at: new Date(base + i * 1000).toISOString(),
        labels: random() < 0.2 ? ['area:web'] : [],
        dependencies: deps,
      }),
    );
  }
  return {
    text: `${lines.join('\n')}\n`,
    sampleId: `${prefix}-${(count - 7).toString(36).padStart(5, '0')}`,
  };
}

export function runLedgerBench(): void {
  console.log(
    `bare node -e 0: median ${fmt(processMedianMs(process.execPath, ['-e', '0'], { cwd: tmpdir(), runs: 10 }))} ms`,
  );

  for (const count of [10_000, 100_000]) {
    const dir = mkdtempSync(join(tmpdir(), 'gt-bench-ledger-'));
    try {
      spawnSync(process.execPath, [BD, 'init', '--prefix', 'bn', '-q'], { cwd: dir });
      const { text, sampleId } = syntheticJsonl(count, 'bn');
      const file = join(dir, 'beads.jsonl');
      writeFileSync(file, text);

      const importStart = process.hrtime.bigint();
      const imported = spawnSync(process.execPath, [BD, 'import', file], { cwd: dir, encoding: 'utf8' });
      const importMs = Number(process.hrtime.bigint() - importStart) / 1e6;
      if (imported.status !== 0) throw new Error(imported.stderr);

      const ledger = join(dir, '.beads', 'beads.db');
      const db = openLedger(ledger);
      const store = new BeadStore(db, 'bench');
      const queries = new BeadQueries(db);
      const readyInProcess = inProcessMedianMs(() => queries.ready({ limit: 100 }), 50);
      const readyWithCounts = inProcessMedianMs(() => queries.withCounts(queries.ready({ limit: 100 })), 30);
      const creates = 2000;
      const createStart = process.hrtime.bigint();
      for (let i = 0; i < creates; i++) store.create({ title: `bench create ${i}`, description: 'x' });
      const createMs = Number(process.hrtime.bigint() - createStart) / 1e6;
      const closeChain = inProcessMedianMs(() => {
        const bead = store.create({
          title: 'closing',
          deps: [{ type: 'blocks', target: sampleId, reversed: true }],
        });
        store.close(bead.id, 'bench', true);
      }, 20);
      db.close();

      const { bare, medians } = processMediansVsBare(
        {
          ready: [BD, 'ready', '--json'],
          show: [BD, 'show', sampleId, '--json'],
          list: [BD, 'list', '--status', 'open', '--json'],
        },
        { cwd: dir, runs: 15 },
      );
      const line = (label: string, ms: number) =>
        console.log(
          `  ${label.padEnd(37)}median ${fmt(ms)} ms = ${(ms / bare).toFixed(2)}x bare node (${fmt(bare)} ms)`,
        );

      console.log(`\n${count.toLocaleString('en')} beads`);
      console.log(
        `  bulk import (whole process)          ${fmt(importMs)} ms  (${Math.round(count / (importMs / 1000)).toLocaleString('en')} beads/s)`,
      );
      console.log(
        `  create, in process                   ${Math.round(creates / (createMs / 1000)).toLocaleString('en')} beads/s`,
      );
      console.log(`  create + dependent + close, in proc  median ${fmt(closeChain)} ms`);
      console.log(
        `  ready query (limit 100), in process  median ${fmt(readyInProcess)} ms; with labels+counts ${fmt(readyWithCounts)} ms`,
      );
      line('bd ready --json', medians.ready!);
      line('bd show <id> --json', medians.show!);
      line('bd list --status open --json', medians.list!);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
