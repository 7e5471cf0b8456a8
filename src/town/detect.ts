import type { GateKind } from './config';
import type { GateCommand } from './templates';

/**
 * Detects a project's setup / sheriff / gate commands from its manifests. Pure: the caller reads the
 * files (RepoFacts) and this decides. Each command says where it came from, so `gt rig add` can tell the
 * user what it detected.
 */
export interface RepoFacts {
  /** Names of files and directories at the repository root. */
  rootEntries: string[];
  packageJson?: string;
  makefile?: string;
  pyproject?: string;
}

export interface DetectedGate extends GateCommand {
  source: string;
}

export interface Detection {
  commands: Partial<Record<GateKind, DetectedGate>>;
  /** Human notes: what was found, what is missing. */
  notes: string[];
}

const NPM_PLACEHOLDER_TEST = /no test specified/;

interface PackageManager {
  name: string;
  install: string;
  run: (script: string) => string;
  test: string;
}

function packageManager(entries: ReadonlySet<string>, declared: string | undefined): PackageManager {
  const which =
    declared?.split('@')[0] ??
    (entries.has('pnpm-lock.yaml')
      ? 'pnpm'
      : entries.has('yarn.lock')
        ? 'yarn'
        : entries.has('bun.lockb') || entries.has('bun.lock')
          ? 'bun'
          : 'npm');
  switch (which) {
    case 'pnpm':
      return {
        name: 'pnpm',
        install: 'pnpm install --frozen-lockfile',
        run: (s) => `pnpm run ${s}`,
        test: 'pnpm test',
      };
    case 'yarn':
      return {
        name: 'yarn',
        install: 'yarn install --frozen-lockfile',
        run: (s) => `yarn run ${s}`,
        test: 'yarn test',
      };
    case 'bun':
      return {
        name: 'bun',
        install: 'bun install --frozen-lockfile',
        run: (s) => `bun run ${s}`,
        test: 'bun run test',
      };
    default:
      return {
        name: 'npm',
        install:
          entries.has('package-lock.json') || entries.has('npm-shrinkwrap.json') ? 'npm ci' : 'npm install',
        run: (s) => `npm run ${s}`,
        test: 'npm test',
      };
  }
}

/** Script names are interpolated into a shell command, so only plain ones are used. */
const SAFE_SCRIPT = /^[A-Za-z0-9:_.-]+$/;

function fromPackageJson(
  facts: RepoFacts,
  entries: ReadonlySet<string>,
  notes: string[],
): Detection['commands'] {
  let pkg: { scripts?: Record<string, unknown>; packageManager?: unknown };
  try {
    pkg = JSON.parse(facts.packageJson as string);
  } catch {
    notes.push('package.json is not valid JSON; no commands detected from it');
    return {};
  }
  const scripts = Object.fromEntries(
    Object.entries(pkg.scripts ?? {}).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string' && SAFE_SCRIPT.test(entry[0]),
    ),
  );
  const pm = packageManager(entries, typeof pkg.packageManager === 'string' ? pkg.packageManager : undefined);
  const commands: Detection['commands'] = {
    setup: { command: pm.install, source: `package.json (${pm.name})` },
  };
  const fast = ['typecheck', 'check-types', 'lint', 'test:unit'].filter(
    (name) => scripts[name] !== undefined,
  );
  if (fast.length > 0) {
    commands.sheriff = {
      command: fast.map((name) => pm.run(name)).join(' && '),
      source: `package.json scripts: ${fast.join(', ')}`,
    };
  }
  if (scripts.test !== undefined && !NPM_PLACEHOLDER_TEST.test(scripts.test)) {
    commands.gate = { command: pm.test, source: 'package.json scripts: test' };
  } else if (scripts.check !== undefined) {
    commands.gate = { command: pm.run('check'), source: 'package.json scripts: check' };
  }
  return commands;
}

function makeTargets(makefile: string): Set<string> {
  const targets = new Set<string>();
  for (const match of makefile.matchAll(/^([A-Za-z0-9_.-]+)\s*:(?!=)/gm)) targets.add(match[1] as string);
  return targets;
}

function fromMakefile(makefile: string): Detection['commands'] {
  const targets = makeTargets(makefile);
  const commands: Detection['commands'] = {};
  const setup = ['deps', 'install-deps', 'setup', 'bootstrap'].find((t) => targets.has(t));
  if (setup) commands.setup = { command: `make ${setup}`, source: `Makefile target ${setup}` };
  const fast = ['check', 'lint', 'vet', 'typecheck'].filter((t) => targets.has(t));
  if (fast.length > 0) {
    commands.sheriff = {
      command: fast.map((t) => `make ${t}`).join(' && '),
      source: `Makefile targets ${fast.join(', ')}`,
    };
  }
  if (targets.has('test')) commands.gate = { command: 'make test', source: 'Makefile target test' };
  return commands;
}

function fromPyproject(facts: RepoFacts, entries: ReadonlySet<string>): Detection['commands'] {
  const text = facts.pyproject ?? '';
  const uv = entries.has('uv.lock');
  const poetry = entries.has('poetry.lock') || /\[tool\.poetry\]/.test(text);
  const run = uv ? 'uv run ' : poetry ? 'poetry run ' : 'python -m ';
  const commands: Detection['commands'] = {
    setup: {
      command: uv ? 'uv sync' : poetry ? 'poetry install' : 'python -m pip install -e .',
      source: `pyproject.toml${uv ? ' (uv.lock)' : poetry ? ' (poetry)' : ''}`,
    },
    gate: { command: `${run}pytest`, source: 'pyproject.toml (pytest)' },
  };
  const fast: string[] = [];
  if (/\[tool\.ruff/.test(text)) fast.push(`${run}ruff check .`);
  if (/\[tool\.mypy/.test(text)) fast.push(`${run}mypy .`);
  if (fast.length > 0)
    commands.sheriff = { command: fast.join(' && '), source: 'pyproject.toml ([tool.ruff]/[tool.mypy])' };
  return commands;
}

export function detectGates(facts: RepoFacts): Detection {
  const entries = new Set(facts.rootEntries);
  const notes: string[] = [];
  const ecosystems: Array<[string, () => Detection['commands']]> = [];
  if (facts.packageJson !== undefined)
    ecosystems.push(['package.json', () => fromPackageJson(facts, entries, notes)]);
  if (entries.has('go.mod')) {
    ecosystems.push([
      'go.mod',
      () => ({
        setup: { command: 'go mod download', source: 'go.mod' },
        sheriff: { command: 'go vet ./...', source: 'go.mod' },
        gate: { command: 'go test ./...', source: 'go.mod' },
      }),
    ]);
  }
  if (entries.has('Cargo.toml')) {
    ecosystems.push([
      'Cargo.toml',
      () => ({
        setup: { command: 'cargo fetch', source: 'Cargo.toml' },
        sheriff: { command: 'cargo check --all-targets', source: 'Cargo.toml' },
        gate: { command: 'cargo test', source: 'Cargo.toml' },
      }),
    ]);
  }
  if (facts.pyproject !== undefined) ecosystems.push(['pyproject.toml', () => fromPyproject(facts, entries)]);

  // The project's own Makefile targets win where they exist; the language manifest fills the gaps.
  const commands: Detection['commands'] = facts.makefile !== undefined ? fromMakefile(facts.makefile) : {};
  const primary = ecosystems[0];
  if (primary) {
    const detected = primary[1]();
    for (const kind of ['setup', 'sheriff', 'gate'] as const) {
      if (!commands[kind] && detected[kind]) commands[kind] = detected[kind];
    }
    if (ecosystems.length > 1) {
      notes.push(
        `also found ${ecosystems
          .slice(1)
          .map(([name]) => name)
          .join(', ')}; used ${primary[0]}`,
      );
    }
  }
  if (!commands.gate) {
    notes.push(
      'no test command found: set [commands.gate] in rig.toml (the Refinery cannot merge without a gate)',
    );
  }
  if (!commands.sheriff) notes.push('no fast checks found: [commands.sheriff] left unset (optional)');
  return { commands, notes };
}
