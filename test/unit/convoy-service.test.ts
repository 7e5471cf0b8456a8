import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openLedger } from '../../src/ledger/open';
import { BeadStore } from '../../src/ledger/store';
import {
  createConvoy,
  ensureConvoyFor,
  landConvoys,
  onBeadsClosed,
  reconcileConvoys,
  showConvoy,
} from '../../src/services/convoy';
import { inbox } from '../../src/services/mail';

// The service API the Refinery and daemon call, in process against a real SQLite ledger.
const dir = mkdtempSync(join(tmpdir(), 'gt-convoy-svc-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const db = openLedger(join(dir, 'ledger.db'), { create: true });
after(() => db.close());
const store = new BeadStore(db, 'refinery');
store.setConfig('issue_prefix', 'hq');
const log = join(dir, 'notify.log');
writeFileSync(
  join(dir, 'notify.mjs'),
  `import { appendFileSync, readFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(log)}, readFileSync(0, 'utf8'));\n`,
);
const notify = { command: [process.execPath, './notify.mjs'], timeout: '20s' };

test('onBeadsClosed lands only the convoys those beads complete, once', async () => {
  const a = store.create({ title: 'a' });
  const b = store.create({ title: 'b' });
  const c = store.create({ title: 'c' });
  const both = createConvoy(store, 'a and b', [a.id, b.id]);
  const onlyC = createConvoy(store, 'c', [c.id]);
  store.close(a.id, 'Merged in 1234567');
  assert.deepEqual((await onBeadsClosed(store, [a.id], { notify, root: dir })).landed, []);
  store.close(b.id, 'Merged in 89abcde');
  store.close(c.id, 'Merged in 89abcde');
  // Only the convoys holding b are considered: c's convoy waits for a reconcile (or its own close event).
  const first = await onBeadsClosed(store, [b.id], { notify, root: dir });
  assert.deepEqual(
    first.landed.map((l) => l.id),
    [both.id],
  );
  assert.deepEqual(first.notified, [{ id: both.id, ok: true, error: null }]);
  assert.equal(showConvoy(store, onlyC.id).status, 'open');
  // Repeated and concurrent calls land nothing twice and run the notify command once per landing.
  const again = await Promise.all([
    reconcileConvoys(store, { notify, root: dir }),
    reconcileConvoys(store, { notify, root: dir }),
    onBeadsClosed(store, [a.id, b.id, c.id], { notify, root: dir }),
  ]);
  assert.deepEqual(
    again.flatMap((r) => r.landed.map((l) => l.id)),
    [onlyC.id],
  );
  assert.equal(landConvoys(store).length, 0);
  const calls = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(calls.map((c) => c.id).sort(), [both.id, onlyC.id].sort());
  assert.equal(inbox(db, 'mayor').messages.filter((m) => m.kind === 'convoy_landed').length, 2);
  assert.equal(inbox(db, 'human').messages.filter((m) => m.kind === 'convoy_landed').length, 2);
});

test('ensureConvoyFor reuses the open convoy of a bead, else creates "Work: <title>"', () => {
  const bead = store.create({ title: 'lonely $(rm -rf ~)' });
  const made = ensureConvoyFor(store, bead.id);
  assert.equal(made.created, true);
  assert.equal(made.convoy.name, 'Work: lonely $(rm -rf ~)');
  assert.deepEqual(made.convoy.progress, { merged: 0, total: 1 });
  const again = ensureConvoyFor(store, bead.id);
  assert.equal(again.created, false);
  assert.equal(again.convoy.id, made.convoy.id);
});

test('a version-3 ledger with data migrates to 4 (backup kept, data intact, new tables usable)', async () => {
  const { default: Database } = await import('better-sqlite3');
  const { MIGRATIONS } = await import('../../src/ledger/migrations');
  const { LEDGER_APPLICATION_ID } = await import('../../src/ledger/open');
  const file = join(dir, 'v3.db');
  const raw = new Database(file);
  for (const m of MIGRATIONS.filter((m) => m.version <= 3)) raw.exec(m.sql);
  raw.pragma('user_version = 3');
  raw.pragma(`application_id = ${LEDGER_APPLICATION_ID}`);
  raw
    .prepare("INSERT INTO beads (id, title, created_at, updated_at) VALUES ('old-abc', 'from before', 1, 1)")
    .run();
  raw.prepare("INSERT INTO config (key, value) VALUES ('issue_prefix', 'old')").run();
  raw.close();
  const migrated = openLedger(file);
  try {
    assert.equal(migrated.pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.ok(readFileSync(`${file}.v3.bak`).length > 0, 'backup of the v3 file');
    const s = new BeadStore(migrated, 'test');
    const convoy = createConvoy(s, 'after the upgrade', ['old-abc']);
    assert.deepEqual(convoy.progress, { merged: 0, total: 1 });
  } finally {
    migrated.close();
  }
});
