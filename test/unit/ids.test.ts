import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  candidateIds,
  derivePrefix,
  hashLengthFor,
  hashSuffix,
  isWellFormedId,
  prefixOf,
  validatePrefix,
} from '../../src/core/ids';

describe('bead ids', () => {
  it('grows the hash length with the number of beads (birthday bound ≤ 25%)', () => {
    assert.equal(hashLengthFor(0), 3);
    assert.equal(hashLengthFor(163), 3);
    assert.equal(hashLengthFor(164), 4);
    assert.equal(hashLengthFor(983), 4);
    assert.equal(hashLengthFor(984), 5);
    assert.equal(hashLengthFor(35_389), 6);
    assert.equal(hashLengthFor(212_339), 7);
    assert.equal(hashLengthFor(10_000_000), 8);
  });

  it('renders suffixes of exactly the requested length in base36', () => {
    for (let length = 3; length <= 8; length++) {
      const suffix = hashSuffix(`seed-${length}`, length);
      assert.equal(suffix.length, length);
      assert.match(suffix, /^[0-9a-z]+$/);
    }
    assert.equal(hashSuffix('same', 5), hashSuffix('same', 5));
  });

  it('tries ten nonces per length, then longer ids', () => {
    const ids = [...candidateIds('gt', 'seed', 0)];
    assert.equal(ids.length, 60);
    assert.ok(ids.slice(0, 10).every((id) => /^gt-[0-9a-z]{3}$/.test(id)));
    assert.ok(ids.slice(50).every((id) => /^gt-[0-9a-z]{8}$/.test(id)));
    assert.equal(new Set(ids).size, ids.length);
  });

  it('derives and validates prefixes', () => {
    assert.equal(derivePrefix('My Web-App'), 'my-web-app');
    assert.equal(derivePrefix('.hidden'), 'hidden');
    assert.equal(derivePrefix('123abc'), 'bd_123abc');
    assert.equal(validatePrefix('gt'), 'gt');
    assert.throws(() => validatePrefix('Bad Prefix'), { code: 'GT_E_INVALID_INPUT' });
    assert.throws(() => validatePrefix(''), { code: 'GT_E_INVALID_INPUT' });
  });

  it('knows well-formed ids and their prefix', () => {
    assert.ok(isWellFormedId('gt-a3f8k'));
    assert.ok(isWellFormedId('web-app-x1.2.3'));
    assert.ok(!isWellFormedId('gt a3f'));
    assert.ok(!isWellFormedId('../etc'));
    assert.equal(prefixOf('web-app-x1.2'), 'web-app');
    assert.equal(prefixOf('gt-abc'), 'gt');
  });
});
