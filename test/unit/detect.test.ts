import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectGates } from '../../src/town/detect';

const pkg = (scripts: Record<string, string>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ name: 'x', scripts, ...extra });

test('package.json with npm lockfile: npm ci, fast scripts as sheriff, npm test as gate', () => {
  const { commands, notes } = detectGates({
    rootEntries: ['package.json', 'package-lock.json'],
    packageJson: pkg({ test: 'vitest run', typecheck: 'tsc', lint: 'eslint .', build: 'tsc -b' }),
  });
  assert.equal(commands.setup?.command, 'npm ci');
  assert.equal(commands.sheriff?.command, 'npm run typecheck && npm run lint');
  assert.equal(commands.gate?.command, 'npm test');
  assert.match(commands.gate?.source ?? '', /package\.json scripts: test/);
  assert.ok(!notes.some((n) => /no test command/.test(n)));
});

test('pnpm and yarn lockfiles and packageManager pick the runner', () => {
  assert.equal(
    detectGates({ rootEntries: ['pnpm-lock.yaml'], packageJson: pkg({ test: 'x' }) }).commands.setup?.command,
    'pnpm install --frozen-lockfile',
  );
  const yarn = detectGates({
    rootEntries: [],
    packageJson: pkg({ test: 'x', lint: 'y' }, { packageManager: 'yarn@4.1.0' }),
  });
  assert.equal(yarn.commands.sheriff?.command, 'yarn run lint');
  assert.equal(yarn.commands.gate?.command, 'yarn test');
  assert.equal(detectGates({ rootEntries: [], packageJson: pkg({}) }).commands.setup?.command, 'npm install');
});

test("npm's placeholder test script is not a gate, and the user is told", () => {
  const { commands, notes } = detectGates({
    rootEntries: ['package.json'],
    packageJson: pkg({ test: 'echo "Error: no test specified" && exit 1' }),
  });
  assert.equal(commands.gate, undefined);
  assert.ok(notes.some((n) => /set \[commands\.gate\]/.test(n)));
});

test('script names that are not plain identifiers never reach a command line', () => {
  const { commands } = detectGates({
    rootEntries: [],
    packageJson: pkg({ 'lint;rm -rf ~': 'x', test: 't' }),
  });
  assert.equal(commands.sheriff, undefined);
});

test('Makefile targets win, the language manifest fills the gaps', () => {
  const { commands } = detectGates({
    rootEntries: ['Makefile', 'go.mod'],
    makefile: 'VAR := 1\n.PHONY: test\ntest:\n\tgo test ./...\nlint: deps\n\tgolangci-lint run\n',
  });
  assert.equal(commands.gate?.command, 'make test');
  assert.equal(commands.sheriff?.command, 'make lint');
  assert.equal(commands.setup?.command, 'go mod download');
});

test('go, cargo and python projects', () => {
  assert.equal(detectGates({ rootEntries: ['go.mod'] }).commands.gate?.command, 'go test ./...');
  assert.equal(
    detectGates({ rootEntries: ['Cargo.toml'] }).commands.sheriff?.command,
    'cargo check --all-targets',
  );
  const uv = detectGates({
    rootEntries: ['pyproject.toml', 'uv.lock'],
    pyproject: '[tool.ruff]\nline-length = 100\n',
  });
  assert.equal(uv.commands.setup?.command, 'uv sync');
  assert.equal(uv.commands.sheriff?.command, 'uv run ruff check .');
  assert.equal(uv.commands.gate?.command, 'uv run pytest');
  const plain = detectGates({ rootEntries: ['pyproject.toml'], pyproject: '[project]\nname = "x"\n' });
  assert.equal(plain.commands.gate?.command, 'python -m pytest');
});

test('nothing detected in an empty repo', () => {
  const { commands, notes } = detectGates({ rootEntries: ['README.md'] });
  assert.deepEqual(commands, {});
  assert.equal(notes.length, 2);
});
