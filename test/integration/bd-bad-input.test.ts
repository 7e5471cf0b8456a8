import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BD_BIN, bd, bdJson, cleanEnv, initLedger, tempDir } from '../helpers/bd';

type Json = Record<string, unknown>;

function errorOf(result: { status: number; stderr: string }): { code: string; error: string; hint?: string } {
  assert.notEqual(result.status, 0, 'a refused command exits non-zero');
  return JSON.parse(result.stderr.trim().split('\n').pop()!);
}

describe('bd: bad input gets a clear error and writes nothing', () => {
  let dir: string;
  let cleanup: () => void;
  const run = (args: (string | Buffer)[], input?: string | Buffer) =>
    bd([...args, '--json'], { cwd: dir, input });
  const count = () => bdJson<Json[]>(['list', '--all', '-n', '0'], { cwd: dir }).length;

  before(() => {
    ({ dir, cleanup } = initLedger('bad'));
    bdJson(['create', 'Existing'], { cwd: dir });
  });
  after(() => cleanup());

  it('names the problem with a stable code and a hint for each kind of bad field', () => {
    const cases: Array<[string[], string]> = [
      [['create', ''], 'GT_E_EMPTY_TITLE'],
      [['create', '   '], 'GT_E_EMPTY_TITLE'],
      [['create', 'x', '-p', 'high'], 'GT_E_INVALID_PRIORITY'],
      [['create', 'x', '-p', '7'], 'GT_E_INVALID_PRIORITY'],
      [['create', 'x', '-t', 'wish'], 'GT_E_INVALID_TYPE'],
      [['create', 'x', '--deps', 'bad-nope'], 'GT_E_NOT_FOUND'],
      [['create', 'x', '--deps', 'weird:bad-1'], 'GT_E_INVALID_DEP_TYPE'],
      [['create', 'x'.repeat(501)], 'GT_E_TOO_LARGE'],
      [['create', 'x', '-l', 'has space'], 'GT_E_INVALID_LABEL'],
      [['update', 'bad-nope', '-p', '1'], 'GT_E_NOT_FOUND'],
      [['update', 'bad-', '--status', 'finished'], 'GT_E_INVALID_STATUS'],
      [['list', '--status', 'finished'], 'GT_E_INVALID_STATUS'],
      [['show', 'nope-123'], 'GT_E_NOT_FOUND'],
      [['frobnicate'], 'GT_E_USAGE'],
    ];
    const before = count();
    for (const [args, code] of cases) {
      const error = errorOf(run(args));
      assert.equal(error.code, code, `bd ${args.join(' ').slice(0, 60)}`);
      assert.ok(error.error.length > 0);
      assert.ok(error.hint && error.hint.length > 0, `a hint for ${code}`);
    }
    assert.equal(count(), before, 'nothing was created by refused commands');
    assert.equal(run(['frobnicate']).status, 2, 'usage errors exit 2');
  });

  it('refuses a 10 MB description from a file or stdin, and creates nothing', () => {
    const big = join(dir, 'big.txt');
    writeFileSync(big, 'x'.repeat(10 * 1024 * 1024));
    const before = count();
    assert.equal(errorOf(run(['create', 'Huge', '--body-file', big])).code, 'GT_E_TOO_LARGE');
    assert.equal(
      errorOf(run(['create', 'Huge', '--stdin'], 'y'.repeat(10 * 1024 * 1024))).code,
      'GT_E_TOO_LARGE',
    );
    assert.equal(count(), before);
  });

  it('refuses invalid UTF-8 in arguments and in files', () => {
    const before = count();
    // Node cannot pass raw bytes as argv, so let a shell build the broken argument.
    const raw = spawnSync(
      'sh',
      ['-c', `exec "$0" "$1" create "$(printf 'Bad\\377\\376!')" --json`, process.execPath, BD_BIN],
      {
        cwd: dir,
        env: cleanEnv(),
        encoding: 'utf8',
      },
    );
    assert.equal(errorOf({ status: raw.status ?? -1, stderr: raw.stderr }).code, 'GT_E_INVALID_UTF8');
    const badFile = join(dir, 'bad.txt');
    writeFileSync(badFile, Buffer.from([0x68, 0x69, 0xc3, 0x28]));
    assert.equal(errorOf(run(['create', 'From file', '--body-file', badFile])).code, 'GT_E_INVALID_UTF8');
    assert.equal(count(), before);
    // A genuine U+FFFD is fine.
    assert.equal(run(['create', 'Replacement \uFFFD char']).status, 0);
  });

  it('tells the user what to run when there is no ledger', () => {
    const empty = tempDir();
    try {
      const error = errorOf(bd(['list', '--json'], { cwd: empty.path }));
      assert.equal(error.code, 'GT_E_NO_LEDGER');
      assert.match(error.hint!, /bd init/);
      const viaDb = errorOf(bd(['list', '--json', '--db', join(empty.path, 'none.db')], { cwd: empty.path }));
      assert.equal(viaDb.code, 'GT_E_NO_LEDGER');
    } finally {
      empty.cleanup();
    }
  });

  it('refuses a ledger from a newer version and never downgrades it', () => {
    const other = initLedger('newer');
    try {
      const path = join(other.dir, '.beads', 'beads.db');
      const db = new Database(path);
      db.pragma('user_version = 99');
      db.close();
      const error = errorOf(bd(['list', '--json'], { cwd: other.dir }));
      assert.equal(error.code, 'GT_E_LEDGER_TOO_NEW');
      const check = new Database(path, { readonly: true });
      assert.equal(check.pragma('user_version', { simple: true }), 99);
      check.close();
    } finally {
      other.cleanup();
    }
  });

  it('refuses a corrupt file and leaves it byte-for-byte unchanged', () => {
    const other = initLedger('corrupt');
    try {
      const path = join(other.dir, '.beads', 'beads.db');
      const garbage = Buffer.from('this is not a database at all\n'.repeat(200));
      writeFileSync(path, garbage);
      for (const args of [['list'], ['create', 'x'], ['ready']]) {
        const error = errorOf(bd([...args, '--json'], { cwd: other.dir }));
        assert.equal(error.code, 'GT_E_LEDGER_CORRUPT');
      }
      assert.deepEqual(readFileSync(path), garbage);
    } finally {
      other.cleanup();
    }
  });

  it('refuses a SQLite database that is not a ledger', () => {
    const other = tempDir();
    try {
      const path = join(other.path, 'foreign.db');
      const db = new Database(path);
      db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
      db.close();
      const error = errorOf(bd(['list', '--json', '--db', path], { cwd: other.path }));
      assert.equal(error.code, 'GT_E_LEDGER_FOREIGN');
      const check = new Database(path, { readonly: true });
      assert.equal(check.pragma('user_version', { simple: true }), 0);
      check.close();
    } finally {
      other.cleanup();
    }
  });

  it('refuses to initialise over an existing ledger', () => {
    const error = errorOf(bd(['init', '--json'], { cwd: dir }));
    assert.equal(error.code, 'GT_E_LEDGER_EXISTS');
  });
});
