import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePriority, parseStatus, validateTitle } from '../../src/core/bead';
import { parseDepSpec, parseDepSpecs } from '../../src/core/dep-spec';
import { findCycle, findPath } from '../../src/core/graph';

const adjacency = (edges: Record<string, string[]>) => (id: string) => edges[id] ?? [];

describe('graph helpers', () => {
  it('finds the shortest path', () => {
    const next = adjacency({ a: ['b', 'c'], b: ['d'], c: ['d'], d: ['e'] });
    assert.deepEqual(findPath('a', 'e', next), ['a', 'b', 'd', 'e']);
    assert.equal(findPath('e', 'a', next), null);
    assert.deepEqual(findPath('a', 'a', next), ['a']);
  });

  it('handles long chains without recursion limits', () => {
    const edges: Record<string, string[]> = {};
    for (let i = 0; i < 50_000; i++) edges[`n${i}`] = [`n${i + 1}`];
    assert.equal(findPath('n0', 'n50000', adjacency(edges))?.length, 50_001);
  });

  it('finds a cycle or reports none', () => {
    assert.equal(
      findCycle([
        ['a', 'b'],
        ['b', 'c'],
      ]),
      null,
    );
    const cycle = findCycle([
      ['x', 'a'],
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'a'],
    ]);
    assert.ok(cycle);
    assert.equal(cycle[0], cycle[cycle.length - 1]);
    assert.deepEqual(new Set(cycle), new Set(['a', 'b', 'c']));
  });
});

describe('input parsing', () => {
  it('parses dependency specs like beads', () => {
    assert.deepEqual(parseDepSpec('gt-1'), { type: 'blocks', target: 'gt-1', reversed: false });
    assert.deepEqual(parseDepSpec('blocks:gt-1'), { type: 'blocks', target: 'gt-1', reversed: true });
    assert.deepEqual(parseDepSpec('discovered-from:gt-2'), {
      type: 'discovered-from',
      target: 'gt-2',
      reversed: false,
    });
    assert.equal(parseDepSpecs('a-1, related:a-2,').length, 2);
    assert.throws(() => parseDepSpec('bogus:gt-1'), { code: 'GT_E_INVALID_DEP_TYPE' });
    assert.throws(() => parseDepSpec('related:'), { code: 'GT_E_INVALID_INPUT' });
  });

  it('accepts 0-4 and P0-P4 priorities only', () => {
    assert.equal(parsePriority('P1'), 1);
    assert.equal(parsePriority('4'), 4);
    for (const bad of ['high', '5', '-1', '1.5', '']) {
      assert.throws(() => parsePriority(bad), { code: 'GT_E_INVALID_PRIORITY' });
    }
  });

  it('validates statuses and titles', () => {
    assert.equal(parseStatus('in-progress'), 'in_progress');
    assert.throws(() => parseStatus('done'), { code: 'GT_E_INVALID_STATUS' });
    assert.throws(() => validateTitle('   '), { code: 'GT_E_EMPTY_TITLE' });
    assert.throws(() => validateTitle('x'.repeat(501)), { code: 'GT_E_TOO_LARGE' });
    assert.equal(validateTitle('  ok  '), 'ok');
  });
});
