import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  beadFromHookJson,
  checkRelativePath,
  DEFAULT_BREAK_TESTS_PATH,
  defaultSteps,
  extractSimBlock,
  type ParseResult,
  parseDuration,
  parseSimScript,
  SCRIPT_LIMITS,
  type SimStep,
  safeBeadFileName,
  tokenize,
} from '../../src/runtime/sim/script';

function steps(text: string): SimStep[] {
  const result = parseSimScript(text);
  assert.ok(result.ok, `expected a valid script, got ${JSON.stringify(result)}`);
  return result.steps;
}

function errors(text: string): Array<{ line: number; message: string }> {
  const result: ParseResult = parseSimScript(text);
  assert.equal(result.ok, false, `expected errors for ${JSON.stringify(text)}`);
  return result.ok ? [] : result.errors;
}

describe('sim script: extraction', () => {
  test('finds the first ```sim block inside a bead description', () => {
    const description = [
      'Add the feature.',
      '',
      '```js',
      'console.log("not this")',
      '```',
      '',
      '```sim',
      'write a.txt "x"',
      'done',
      '```',
      '',
      '```sim',
      'crash',
      '```',
    ].join('\n');
    assert.equal(extractSimBlock(description), 'write a.txt "x"\ndone');
  });

  test('tilde fences, longer fences, CRLF, and an unclosed fence', () => {
    assert.equal(extractSimBlock('~~~ sim\r\nsay hi\r\n~~~\r\n'), 'say hi');
    assert.equal(extractSimBlock('````sim\n```\nsay hi\n````'), '```\nsay hi');
    assert.equal(extractSimBlock('```sim\nsay open'), 'say open');
    assert.equal(extractSimBlock('no block here'), undefined);
    assert.equal(extractSimBlock('```simulator\nsay x\n```'), undefined);
  });

  test('bare steps (no fence) parse as a script', () => {
    assert.deepEqual(
      steps('say hello\ndone').map((s) => s.kind),
      ['say', 'done'],
    );
  });
});

describe('sim script: the example from the issue', () => {
  test('parses into typed steps with line numbers', () => {
    const parsed = steps(
      [
        '```sim',
        'write src/feature.txt "hello"',
        'append README.md "line"',
        'run npm test',
        'commit "Add feature"',
        'sleep 2s',
        'usage input=1200 output=300 model=sim-small',
        'done',
        '```',
      ].join('\n'),
    );
    assert.deepEqual(parsed, [
      { kind: 'write', line: 1, path: 'src/feature.txt', content: 'hello' },
      { kind: 'append', line: 2, path: 'README.md', content: 'line' },
      { kind: 'run', line: 3, argv: ['npm', 'test'] },
      { kind: 'commit', line: 4, message: 'Add feature' },
      { kind: 'sleep', line: 5, ms: 2000 },
      {
        kind: 'usage',
        line: 6,
        usage: {
          model: 'sim-small',
          input_tokens: 1200,
          output_tokens: 300,
          cache_read_input_tokens: 0,
          cache_creation_input_tokens: 0,
        },
      },
      { kind: 'done', line: 7, args: [] },
    ]);
  });

  test('every fault and helper step', () => {
    const parsed = steps(
      [
        '# a comment',
        'edit src/a.ts 3 "const x = 1;"',
        'delete old.txt',
        'conflict README.md',
        'conflict README.md 4',
        'break-tests',
        'break-tests test/x.test.mjs',
        'sh "npm test && echo ok"',
        'say working hard   # trailing comment',
        'prime',
        'push-main',
        'usage output=5 cache_read=10 cache_write=20',
        'done --message "all good"',
        'hang',
        'crash',
        'crash 3',
        'exit',
        'exit 4',
      ].join('\n'),
    );
    assert.deepEqual(parsed, [
      { kind: 'edit', line: 2, path: 'src/a.ts', lineNo: 3, content: 'const x = 1;' },
      { kind: 'delete', line: 3, path: 'old.txt' },
      { kind: 'conflict', line: 4, path: 'README.md', lineNo: 1 },
      { kind: 'conflict', line: 5, path: 'README.md', lineNo: 4 },
      { kind: 'break-tests', line: 6, path: DEFAULT_BREAK_TESTS_PATH },
      { kind: 'break-tests', line: 7, path: 'test/x.test.mjs' },
      { kind: 'sh', line: 8, command: 'npm test && echo ok' },
      { kind: 'say', line: 9, text: 'working hard' },
      { kind: 'prime', line: 10 },
      { kind: 'push-main', line: 11 },
      {
        kind: 'usage',
        line: 12,
        usage: {
          input_tokens: 0,
          output_tokens: 5,
          cache_read_input_tokens: 10,
          cache_creation_input_tokens: 20,
        },
      },
      { kind: 'done', line: 13, args: ['--message', 'all good'] },
      { kind: 'hang', line: 14 },
      { kind: 'crash', line: 15, code: 1 },
      { kind: 'crash', line: 16, code: 3 },
      { kind: 'exit', line: 17, code: 0 },
      { kind: 'exit', line: 18, code: 4 },
    ]);
  });
});

describe('sim script: tokenizer', () => {
  test('quotes and escapes', () => {
    assert.deepEqual(tokenize(`write "a b.txt" "line1\\nline2\\t\\"q\\" \\\\"`), {
      ok: true,
      words: ['write', 'a b.txt', 'line1\nline2\t"q" \\'],
    });
    assert.deepEqual(tokenize(`say 'single $HOME \\n' ""`), {
      ok: true,
      words: ['say', 'single $HOME \\n', ''],
    });
    assert.deepEqual(tokenize('say a"b c"d'), { ok: true, words: ['say', 'ab cd'] });
  });

  test('unterminated quotes and unknown escapes are errors', () => {
    assert.equal(tokenize('say "open').ok, false);
    assert.equal(tokenize("say 'open").ok, false);
    assert.equal(tokenize('say "\\x"').ok, false);
    assert.equal(tokenize('say "abc\\').ok, false);
  });
});

describe('sim script: hostile input stays data', () => {
  test('shell metacharacters in run are literal argv words, never a shell line', () => {
    const [step] = steps('run echo $(touch pwned) `id` ; rm -rf x && true | cat > out');
    assert.deepEqual(step, {
      kind: 'run',
      line: 1,
      argv: [
        'echo',
        '$(touch',
        'pwned)',
        '`id`',
        ';',
        'rm',
        '-rf',
        'x',
        '&&',
        'true',
        '|',
        'cat',
        '>',
        'out',
      ],
    });
    const [quoted] = steps('run "echo hi; touch pwned"');
    assert.deepEqual(quoted, { kind: 'run', line: 1, argv: ['echo hi; touch pwned'] });
  });

  test('paths cannot leave the worktree or touch .git', () => {
    for (const bad of [
      '/etc/passwd',
      '../outside.txt',
      'a/../../outside.txt',
      '.git/hooks/pre-commit',
      'sub/.GIT/config',
      '.',
      'C:\\windows\\x',
      '\\\\server\\share',
    ]) {
      assert.ok(checkRelativePath(bad), `should refuse ${bad}`);
      const errs = errors(`write ${JSON.stringify(bad)} "x"`);
      assert.equal(errs.length, 1);
    }
    assert.equal(checkRelativePath('a/../b.txt'), undefined);
    assert.equal(checkRelativePath('./src/x.ts'), undefined);
    assert.equal(checkRelativePath('.github/workflows/ci.yml'), undefined);
  });

  test('control characters and terminal escapes are refused', () => {
    const errs = errors('say "\u001b]0;owned\u0007"\nsay ok\nwrite a.txt "x\u0000"');
    assert.deepEqual(
      errs.map((e) => e.line),
      [1, 3],
    );
    assert.ok(checkRelativePath('a\u001bb'));
  });

  test('every error is reported with its line number', () => {
    const errs = errors(
      [
        'bogus step',
        'write only-one-arg',
        'sleep forever',
        'sleep 25h',
        'crash 256',
        'exit -1',
        'usage input=lots',
        'usage nonsense=1',
        'usage input=1 input=2',
        'usage model="$(rm)"',
        'usage',
        'commit ""',
        'sh ""',
        'run',
        'edit a.txt 0 "x"',
        'hang now',
        'say "unterminated',
      ].join('\n'),
    );
    assert.deepEqual(
      errs.map((e) => e.line),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
    );
    assert.match(errs[0]?.message ?? '', /unknown step "bogus"/);
    assert.match(errs[1]?.message ?? '', /usage: write <path> <content>/);
  });

  test('size and step-count limits', () => {
    const huge = `say ${'x'.repeat(SCRIPT_LIMITS.maxBytes)}`;
    assert.match(errors(huge)[0]?.message ?? '', /larger than/);
    const many = Array.from({ length: SCRIPT_LIMITS.maxSteps + 1 }, () => 'say x').join('\n');
    assert.match(errors(many).at(-1)?.message ?? '', /more than 500 steps/);
  });

  test('an unknown verb is not echoed at length', () => {
    const errs = errors(`${'z'.repeat(5000)} x`);
    assert.ok((errs[0]?.message.length ?? 0) < 300);
  });
});

describe('sim script: durations', () => {
  test('units', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('2s'), 2000);
    assert.equal(parseDuration('2'), 2000);
    assert.equal(parseDuration('1.5m'), 90_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('-1s'), undefined);
    assert.equal(parseDuration('1d'), undefined);
    assert.equal(parseDuration(''), undefined);
  });
});

describe('sim script: hook output and defaults', () => {
  test('reads the bead from several gt hook --json shapes', () => {
    const bead = { id: 'gt-a3f8k', title: 'T', description: 'D' };
    assert.deepEqual(beadFromHookJson(JSON.stringify({ bead })), bead);
    assert.deepEqual(beadFromHookJson(JSON.stringify({ hooked: bead })), bead);
    assert.deepEqual(beadFromHookJson(JSON.stringify({ hook: { bead } })), bead);
    assert.deepEqual(beadFromHookJson(JSON.stringify(bead)), bead);
    assert.deepEqual(beadFromHookJson(JSON.stringify({ bead: { id: 'x-1' } })), {
      id: 'x-1',
      title: '',
      description: '',
    });
    assert.equal(beadFromHookJson(JSON.stringify({ bead: null })), undefined);
    assert.equal(beadFromHookJson('not json'), undefined);
    assert.equal(beadFromHookJson('[1,2]'), undefined);
  });

  test('default steps: own file, commit, usage, done; hostile ids and titles stay data', () => {
    const normal = defaultSteps({ id: 'gt-a3f8k', title: 'Add login', description: '' });
    assert.deepEqual(
      normal.map((s) => s.kind),
      ['say', 'write', 'commit', 'usage', 'done'],
    );
    assert.equal((normal[1] as { path: string }).path, 'sim/gt-a3f8k.md');
    assert.equal((normal[2] as { message: string }).message, 'gt-a3f8k: Add login');

    const hostile = defaultSteps({
      id: '../../etc/passwd',
      title: '$(touch pwned)\n\u001b[2J',
      description: '',
    });
    assert.equal((hostile[1] as { path: string }).path, 'sim/bead.md');
    assert.equal(checkRelativePath((hostile[1] as { path: string }).path), undefined);
    assert.equal((hostile[2] as { message: string }).message, '../../etc/passwd: $(touch pwned)');
    assert.equal(safeBeadFileName('a..b'), 'bead');
    assert.equal(safeBeadFileName('gt-1.2'), 'gt-1.2');
  });
});
