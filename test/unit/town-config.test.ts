import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse as parseRaw } from 'smol-toml';
import {
  formatGateCommand,
  formatIssues,
  rigConfigSchema,
  townConfigSchema,
  validateToml,
} from '../../src/town/config';
import { parseDuration } from '../../src/town/duration';
import { rigTomlText, townTomlText } from '../../src/town/templates';
import { parseCliValue, setTomlValueText } from '../../src/town/toml-edit';

test('the generated town.toml and rig.toml validate', () => {
  const town = validateToml('town.toml', townTomlText('my "town"'), townConfigSchema);
  assert.ok(town.ok);
  assert.equal(town.value.name, 'my "town"');
  assert.equal(town.value.scheduler.max_polecats, 4);
  const rig = validateToml(
    'rig.toml',
    rigTomlText('app', {
      defaultBranch: 'main',
      prefix: 'app',
      upstream: '/x/y',
      experimental: false,
      commands: { gate: { command: 'npm test' } },
      detectedFrom: ['package.json'],
    }),
    rigConfigSchema,
  );
  assert.ok(rig.ok);
  assert.equal(rig.value.commands.gate?.timeout, '30m');
  assert.equal(rig.value.commands.sheriff, undefined);
});

test('a minimal town.toml gets defaults', () => {
  const result = validateToml('town.toml', 'name = "t"\n', townConfigSchema);
  assert.ok(result.ok);
  assert.equal(result.value.budget.daily_usd, 50);
  assert.deepEqual(result.value.roles, {});
});

test('issues name the file, key, problem and an example; unknown keys are listed', () => {
  const result = validateToml(
    '/t/town.toml',
    'name = "t"\ncolor = 1\n[scheduler]\nmax_polecats = 0\npoll_interval = "soon"\n[roles.mayor]\nagnet = "claude"\n',
    townConfigSchema,
  );
  assert.ok(!result.ok);
  const byKey = Object.fromEntries(result.issues.map((issue) => [issue.key, issue]));
  assert.match(byKey.color?.message ?? '', /unknown key \(known keys: name, ledger/);
  assert.match(byKey['scheduler.max_polecats']?.message ?? '', />=1/);
  assert.match(byKey['scheduler.max_polecats']?.example ?? '', /max_polecats = 4/);
  assert.match(byKey['scheduler.poll_interval']?.message ?? '', /duration like/);
  assert.match(
    byKey['roles.mayor.agnet']?.message ?? '',
    /unknown key \(known keys in \[roles.mayor\]: agent, model/,
  );
  assert.ok(result.issues.every((issue) => issue.file === '/t/town.toml'));
  assert.ok(!result.ok && byKey.name === undefined);
});

test('missing required keys and syntax errors are reported with position', () => {
  const missing = validateToml('rig.toml', 'prefix = "a"\n', rigConfigSchema);
  assert.ok(!missing.ok);
  assert.match(missing.issues.find((i) => i.key === 'default_branch')?.message ?? '', /required/);
  const syntax = validateToml('rig.toml', 'a = 1\nb = [\n', rigConfigSchema);
  assert.ok(!syntax.ok);
  assert.equal(syntax.issues[0]?.key, '(syntax)');
  assert.match(syntax.issues[0]?.message ?? '', /line \d+, column \d+/);
});

test('rig commands: a command line (string) or an argv array; anything else is refused naming the key', () => {
  const rig = (command: string) =>
    validateToml(
      '/t/rig.toml',
      `default_branch = "main"\nprefix = "a"\n[commands.gate]\ncommand = ${command}\n`,
      rigConfigSchema,
    );
  const line = rig('"npm test && echo ok"');
  assert.ok(line.ok);
  assert.equal(line.value.commands.gate?.command, 'npm test && echo ok');
  const argv = rig('["node", "--test", "a;b $(x).js"]');
  assert.ok(argv.ok);
  assert.deepEqual(argv.value.commands.gate?.command, ['node', '--test', 'a;b $(x).js']);
  assert.equal(formatGateCommand(['node', 'a b']), '["node","a b"]');
  assert.equal(formatGateCommand('npm test'), 'npm test');
  assert.ok(rig(JSON.stringify(Array.from({ length: 64 }, () => 'x'))).ok, '64 elements are allowed');

  const refused: Array<[string, string, RegExp]> = [
    ['""', 'commands.gate.command', /must not be empty/],
    ['[]', 'commands.gate.command', /must not be an empty array/],
    ['["npm", ""]', 'commands.gate.command.1', /must not be empty/],
    ['42', 'commands.gate.command', /must be a command line \(a string\) or an argv array of strings/],
    ['["npm", 1]', 'commands.gate.command', /must be a command line \(a string\) or an argv array/],
    [JSON.stringify(Array.from({ length: 65 }, () => 'x')), 'commands.gate.command', /at most 64/],
  ];
  for (const [value, key, message] of refused) {
    const result = rig(value);
    assert.ok(!result.ok, value);
    assert.equal(result.issues.length, 1, `${value}: ${formatIssues(result.issues)}`);
    const issue = result.issues[0]!;
    assert.equal(issue.key, key, value);
    assert.match(issue.message, message, value);
    assert.match(
      issue.example ?? '',
      /command = \["npm", "test"\]/,
      `${value}: the example shows both forms`,
    );
    assert.match(formatIssues(result.issues), new RegExp(`^/t/rig\\.toml: ${key.replace(/\./g, '\\.')}: `));
  }
  const missing = validateToml(
    'rig.toml',
    'default_branch = "main"\nprefix = "a"\n[commands.gate]\ntimeout = "1m"\n',
    rigConfigSchema,
  );
  assert.ok(!missing.ok);
  assert.equal(missing.issues[0]?.key, 'commands.gate.command');
  assert.match(missing.issues[0]?.message ?? '', /is required but missing/);
});

test('the generated rig.toml writes an argv command as a TOML array', () => {
  const text = rigTomlText('app', {
    defaultBranch: 'main',
    prefix: 'app',
    upstream: '/x/y',
    experimental: false,
    commands: { gate: { command: ['sh', '-c', 'echo "$1"', 'x;y'] }, sheriff: { command: 'make lint' } },
    detectedFrom: [],
  });
  const rig = validateToml('rig.toml', text, rigConfigSchema);
  assert.ok(rig.ok, text);
  assert.deepEqual(rig.value.commands.gate?.command, ['sh', '-c', 'echo "$1"', 'x;y']);
  assert.equal(rig.value.commands.sheriff?.command, 'make lint');
});

test('hostile branch names and prefixes are refused in rig.toml', () => {
  for (const branch of ['-main', 'a..b', 'x y', 'a@{1}', 'end/', '']) {
    const r = validateToml(
      'rig.toml',
      `default_branch = ${JSON.stringify(branch)}\nprefix = "a"\n`,
      rigConfigSchema,
    );
    assert.ok(!r.ok, branch);
  }
  const p = validateToml('rig.toml', 'default_branch = "main"\nprefix = "A-"\n', rigConfigSchema);
  assert.ok(!p.ok);
});

// Parsed TOML tables have a null prototype; compare by value.
const parse = (text: string) => JSON.parse(JSON.stringify(parseRaw(text)));

test('line edits keep comments and layout', () => {
  const text =
    '# top\nname = "t"\n\n[scheduler]\n# how many\nmax_polecats = 4 # inline\npoll_interval = "5s"\n\n[budget]\ndaily_usd = 1\n';
  const edited = setTomlValueText(text, ['scheduler', 'max_polecats'], 8);
  assert.equal(edited, text.replace('max_polecats = 4 # inline', 'max_polecats = 8 # inline'));
  const added = setTomlValueText(text, ['budget', 'per_bead_usd'], 2) ?? '';
  assert.deepEqual((parse(added) as { budget: unknown }).budget, { daily_usd: 1, per_bead_usd: 2 });
  const root = setTomlValueText(text, ['ledger_note'], 'x') ?? '';
  assert.equal((parse(root) as { ledger_note: string }).ledger_note, 'x');
  assert.match(root, /^# top/);
  const table = setTomlValueText(text, ['roles', 'mayor', 'agent'], 'codex') ?? '';
  assert.deepEqual((parse(table) as { roles: unknown }).roles, { mayor: { agent: 'codex' } });
  assert.equal(setTomlValueText('a = [\n1,\n]\n', ['a'], [2]), undefined, 'multi-line values fall back');
});

test('CLI values: TOML literals or plain strings', () => {
  assert.equal(parseCliValue('8'), 8);
  assert.equal(parseCliValue('true'), true);
  assert.equal(parseCliValue('"8"'), '8');
  assert.equal(parseCliValue('10m'), '10m');
  assert.deepEqual(parseCliValue('["a", "b"]'), ['a', 'b']);
  assert.equal(parseCliValue('$(rm -rf ~)'), '$(rm -rf ~)');
});

test('durations', () => {
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('15'), 15_000);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(parseDuration('10 m'), undefined);
});
