import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Db, openLedger } from '../../src/ledger/open';
import { BeadQueries } from '../../src/ledger/queries';
import { BeadStore } from '../../src/ledger/store';

/** Deterministic pseudo-random numbers so a failure reproduces. */
function rng(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function snapshot(db: Db): Map<string, number> {
  const rows = db.prepare('SELECT id, is_blocked FROM beads').all() as Array<{
    id: string;
    is_blocked: number;
  }>;
  return new Map(rows.map((r) => [r.id, r.is_blocked]));
}

describe('materialised readiness', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gt-blocked-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('incremental maintenance always agrees with a full rebuild (random operations)', () => {
    for (const seed of [1, 2, 3]) {
      const db = openLedger(join(dir, `l${seed}.db`), { create: true });
      const store = new BeadStore(db, 'test');
      store.setConfig('issue_prefix', 'rb');
      const random = rng(seed);
      const ids: string[] = [];
      for (let step = 0; step < 400; step++) {
        const roll = random();
        const pick = () => ids[Math.floor(random() * ids.length)]!;
        try {
          if (ids.length < 5 || roll < 0.3) {
            const parent = ids.length > 0 && random() < 0.3 ? pick() : undefined;
            ids.push(store.create({ title: `b${step}`, parent }).id);
          } else if (roll < 0.55) {
            store.addDependency(pick(), pick(), random() < 0.8 ? 'blocks' : 'related');
          } else if (roll < 0.7) {
            store.close(pick(), 'done', true);
          } else if (roll < 0.8) {
            store.reopen(pick());
          } else if (roll < 0.9) {
            const id = pick();
            const deps = store.dependenciesOf(id);
            if (deps.length > 0) store.removeDependency(id, deps[0]!.depends_on_id);
          } else {
            store.update(pick(), { status: random() < 0.5 ? 'pinned' : 'in_progress' });
          }
        } catch (error) {
          // Refusals (cycles, already closed, …) are part of the game; anything else is a bug.
          if (!(error as { code?: string }).code?.startsWith('GT_E_')) throw error;
        }
        if (step % 20 === 0 || step === 399) {
          const incremental = snapshot(db);
          store.rebuildBlocked();
          assert.deepEqual(snapshot(db), incremental, `seed ${seed} step ${step}`);
        }
      }
      db.close();
    }
  });

  it('ready excludes deferred and coordination beads and respects limits', () => {
    const db = openLedger(join(dir, 'ready.db'), { create: true });
    const store = new BeadStore(db, 'test');
    store.setConfig('issue_prefix', 'rd');
    const queries = new BeadQueries(db);
    const work = store.create({ title: 'work' });
    store.create({ title: 'a convoy', issue_type: 'convoy' });
    const later = store.create({ title: 'later' });
    db.prepare('UPDATE beads SET defer_until = ? WHERE id = ?').run(Date.now() + 3_600_000, later.id);
    assert.deepEqual(
      queries.ready().map((b) => b.id),
      [work.id],
    );
    assert.equal(
      queries.ready({ types: ['convoy'] }).length,
      1,
      'an explicit type filter shows coordination beads',
    );
    for (let i = 0; i < 5; i++) store.create({ title: `more ${i}` });
    assert.equal(queries.ready({ limit: 3 }).length, 3);
    db.close();
  });
});
