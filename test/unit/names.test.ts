import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isGtError } from '../../src/core/errors';
import { checkName, validateName } from '../../src/town/names';

test('valid names pass', () => {
  for (const name of ['app', 'web-api', 'a', 'x_1', '9lives', 'a'.repeat(40)]) {
    assert.equal(checkName('rig', name), undefined, name);
  }
});

test('each hostile name is refused with the rule it breaks', () => {
  const cases: Array<[string, string]> = [
    ['', 'non-empty'],
    ['a'.repeat(41), 'max-length'],
    ['../etc', 'no-path-separator'],
    ['a\\b', 'no-path-separator'],
    ['..', 'no-dot-dot'],
    ['a..b', 'no-dot-dot'],
    ['-rf', 'no-leading-dash'],
    ['--force', 'no-leading-dash'],
    ['.git', 'no-leading-dot'],
    ['a b', 'no-whitespace-or-control'],
    ['a\tb', 'no-whitespace-or-control'],
    ['esc\u001b[31m', 'no-whitespace-or-control'],
    ['Web', 'lowercase'],
    ['a;b', 'charset'],
    ['$(id)', 'charset'],
    ['a:b', 'charset'],
    ['a.b', 'charset'],
    ['_x', 'charset'],
    ['naïve', 'charset'],
    ['mayor', 'reserved'],
    ['refinery', 'reserved'],
    ['nul', 'reserved'],
  ];
  for (const [name, rule] of cases) {
    assert.equal(checkName('polecat', name)?.rule, rule, JSON.stringify(name));
  }
});

test('validateName throws GT_E_INVALID_NAME naming the kind and the rule', () => {
  try {
    validateName('crew', 'a/b');
    assert.fail('should throw');
  } catch (error) {
    assert.ok(isGtError(error));
    assert.equal(error.code, 'GT_E_INVALID_NAME');
    assert.match(error.message, /crew name "a\/b" contains a path separator \(rule: no-path-separator\)/);
    assert.match(error.hint ?? '', /lowercase letters/);
  }
  assert.equal(validateName('rig', 'ok'), 'ok');
});
