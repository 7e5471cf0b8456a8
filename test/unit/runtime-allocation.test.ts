import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { GtError } from '../../src/core/errors';
import { allocateAgent } from '../../src/runtime/allocation';
import { agentsSectionSchema, rolesSectionSchema } from '../../src/runtime/config-schema';
import { BUILTIN_PRESETS, buildLaunch, findExecutable, resolvePreset } from '../../src/runtime/presets';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as GtError).code;
  }
  return 'no error';
};

describe('allocateAgent', () => {
  test('defaults: claude everywhere, strong model for the mayor, economical for polecats', () => {
    const mayor = allocateAgent({ role: 'mayor' });
    const polecat = allocateAgent({ role: 'polecat' });
    assert.equal(mayor.agent, 'claude');
    assert.equal(mayor.model, 'opus');
    assert.equal(polecat.model, 'sonnet');
    assert.deepEqual(polecat.source, { agent: 'default', model: 'preset', runtime: 'preset' });
    assert.equal(polecat.runtime, 'tmux');
  });

  test('town role assignment, then rig override, then sling override', () => {
    const town = { roles: { polecat: { agent: 'gemini' }, mayor: { agent: 'claude', model: 'opus-4' } } };
    assert.equal(allocateAgent({ role: 'polecat', town }).model, 'gemini-2.5-flash');
    assert.equal(allocateAgent({ role: 'mayor', town }).model, 'opus-4');
    const rig = { roles: { polecat: { model: 'gemini-2.5-pro' } } };
    const a = allocateAgent({ role: 'polecat', town, rig });
    assert.equal(a.agent, 'gemini');
    assert.equal(a.model, 'gemini-2.5-pro');
    assert.deepEqual(a.source, { agent: 'town', model: 'rig', runtime: 'preset' });
    const s = allocateAgent({ role: 'polecat', town, rig, sling: { agent: 'codex' } });
    assert.equal(s.agent, 'codex');
    assert.equal(s.model, 'gpt-5-mini', 'switching agent drops the lower layer model');
    const m = allocateAgent({
      role: 'polecat',
      town,
      rig,
      sling: { model: 'gemini-x', runtime: 'headless' },
    });
    assert.equal(m.agent, 'gemini');
    assert.equal(m.model, 'gemini-x');
    assert.equal(m.runtime, 'headless');
  });

  test('roles.default applies to roles without their own entry; the same agent keeps its model', () => {
    const town = { roles: { default: { agent: 'codex', model: 'gpt-x' }, mayor: { agent: 'codex' } } };
    assert.equal(allocateAgent({ role: 'crew', town }).model, 'gpt-x');
    assert.equal(allocateAgent({ role: 'mayor', town }).model, 'gpt-x');
  });

  test('custom agents inherit a preset; unknown agents name the known ones', () => {
    const town = {
      agents: { fast: { preset: 'claude', args: ['--x'], economical_model: 'haiku' } },
      roles: { polecat: { agent: 'fast' } },
    };
    const a = allocateAgent({ role: 'polecat', town });
    assert.equal(a.preset.command, 'claude');
    assert.deepEqual(a.preset.args, ['--x']);
    assert.equal(a.model, 'haiku');
    assert.equal(a.preset.hooks, 'claude');
    assert.equal(
      codeOf(() => allocateAgent({ role: 'polecat', sling: { agent: 'nope' } })),
      'GT_E_UNKNOWN_AGENT',
    );
  });
});

describe('resolvePreset', () => {
  test('every built-in preset is complete', () => {
    for (const name of [
      'claude',
      'codex',
      'gemini',
      'opencode',
      'amp',
      'cursor-agent',
      'copilot',
      'auggie',
      'sim',
    ]) {
      const p = resolvePreset(name);
      assert.ok(p.command.length > 0, name);
      assert.ok(p.install.length > 0, name);
      assert.ok(['arg', 'flag', 'stdin', 'typed', 'none'].includes(p.prompt), name);
      if (p.prompt === 'flag') assert.ok(p.promptFlag, name);
    }
    assert.equal(Object.keys(BUILTIN_PRESETS).length, 9);
  });

  test('the sim runs this node on the package dist/sim.js', () => {
    const sim = resolvePreset('sim');
    assert.equal(sim.command, process.execPath);
    assert.match(sim.args[0]!, /[/\\]dist[/\\]sim\.js$/);
  });

  test('a custom agent needs a command or a preset; preset cycles are config errors', () => {
    assert.equal(
      codeOf(() => resolvePreset('x', [{ x: { args: ['a'] } }])),
      'GT_E_CONFIG',
    );
    assert.equal(
      codeOf(() => resolvePreset('a', [{ a: { preset: 'b' }, b: { preset: 'a' } }])),
      'GT_E_CONFIG',
    );
    const mine = resolvePreset('mine', [{ mine: { command: '/opt/bin/mine', prompt_mode: 'stdin' } }]);
    assert.deepEqual(mine.processNames, ['mine']);
    assert.equal(mine.prompt, 'stdin');
  });

  test('a town definition named like a preset overrides just the given fields', () => {
    const p = resolvePreset('claude', [{ claude: { args: ['--foo'], env: { A: '1' } } }]);
    assert.deepEqual(p.args, ['--foo']);
    assert.equal(p.modelFlag, '--model');
    assert.equal(p.env.A, '1');
  });
});

describe('buildLaunch', () => {
  const claude = resolvePreset('claude');
  test('positional prompt and model flag; the prompt stays one argument', () => {
    const plan = buildLaunch(claude, { mode: 'tmux', model: 'sonnet', prompt: 'hi $(rm -rf ~); `x`' });
    assert.deepEqual(plan.args, [
      '--dangerously-skip-permissions',
      '--model',
      'sonnet',
      'hi $(rm -rf ~); `x`',
    ]);
    assert.equal(plan.typedPrompt, null);
  });
  test('headless args, flag prompts, typed prompts, stdin prompts', () => {
    assert.deepEqual(buildLaunch(claude, { mode: 'headless', model: null, prompt: 'p' }).args.slice(0, 3), [
      '-p',
      '--output-format',
      'stream-json',
    ]);
    const gemini = buildLaunch(resolvePreset('gemini'), { mode: 'tmux', model: 'm', prompt: 'p' });
    assert.deepEqual(gemini.args.slice(-4), ['--model', 'm', '-i', 'p']);
    const codex = buildLaunch(resolvePreset('codex'), { mode: 'tmux', model: null, prompt: 'p' });
    assert.equal(codex.typedPrompt, 'p');
    assert.ok(!codex.args.includes('p'));
    const amp = buildLaunch(resolvePreset('amp'), { mode: 'tmux', model: 'ignored', prompt: null });
    assert.ok(!amp.args.includes('ignored'), 'amp has no model flag');
    const stdin = resolvePreset('s', [{ s: { command: 's', prompt_mode: 'stdin' } }]);
    assert.equal(buildLaunch(stdin, { mode: 'tmux', model: null, prompt: 'p' }).stdin, 'p\n');
  });
  test('an agent without a headless mode says so', () => {
    const custom = resolvePreset('c', [{ c: { command: 'c' } }]);
    assert.equal(
      codeOf(() => buildLaunch(custom, { mode: 'headless', model: null, prompt: null })),
      'GT_E_SESSION',
    );
  });
});

describe('config schema', () => {
  test('agents and roles sections parse, unknown keys and roles are refused', () => {
    const agents = agentsSectionSchema.parse({ mine: { preset: 'claude', ready_delay_ms: 100 } });
    assert.equal(agents.mine?.preset, 'claude');
    assert.equal(agentsSectionSchema.safeParse({ mine: { comand: 'x' } }).success, false);
    assert.equal(rolesSectionSchema.safeParse({ polecat: { agent: 'codex', model: 'm' } }).success, true);
    assert.equal(rolesSectionSchema.safeParse({ janitor: { agent: 'codex' } }).success, false);
    assert.equal(rolesSectionSchema.safeParse({ polecat: { runtime: 'docker' } }).success, false);
  });
});

describe('findExecutable', () => {
  test('finds on PATH, refuses missing', () => {
    assert.ok(findExecutable('sh', process.env.PATH));
    assert.equal(findExecutable('definitely-not-a-command-gt', process.env.PATH), null);
  });
});
