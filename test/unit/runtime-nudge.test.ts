import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { agentAddress, sessionName } from '../../src/runtime/names';
import { chunkText, enterDelay, looksBusy, sanitizeNudge, textVisible } from '../../src/runtime/nudge';
import {
  inheritableEnv,
  looksSecret,
  parseEnvFile,
  renderLauncherEnv,
  shellQuote,
} from '../../src/runtime/session';

describe('nudge text', () => {
  test('strips escape sequences and control characters, newlines and tabs become spaces', () => {
    assert.equal(sanitizeNudge('\u001b[31mred\u001b[0m\u0007 a\nb\tc\r\n'), 'red a b c');
    assert.equal(sanitizeNudge('\u001b]0;title\u0007hi'), 'hi');
    assert.equal(sanitizeNudge('$(touch x); rm -rf ~ C-c Enter'), '$(touch x); rm -rf ~ C-c Enter');
  });
  test('empty and oversized messages are refused', () => {
    assert.throws(() => sanitizeNudge('\u001b[0m\u0003 '), /empty/);
    assert.throws(() => sanitizeNudge('x'.repeat(9000)), /limit/);
  });
  test('chunks never split a character and respect the byte limit', () => {
    const text = 'é'.repeat(300) + '😀'.repeat(100);
    const chunks = chunkText(text, 512);
    assert.equal(chunks.join(''), text);
    for (const c of chunks) assert.ok(Buffer.byteLength(c) <= 512);
    assert.deepEqual(chunkText('abc', 512), ['abc']);
  });
  test('arrival check ignores wrapping whitespace; busy check looks at the last lines', () => {
    assert.ok(textVisible('> hello wor\n  ld again', 'hello world again'));
    assert.ok(!textVisible('> something else', 'hello world again'));
    assert.ok(looksBusy('working…\n(esc to interrupt)', 'esc to interrupt'));
    assert.ok(!looksBusy('idle\n> ', 'esc to interrupt'));
    assert.ok(!looksBusy('anything', null));
    assert.equal(enterDelay(1, 500), 500);
    assert.equal(enterDelay(100, 500), 2000);
  });
});

describe('session names', () => {
  test('deterministic names', () => {
    assert.equal(sessionName({ role: 'mayor', rig: null, name: 'mayor' }), 'gt-mayor');
    assert.equal(sessionName({ role: 'polecat', rig: 'web', name: 'furiosa' }), 'gt-web-furiosa');
    assert.equal(sessionName({ role: 'crew', rig: 'web', name: 'max' }), 'gt-web-crew-max');
    assert.equal(sessionName({ role: 'witness', rig: 'web', name: 'witness' }), 'gt-web-witness');
    assert.equal(sessionName({ role: 'polecat', rig: 'a.b', name: 'c:d' }), 'gt-a_b-c_d');
    assert.equal(agentAddress({ role: 'polecat', rig: 'web', name: 'nux' }), 'web/nux');
  });
});

describe('launcher environment', () => {
  test('values are single-quoted, identity vars not given are unset', () => {
    const text = renderLauncherEnv({
      name: 'x',
      command: 'c',
      args: [],
      cwd: '/',
      logFile: '/dev/null',
      env: { GT_AGENT: "it's $(x)" },
      secretEnv: { KEY: 'a\nb' },
    });
    assert.match(text, /^unset GT_TOWN$/m);
    assert.match(text, /^export GT_AGENT='it'\\''s \$\(x\)'$/m);
    assert.ok(text.includes("export KEY='a\nb'"));
    assert.throws(() =>
      renderLauncherEnv({
        name: 'x',
        command: 'c',
        args: [],
        cwd: '/',
        logFile: '/dev/null',
        env: { 'A B': '1' },
      }),
    );
    assert.equal(shellQuote("a'b"), "'a'\\''b'");
  });
  test('env files are parsed as data, never executed', () => {
    assert.deepEqual(parseEnvFile('# c\nexport A=1\nB="x y"\nC=\'$(z)\'\n\n'), {
      A: '1',
      B: 'x y',
      C: '$(z)',
    });
    assert.throws(() => parseEnvFile('not a pair'), /expected KEY=VALUE/);
  });
  test('credential-looking variables are not inherited', () => {
    for (const name of [
      'ANTHROPIC_API_KEY',
      'GH_TOKEN',
      'ANTHROPIC_AUTH_TOKEN',
      'AWS_SECRET_ACCESS_KEY',
      'DB_PASSWORD',
    ]) {
      assert.ok(looksSecret(name), name);
    }
    for (const name of ['PATH', 'HOME', 'SSH_AUTH_SOCK', 'ANTHROPIC_BASE_URL', 'GT_TOWN', 'KEYBOARD']) {
      assert.ok(!looksSecret(name), name);
    }
    assert.deepEqual(inheritableEnv({ PATH: '/bin', OPENAI_API_KEY: 'x' }), { PATH: '/bin' });
  });
});
