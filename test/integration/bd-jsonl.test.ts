import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bd, bdJson, initLedger } from '../helpers/bd';

type Json = Record<string, unknown>;

describe('bd: JSONL export and import in the beads format', () => {
  let source: { dir: string; cleanup: () => void };
  let target: { dir: string; cleanup: () => void };

  before(() => {
    source = initLedger('ex');
    target = initLedger('im');
  });
  after(() => {
    source.cleanup();
    target.cleanup();
  });

  it('round-trips beads, labels, dependencies, comments and readiness', () => {
    const cwd = source.dir;
    const a = bdJson<Json>(['create', 'Alpha', '-l', 'x', '-p', '1'], { cwd }).id as string;
    const b = bdJson<Json>(['create', 'Beta', '--deps', a], { cwd }).id as string;
    const child = bdJson<Json>(['create', 'Child', '--parent', b], { cwd }).id as string;
    bd(['comment', a, 'a comment'], { cwd });
    const closed = bdJson<Json>(['create', 'Done already'], { cwd }).id as string;
    bd(['close', closed, '-r', 'shipped'], { cwd });

    const file = join(cwd, 'issues.jsonl');
    assert.equal(bd(['export', '-o', file], { cwd }).status, 0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, 4);
    const ids = lines.map((line) => (JSON.parse(line) as Json).id as string);
    assert.deepEqual(ids, [...ids].sort(), 'sorted by id');
    assert.ok(lines.every((line) => (JSON.parse(line) as Json)._type === 'issue'));

    const result = bdJson<Json>(['import', file], { cwd: target.dir });
    assert.equal(result.created, 4);
    const shown = bdJson<Json[]>(['show', a, b, child, closed], { cwd: target.dir });
    assert.deepEqual(shown[0]!.labels, ['x']);
    assert.equal((shown[0]!.comments as Json[])[0]!.text, 'a comment');
    assert.equal((shown[1]!.dependencies as Json[])[0]!.id, a);
    assert.equal(shown[2]!.parent, b);
    assert.equal(shown[3]!.status, 'closed');
    assert.equal(shown[3]!.close_reason, 'shipped');
    const ready = bdJson<Json[]>(['ready'], { cwd: target.dir }).map((r) => r.id);
    assert.deepEqual(ready, [a], 'blocked state recomputed after import');
    // Partial ids work for the imported prefix too.
    assert.equal(bdJson<Json[]>(['show', a.slice(3)], { cwd: target.dir })[0]!.id, a);

    // Importing again updates instead of duplicating.
    const again = bdJson<Json>(['import', file], { cwd: target.dir });
    assert.equal(again.created, 0);
    assert.equal(again.updated, 4);
    assert.equal((bdJson<Json[]>(['show', a], { cwd: target.dir })[0]!.comments as Json[]).length, 1);
  });

  it('accepts lines from the original beads export (no _type, seconds precision, counts)', () => {
    const file = join(target.dir, 'legacy.jsonl');
    writeFileSync(
      file,
      [
        '{"id":"bd-main-idj","title":"Pattern-collapse pass","description":"d","status":"in_progress","priority":2,"issue_type":"chore","owner":"m@example.com","created_at":"2026-04-18T16:19:12Z","created_by":"matt","updated_at":"2026-04-18T16:30:16Z","started_at":"2026-04-18T16:30:16Z","dependency_count":0,"dependent_count":0,"comment_count":0}',
        '{"_type":"memory","key":"k","value":"v"}',
        '{"id":"bd-main-gone","title":"Deleted","status":"tombstone","priority":2}',
        '',
      ].join('\n'),
    );
    const result = bdJson<Json>(['import', file], { cwd: target.dir });
    assert.equal(result.created, 1);
    assert.equal(result.skipped, 2);
    const bead = bdJson<Json[]>(['show', 'bd-main-idj'], { cwd: target.dir })[0]!;
    assert.equal(bead.status, 'in_progress');
    assert.equal(bead.owner, 'm@example.com');
    assert.equal(bead.created_at, '2026-04-18T16:19:12.000Z');
  });

  it('imports nothing when any line is bad, naming the line', () => {
    const file = join(target.dir, 'bad.jsonl');
    writeFileSync(
      file,
      [
        '{"id":"ok-1","title":"Fine","priority":1}',
        '{"id":"ok-2","title":"Bad priority","priority":"high"}',
      ].join('\n'),
    );
    const result = bd(['import', file, '--json'], { cwd: target.dir });
    assert.equal(result.status, 1);
    const error = JSON.parse(result.stderr);
    assert.equal(error.code, 'GT_E_IMPORT');
    assert.match(error.error, /bad\.jsonl:2: ok-2: priority/);
    assert.equal(
      bd(['show', 'ok-1'], { cwd: target.dir }).status,
      1,
      'the good line was not imported either',
    );
  });

  it('refuses an import whose dependencies form a cycle', () => {
    const file = join(target.dir, 'cycle.jsonl');
    const dep = (from: string, to: string) => ({ issue_id: from, depends_on_id: to, type: 'blocks' });
    writeFileSync(
      file,
      [
        JSON.stringify({ id: 'cy-1', title: 'One', dependencies: [dep('cy-1', 'cy-2')] }),
        JSON.stringify({ id: 'cy-2', title: 'Two', dependencies: [dep('cy-2', 'cy-1')] }),
      ].join('\n'),
    );
    const result = bd(['import', file, '--json'], { cwd: target.dir });
    assert.equal(JSON.parse(result.stderr).code, 'GT_E_CYCLE');
    assert.equal(bd(['show', 'cy-1'], { cwd: target.dir }).status, 1);
  });
});
