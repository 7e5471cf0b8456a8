import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  describeFindings,
  parseWorktreeList,
  planScratch,
  removalBlocker,
  type ScratchState,
  type ScratchWorktree,
  scratchSlot,
} from '../../src/town/doctor/scratch-model';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const DIR = '/town/.gt/refinery/app';

function state(overrides: Partial<ScratchState> = {}): ScratchState {
  return {
    head: A,
    branch: null,
    detached: true,
    changed: [],
    mergeHead: null,
    mergeHeadOnRef: false,
    headOnRef: true,
    parents: [],
    parentsOffRef: [],
    ...overrides,
  };
}

function worktree(slot: number, overrides: Partial<ScratchWorktree> = {}): ScratchWorktree {
  return {
    path: `${DIR}/${slot === 0 ? 'work' : `work-${slot}`}`,
    slot,
    registered: true,
    exists: true,
    checkout: true,
    locked: false,
    state: state(),
    ...overrides,
  };
}

test('git worktree list --porcelain is parsed', () => {
  const entries = parseWorktreeList(
    [
      '/town/rigs/app/refinery',
      `HEAD ${A}`,
      'branch refs/heads/main',
      '',
      `worktree ${DIR}/work`,
      `HEAD ${B}`,
      'detached',
      '',
      `worktree ${DIR}/work-1`,
      `HEAD ${C}`,
      'detached',
      'locked initializing',
      'prunable gitdir file points to non-existent location',
      '',
    ]
      .join('\n')
      .replace(/^/, 'worktree '),
  );
  assert.equal(entries.length, 3);
  assert.deepEqual(entries[0], {
    path: '/town/rigs/app/refinery',
    head: A,
    branch: 'refs/heads/main',
    detached: false,
    bare: false,
    locked: false,
    prunable: false,
  });
  assert.equal(entries[1]?.detached, true);
  assert.deepEqual([entries[2]?.locked, entries[2]?.prunable], [true, true]);
});

test('scratch slots: work is 0, work-<n> is n, anything else is not a scratch worktree', () => {
  const dirs = [DIR, '/real/town/.gt/refinery/app'];
  assert.equal(scratchSlot(dirs, `${DIR}/work`), 0);
  assert.equal(scratchSlot(dirs, `${DIR}/work-2`), 2);
  assert.equal(scratchSlot(dirs, '/real/town/.gt/refinery/app/work-15'), 15);
  for (const path of [
    `${DIR}/work-0`,
    `${DIR}/work-x`,
    `${DIR}/works`,
    '/town/rigs/app/refinery',
    `${DIR}/a/work`,
  ])
    assert.equal(scratchSlot(dirs, path), undefined, path);
});

test('removal needs nothing unique: detached, clean (or a merge of a ref-held commit), no commit orphaned', () => {
  assert.equal(removalBlocker(worktree(2)), undefined, 'HEAD on a ref');
  assert.equal(
    removalBlocker(worktree(2, { state: state({ headOnRef: false, parents: [B, C] }) })),
    undefined,
    'a candidate merge whose parents are on refs',
  );
  assert.equal(
    removalBlocker(worktree(2, { state: state({ changed: ['x'], mergeHead: B, mergeHeadOnRef: true }) })),
    undefined,
    'the changes of a merge in progress',
  );
  const blocked: Array<[Partial<ScratchWorktree>, RegExp]> = [
    [{ locked: true }, /locked/],
    [{ state: state({ error: 'boom' }) }, /could not be read: boom/],
    [{ state: state({ detached: false, branch: 'refs/heads/x' }) }, /refs\/heads\/x checked out/],
    [
      { state: state({ changed: ['a.txt', 'b.txt'] }) },
      /uncommitted changes to tracked files \(a\.txt, b\.txt\)/,
    ],
    [{ state: state({ changed: ['a'], mergeHead: B, mergeHeadOnRef: false }) }, /brings commit bbbbbbbbbbbb/],
    [{ state: state({ headOnRef: false, parents: [B] }) }, /not a Refinery merge/],
    [{ state: state({ headOnRef: false, parents: [] }) }, /not a Refinery merge/],
    [
      { state: state({ headOnRef: false, parents: [B, C], parentsOffRef: [C] }) },
      /commit\(s\) cccccccccccc below its HEAD are on no ref/,
    ],
  ];
  for (const [overrides, reason] of blocked)
    assert.match(removalBlocker(worktree(2, overrides)) ?? '', reason);
});

test('the plan: prune gone directories, remove unused slots when safe, report the rest', () => {
  const findings = planScratch(
    [
      worktree(0),
      worktree(1, { exists: false, checkout: false, state: undefined }),
      worktree(2),
      worktree(3, { state: state({ changed: ['x.txt'] }) }),
      worktree(4, { registered: false, checkout: false, state: undefined }),
      worktree(5, { exists: false, checkout: false, locked: true, state: undefined }),
      worktree(6, { checkout: false, state: undefined }),
    ],
    2,
    false,
  );
  assert.deepEqual(
    findings.map((f) => [f.name, f.action]),
    [
      ['work-1', 'prune'],
      ['work-2', 'remove'],
      ['work-3', 'keep'],
      ['work-4', 'keep'],
      ['work-5', 'keep'],
      ['work-6', 'keep'],
    ],
  );
  const text = describeFindings(findings);
  assert.match(text, /^6 stale Refinery scratch worktree\(s\):\n/);
  assert.match(
    text,
    /work-2: slot 2 is unused \(gate_parallelism = 2\) but still a full checkout \[fix: remove\]/,
  );
  assert.match(text, /work-3: .*\[kept: it has uncommitted changes to tracked files \(x\.txt\)\]/);
  assert.match(text, /work-4: .*not a worktree of the Refinery clone/);
  assert.match(text, /work-6: its folder is no longer a git checkout/);
});

test('slots in use: a leftover merge or edit is reported when the Refinery is idle, never while it runs', () => {
  const merging = [worktree(0, { state: state({ changed: ['a'], mergeHead: B, mergeHeadOnRef: true }) })];
  const idle = planScratch(merging, 1, false);
  assert.equal(idle.length, 1);
  assert.equal(idle[0]?.action, 'keep');
  assert.match(idle[0]?.problem ?? '', /a merge in progress \(MERGE_HEAD bbbbbbbbbbbb\)/);
  assert.deepEqual(planScratch(merging, 1, true), [], 'the running Refinery is merging there');
  assert.deepEqual(planScratch([worktree(0), worktree(1)], 2, false), [], 'healthy');
});
