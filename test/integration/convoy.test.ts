import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { bd } from '../helpers/bd';
import { makeTown } from '../helpers/gt';
import { addAgents } from '../helpers/ledger-fixtures';

interface Convoy {
  id: string;
  name: string;
  status: string;
  progress: { merged: number; total: number };
  complete: boolean;
  notify: { state: string; error: string | null };
  members?: Array<{ id: string; rig: string | null; status: string; polecat: string | null; mr_state: null }>;
  added?: string[];
}

describe('gt convoy', async () => {
  const sandbox = await makeTown({ rig: true });
  const { town, gt, gtJson } = sandbox;
  after(() => sandbox.cleanup());
  const web = sandbox.makeRepo('web-src', { 'README.md': 'web\n' });
  const addWeb = await gt(['rig', 'add', 'web', web], { cwd: town });
  assert.equal(addWeb.code, 0, addWeb.stderr);

  const bdIn = (args: string[]) => {
    const result = bd(args, { cwd: town });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.trim();
  };
  const create = (title: string, rig: string) => bdIn(['create', title, '--rig', rig, '--silent']);
  const gtErr = async (args: string[]) => {
    const result = await gt([...args, '--json'], { cwd: town });
    assert.notEqual(result.code, 0, `gt ${args.join(' ')} should fail`);
    return JSON.parse(result.stderr) as { code: string; error: string; hint?: string };
  };

  // Notify command: a tiny node script that appends its stdin and environment summary to a file.
  const notifyLog = join(sandbox.dir, 'notify.log');
  writeFileSync(
    join(town, 'notify.mjs'),
    `import { appendFileSync, readFileSync } from 'node:fs';
const input = readFileSync(0, 'utf8');
appendFileSync(${JSON.stringify(notifyLog)}, JSON.stringify({ argv: process.argv.slice(2), event: process.env.GT_NOTIFY_EVENT, id: process.env.GT_NOTIFY_ID, stdin: JSON.parse(input) }) + '\\n');
`,
  );
  writeFileSync(
    join(town, 'town.toml'),
    `${readFileSync(join(town, 'town.toml'), 'utf8')}\n[notify]\ncommand = ["node", "./notify.mjs", "--from-gt"]\ntimeout = "20s"\n`,
  );

  const a1 = create('app: login form', 'app');
  const a2 = create('app: session store', 'app');
  const w1 = create('web: login page', 'web');
  let convoy: Convoy;

  test('create spans rigs; the convoy is a town bead that bd show understands', async () => {
    convoy = await gtJson<Convoy>(['convoy', 'create', 'Auth: $(touch pwned) ; rm -rf ~', a1, w1], {
      cwd: town,
    });
    assert.equal(convoy.status, 'open');
    assert.deepEqual(convoy.progress, { merged: 0, total: 2 });
    assert.deepEqual(new Set(convoy.members!.map((m) => m.rig)), new Set(['app', 'web']));
    assert.ok(convoy.members!.every((m) => m.mr_state === null));
    assert.match(convoy.id, /^town-/, 'town prefix');
    const shown = JSON.parse(bdIn(['show', convoy.id, '--json']))[0];
    assert.equal(shown.issue_type, 'convoy');
    assert.equal(shown.title, 'Auth: $(touch pwned) ; rm -rf ~');
    assert.equal(existsSync(join(town, 'pwned')), false);
  });

  test('add is idempotent and show reports each bead with its polecat', async () => {
    const added = await gtJson<Convoy>(['convoy', 'add', convoy.id, a2, a1], { cwd: town });
    assert.deepEqual(added.added, [a2]);
    assert.deepEqual(added.progress, { merged: 0, total: 3 });
    addAgents(town, [{ id: 'app/toast', role: 'polecat', rig: 'app', name: 'toast', hooked_bead: a2 }]);
    const shown = await gtJson<Convoy>(['convoy', 'show', convoy.id], { cwd: town });
    assert.equal(shown.members!.find((m) => m.id === a2)!.polecat, 'app/toast');
    assert.equal(shown.members!.find((m) => m.id === a1)!.polecat, null);
    // By unique name too, and the no-argument form lists every open convoy.
    assert.equal((await gtJson<Convoy>(['convoy', 'show', shown.name], { cwd: town })).id, convoy.id);
    const all = await gtJson<Convoy[]>(['convoy', 'show'], { cwd: town });
    assert.deepEqual(
      all.map((c) => c.id),
      [convoy.id],
    );
    const text = await gt(['convoy', 'show', convoy.id], { cwd: town });
    assert.match(text.stdout, /progress {2}0\/3 merged/);
    assert.match(text.stdout, /app\/toast/);
  });

  test('progress counts closed beads; nothing lands while one is open', async () => {
    bdIn(['close', a1, w1]);
    const listed = await gtJson<Convoy[]>(['convoy', 'list'], { cwd: town });
    assert.deepEqual(listed[0]!.progress, { merged: 2, total: 3 });
    const reconcile = await gtJson<{ landed: unknown[] }>(['convoy', 'reconcile'], { cwd: town });
    assert.deepEqual(reconcile.landed, []);
  });

  test('closing the last bead lands it exactly once, even with concurrent reconcilers', async () => {
    bdIn(['close', a2]);
    const runs = await Promise.all(
      Array.from({ length: 6 }, () => gt(['convoy', 'reconcile', '--json'], { cwd: town })),
    );
    for (const run of runs) assert.equal(run.code, 0, run.stderr);
    const landed = runs.flatMap(
      (run) => (JSON.parse(run.stdout) as { landed: Array<{ id: string }> }).landed,
    );
    assert.deepEqual(
      landed.map((l) => l.id),
      [convoy.id],
    );
    // Again, later: still nothing new.
    assert.deepEqual(
      (await gtJson<{ landed: unknown[] }>(['convoy', 'reconcile'], { cwd: town })).landed,
      [],
    );

    const after = await gtJson<Convoy>(['convoy', 'show', convoy.id], { cwd: town });
    assert.equal(after.status, 'landed');
    assert.equal(after.notify.state, 'sent');
    assert.equal(JSON.parse(bdIn(['show', convoy.id, '--json']))[0].status, 'closed');

    for (const who of ['mayor', 'human']) {
      const box = await gtJson<{
        messages: Array<{ kind: string; subject: string; body: string; from: string }>;
      }>(['mail', 'inbox', '--as', who], { cwd: town });
      const landings = box.messages.filter((m) => m.kind === 'convoy_landed');
      assert.equal(landings.length, 1, `${who} gets one landing mail`);
      assert.equal(landings[0]!.subject, 'Convoy landed: Auth: $(touch pwned) ; rm -rf ~');
      assert.equal(landings[0]!.from, 'gt');
      for (const bead of [a1, a2, w1]) assert.ok(landings[0]!.body.includes(bead));
    }

    const calls = readFileSync(notifyLog, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(calls.length, 1, 'the notify command ran once');
    assert.deepEqual(calls[0].argv, ['--from-gt']);
    assert.equal(calls[0].event, 'convoy.landed');
    assert.equal(calls[0].id, convoy.id);
    assert.equal(calls[0].stdin.name, 'Auth: $(touch pwned) ; rm -rf ~');
    assert.deepEqual(calls[0].stdin.progress, { merged: 3, total: 3 });
    assert.deepEqual(new Set(calls[0].stdin.beads.map((b: { id: string }) => b.id)), new Set([a1, a2, w1]));
    assert.equal(existsSync(join(town, 'pwned')), false, 'the hostile name was never executed');
  });

  test('a landed convoy takes no more beads; close works on open convoys only', async () => {
    const b = create('web: logout', 'web');
    assert.equal((await gtErr(['convoy', 'add', convoy.id, b])).code, 'GT_E_CONVOY_CLOSED');
    const other = await gtJson<Convoy>(['convoy', 'create', 'Later', b], { cwd: town });
    const closed = await gtJson<Convoy>(['convoy', 'close', other.id, '-r', 'descoped'], { cwd: town });
    assert.equal(closed.status, 'closed');
    assert.equal(JSON.parse(bdIn(['show', other.id, '--json']))[0].status, 'closed');
    assert.equal((await gtErr(['convoy', 'close', other.id])).code, 'GT_E_CONVOY_CLOSED');
    // A closed convoy never lands, even when its beads close.
    bdIn(['close', b]);
    assert.deepEqual(
      (await gtJson<{ landed: unknown[] }>(['convoy', 'reconcile'], { cwd: town })).landed,
      [],
    );
    assert.deepEqual(await gtJson<Convoy[]>(['convoy', 'list'], { cwd: town }), []);
    const all = await gtJson<Convoy[]>(['convoy', 'list', '--all'], { cwd: town });
    assert.deepEqual(
      all.map((c) => c.status),
      ['landed', 'closed'],
    );
  });

  test('an empty convoy never lands', async () => {
    const empty = await gtJson<Convoy>(['convoy', 'create', 'Empty for now'], { cwd: town });
    assert.deepEqual(empty.progress, { merged: 0, total: 0 });
    assert.deepEqual(
      (await gtJson<{ landed: unknown[] }>(['convoy', 'reconcile'], { cwd: town })).landed,
      [],
    );
  });

  test('bad input gives clear codes', async () => {
    assert.equal((await gtErr(['convoy', 'show', 'nope-zzz'])).code, 'GT_E_CONVOY_NOT_FOUND');
    assert.equal((await gtErr(['convoy', 'show', a1])).code, 'GT_E_CONVOY_NOT_FOUND');
    const open = await gtJson<Convoy>(['convoy', 'create', 'Open one'], { cwd: town });
    assert.equal((await gtErr(['convoy', 'add', open.id, 'app-doesnotexist'])).code, 'GT_E_NOT_FOUND');
    assert.equal((await gtErr(['convoy', 'add', open.id, convoy.id])).code, 'GT_E_INVALID_INPUT');
    assert.equal((await gtErr(['convoy', 'create', '   '])).code, 'GT_E_EMPTY_TITLE');
    assert.equal((await gtErr(['convoy', 'create', 'x', 'app-nope'])).code, 'GT_E_NOT_FOUND');
    // Nothing half-made: the failed create left no convoy named 'x'.
    const all = await gtJson<Convoy[]>(['convoy', 'list', '--all'], { cwd: town });
    assert.equal(all.filter((c) => c.name === 'x').length, 0);
  });

  test('a failing notify command is recorded, not fatal, and not retried', async () => {
    writeFileSync(join(town, 'notify.mjs'), 'process.stderr.write("boom\\n"); process.exit(3);\n');
    const b = create('app: one more', 'app');
    const c = await gtJson<Convoy>(['convoy', 'create', 'Fails to notify', b], { cwd: town });
    bdIn(['close', b]);
    const run = await gt(['convoy', 'reconcile', '--json'], { cwd: town });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /notify for .* failed: notify command exited 3: boom/);
    const shown = await gtJson<Convoy>(['convoy', 'show', c.id], { cwd: town });
    assert.equal(shown.status, 'landed');
    assert.equal(shown.notify.state, 'failed');
    assert.match(shown.notify.error!, /exited 3/);
  });
});
