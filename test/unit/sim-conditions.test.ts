import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { describe, test } from 'node:test';
import { executeSteps, type SimEvent } from '../../src/runtime/sim/executor';
import {
  type AttemptInfo,
  beadFromHookJson,
  parseSimScript,
  type SimStep,
  stepApplies,
} from '../../src/runtime/sim/script';

/** The sim's `first <step>` / `rework <step>` conditions and the attempt it reads from `gt hook --json`. */
function steps(text: string): SimStep[] {
  const result = parseSimScript(text);
  assert.ok(result.ok, `expected a valid script, got ${JSON.stringify(result)}`);
  return result.steps;
}

function errors(text: string): string[] {
  const result = parseSimScript(text);
  assert.equal(result.ok, false, `expected errors for ${JSON.stringify(text)}`);
  return result.ok ? [] : result.errors.map((e) => `${e.line}: ${e.message}`);
}

describe('sim script: step conditions', () => {
  test('first and rework prefix any step; the step itself parses as usual', () => {
    const parsed = steps(
      'say hello\nfirst hang\nfirst break-tests\nrework delete test/sim-broken.test.mjs\nrework commit "fix"\ndone',
    );
    assert.deepEqual(
      parsed.map((s) => [s.kind, s.when ?? null]),
      [
        ['say', null],
        ['hang', 'first'],
        ['break-tests', 'first'],
        ['delete', 'rework'],
        ['commit', 'rework'],
        ['done', null],
      ],
    );
    const del = parsed[3];
    assert.ok(del?.kind === 'delete');
    assert.equal(del.path, 'test/sim-broken.test.mjs');
    assert.equal(parsed[4]?.kind === 'commit' ? parsed[4].message : null, 'fix');
    assert.equal(parsed[1]?.line, 2);
  });

  test('a bare prefix, two prefixes, or a bad step after a prefix are errors with their line', () => {
    assert.match(errors('say a\nfirst')[0]!, /^2: usage: first <step>/);
    assert.match(errors('rework')[0]!, /^1: usage: rework <step>/);
    assert.match(errors('first rework hang')[0]!, /^1: one condition per step/);
    assert.match(errors('first hang now')[0]!, /^1: usage: hang/);
    assert.match(errors('rework write /etc/passwd x')[0]!, /^1: absolute path/);
    assert.match(errors('frist hang')[0]!, /unknown step "frist".*prefixes: first, rework/);
  });

  test('"first" later in a line is an ordinary argument', () => {
    const [step] = steps('say first hang');
    assert.equal(step?.kind, 'say');
    assert.equal(step?.when, undefined);
  });
});

describe('sim script: which attempt runs which step', () => {
  const first = { when: 'first' as const };
  const rework = { when: 'rework' as const };
  const plain = {};
  const cases: Array<[string, AttemptInfo | undefined, boolean, boolean, boolean]> = [
    // attempt, plain, first, rework
    ['no attempt information', undefined, true, true, false],
    ['first session', { restarts: 0, rework: 0 }, true, true, false],
    ['after a recovery restart', { restarts: 1, rework: 0 }, true, false, false],
    ['after a rejection', { restarts: 0, rework: 1 }, true, false, true],
    ['restarted after a rejection', { restarts: 2, rework: 3 }, true, false, true],
  ];
  for (const [name, attempt, p, f, r] of cases) {
    test(name, () => {
      assert.equal(stepApplies(plain, attempt), p);
      assert.equal(stepApplies(first, attempt), f);
      assert.equal(stepApplies(rework, attempt), r);
    });
  }
});

describe('sim script: attempt from gt hook --json', () => {
  test('read from the top-level attempt (gt hook --json), or inside hook', () => {
    const top = beadFromHookJson(
      JSON.stringify({ bead: { id: 'app-1', title: 't' }, attempt: { restarts: 2, rework: 1 } }),
    );
    assert.deepEqual(top?.attempt, { restarts: 2, rework: 1 });
    const nested = beadFromHookJson(
      JSON.stringify({ hook: { bead: { id: 'app-1' }, attempt: { restarts: 1, rework: 0 } } }),
    );
    assert.deepEqual(nested?.attempt, { restarts: 1, rework: 0 });
  });

  test('absent or malformed: no attempt, or zeros for bad numbers', () => {
    assert.equal(beadFromHookJson(JSON.stringify({ bead: { id: 'app-1' } }))?.attempt, undefined);
    assert.equal(
      beadFromHookJson(JSON.stringify({ bead: { id: 'app-1' }, attempt: null }))?.attempt,
      undefined,
    );
    const bad = beadFromHookJson(
      JSON.stringify({ bead: { id: 'app-1' }, attempt: { restarts: -1, rework: '3' } }),
    );
    assert.deepEqual(bad?.attempt, { restarts: 0, rework: 0 });
    assert.equal(
      beadFromHookJson(JSON.stringify({ bead: null, attempt: { restarts: 1, rework: 0 } })),
      undefined,
    );
  });
});

describe('sim executor: conditions', () => {
  async function run(attempt: AttemptInfo | undefined): Promise<{ said: string[]; skipped: number[] }> {
    const events: SimEvent[] = [];
    await executeSteps(steps('say always\nfirst say first\nrework say rework\nsay end'), {
      cwd: tmpdir(),
      env: {},
      gtBin: 'gt',
      log: (e) => events.push(e),
      transcriptPath: '/nonexistent/transcript.jsonl',
      ...(attempt ? { attempt } : {}),
    });
    return {
      said: events.filter((e) => e.type === 'say').map((e) => String(e.text)),
      skipped: events.filter((e) => e.type === 'skip').map((e) => Number(e.line)),
    };
  }

  test('the first attempt skips rework steps', async () => {
    assert.deepEqual(await run(undefined), { said: ['always', 'first', 'end'], skipped: [3] });
    assert.deepEqual(await run({ restarts: 0, rework: 0 }), {
      said: ['always', 'first', 'end'],
      skipped: [3],
    });
  });

  test('a restarted session skips first steps', async () => {
    assert.deepEqual(await run({ restarts: 1, rework: 0 }), { said: ['always', 'end'], skipped: [2, 3] });
  });

  test('a rework session runs rework steps and skips first steps', async () => {
    assert.deepEqual(await run({ restarts: 0, rework: 1 }), {
      said: ['always', 'rework', 'end'],
      skipped: [2],
    });
  });
});
