/**
 * The sample project `gt demo` (and the daemon's tests) run the factory on: a tiny JavaScript string
 * library with a real node:test suite. The Sheriff is a fast syntax check of every source file; the gate
 * is the whole test suite, so a branch that breaks a test passes the Sheriff and is caught — and isolated
 * by bisection — in a batch.
 */
export const SAMPLE_GATE = 'node --test';
export const SAMPLE_SHERIFF = 'node scripts/check.mjs';

export function sampleProjectFiles(): Record<string, string> {
  return {
    'package.json': `${JSON.stringify(
      {
        name: 'textkit',
        version: '0.0.0',
        private: true,
        type: 'commonjs',
        scripts: { test: 'node --test' },
      },
      null,
      2,
    )}\n`,
    'README.md': '# textkit\n\nSmall string helpers, built by a fleet of simulated polecats.\n',
    'src/index.js': "'use strict';\n\nexports.identity = (s) => String(s);\n",
    'test/index.test.js': [
      "'use strict';",
      "const test = require('node:test');",
      "const assert = require('node:assert/strict');",
      "const { identity } = require('../src/index.js');",
      '',
      "test('identity returns its input as a string', () => {",
      "  assert.equal(identity('x'), 'x');",
      "  assert.equal(identity(3), '3');",
      '});',
      '',
    ].join('\n'),
    'scripts/check.mjs': [
      '// The Sheriff: every .js/.mjs file under src/, test/ and scripts/ must parse (node --check).',
      "import { execFileSync } from 'node:child_process';",
      "import { readdirSync, statSync } from 'node:fs';",
      "import { join } from 'node:path';",
      'const files = [];',
      'const walk = (dir) => {',
      '  let entries = [];',
      '  try { entries = readdirSync(dir); } catch { return; }',
      '  for (const name of entries) {',
      '    const path = join(dir, name);',
      '    if (statSync(path).isDirectory()) walk(path);',
      '    else if (/\\.(c|m)?js$/.test(name)) files.push(path);',
      '  }',
      '};',
      "for (const dir of ['src', 'test', 'scripts']) walk(dir);",
      "for (const file of files) execFileSync(process.execPath, ['--check', file], { stdio: 'inherit' });",
      "console.log('checked', files.length, 'files');",
      '',
    ].join('\n'),
  };
}

/** A sim script for one feature bead: a module, its test, a commit, gt done. */
export interface FeatureSpec {
  /** File stem, e.g. 'reverse' → src/reverse.js and test/reverse.test.js. */
  name: string;
  /** The function's body expression over `s`, e.g. "[...s].reverse().join('')". */
  body: string;
  /** [input, expected output] pairs the test asserts. */
  cases: Array<[string, string]>;
  /** Other features this one's code requires (so it cannot work before they land). */
  requires?: readonly string[];
}

function jsString(value: string): string {
  return JSON.stringify(value);
}

/** Quotes a value for the sim script language ("…" with \\ \" \n escapes). */
export function simQuote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

export function featureFiles(spec: FeatureSpec): Record<string, string> {
  const imports = (spec.requires ?? [])
    .map((dep) => `const ${camel(dep)} = require('./${dep}.js');\n`)
    .join('');
  const module = `'use strict';\n${imports ? `\n${imports}` : ''}\nmodule.exports = function ${camel(spec.name)}(s) {\n  return ${spec.body};\n};\n`;
  const test = [
    "'use strict';",
    "const test = require('node:test');",
    "const assert = require('node:assert/strict');",
    `const fn = require('../src/${spec.name}.js');`,
    '',
    `test('${spec.name}', () => {`,
    ...spec.cases.map(([input, output]) => `  assert.equal(fn(${jsString(input)}), ${jsString(output)});`),
    '});',
    '',
  ].join('\n');
  return { [`src/${spec.name}.js`]: module, [`test/${spec.name}.test.js`]: test };
}

export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The sim steps that write a feature's files and commit them (no `done`). */
export function featureSteps(spec: FeatureSpec, message: string): string[] {
  return [
    ...Object.entries(featureFiles(spec)).map(([path, content]) => `write ${path} ${simQuote(content)}`),
    `commit ${simQuote(message)}`,
  ];
}

/** Wraps steps as the ```sim block a bead description carries. */
export function simBlock(steps: readonly string[], prose = ''): string {
  return `${prose ? `${prose}\n\n` : ''}\`\`\`sim\n${steps.join('\n')}\n\`\`\`\n`;
}
