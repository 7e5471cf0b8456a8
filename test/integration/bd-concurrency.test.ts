import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bdAsync, bdJson, initLedger } from '../helpers/bd';

type Json = Record<string, unknown>;
const PROCESSES = 30;

describe('bd: many processes at once', () => {
  let dir: string;
  let cleanup: () => void;

  before(() => {
    ({ dir, cleanup } = initLedger('cc'));
  });
  after(() => cleanup());

  it('lets exactly one of 30 racing processes claim a bead, with no lock errors', async () => {
    const bead = bdJson<Json>(['create', 'Contended'], { cwd: dir });
    const results = await Promise.all(
      Array.from({ length: PROCESSES }, (_, i) =>
        bdAsync(['update', String(bead.id), '--claim', '--json'], {
          cwd: dir,
          env: { BD_ACTOR: `agent-${i}` },
        }),
      ),
    );
    const winners = results.filter((r) => r.status === 0);
    assert.equal(winners.length, 1, 'exactly one winner');
    for (const loser of results.filter((r) => r.status !== 0)) {
      assert.equal(JSON.parse(loser.stderr).code, 'GT_E_ALREADY_CLAIMED');
    }
    for (const r of results) assert.doesNotMatch(r.stderr, /locked|SQLITE_BUSY/i);
    const winner = JSON.parse(winners[0]!.stdout)[0] as Json;
    const stored = bdJson<Json[]>(['show', String(bead.id)], { cwd: dir })[0]!;
    assert.equal(stored.assignee, winner.assignee);
    assert.equal(stored.status, 'in_progress');
    const claims = bdJson<Json[]>(['history', String(bead.id)], { cwd: dir }).filter(
      (e) => e.event_type === 'claimed',
    );
    assert.equal(claims.length, 1);
  });

  it('creates every bead when 30 processes create at once', async () => {
    const before = bdJson<Json[]>(['list', '--all', '-n', '0'], { cwd: dir }).length;
    const results = await Promise.all(
      Array.from({ length: PROCESSES }, (_, i) =>
        bdAsync(['create', `Parallel ${i}`, '--json'], { cwd: dir }),
      ),
    );
    for (const r of results) {
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /locked|SQLITE_BUSY/i);
    }
    const ids = results.map((r) => (JSON.parse(r.stdout) as Json).id);
    assert.equal(new Set(ids).size, PROCESSES, 'all ids distinct');
    const all = bdJson<Json[]>(['list', '--all', '-n', '0'], { cwd: dir });
    assert.equal(all.length, before + PROCESSES, 'none lost');
    for (let i = 0; i < PROCESSES; i++) assert.ok(all.some((b) => b.title === `Parallel ${i}`));
  });

  it('keeps readers working while writers race', async () => {
    const jobs = Array.from({ length: PROCESSES }, (_, i) =>
      i % 2 === 0
        ? bdAsync(['ready', '--json'], { cwd: dir })
        : bdAsync(['create', `Mixed ${i}`, '--json'], { cwd: dir }),
    );
    const results = await Promise.all(jobs);
    for (const r of results) assert.equal(r.status, 0, r.stderr);
  });
});
