import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { GtError } from '../../src/core/errors';
import {
  claudeSettings,
  claudeUserState,
  gastownClaudeHooks,
  readClaudeSettings,
  shellJoin,
  shellQuote,
  writeClaudeSettings,
} from '../../src/runtime/claude-hooks';

describe('claude hooks: quoting', () => {
  test('hostile words survive sh as one literal argument each', () => {
    const words = ['plain', 'with space', "it's", '$(touch pwned)', '`id`', 'a;b&&c|d', '*', '', '\n', '"q"'];
    const dir = mkdtempSync(join(tmpdir(), 'gt-quote-'));
    try {
      const out = execFileSync('sh', ['-c', `printf '<%s>' ${shellJoin(words)}`], {
        cwd: dir,
        encoding: 'utf8',
      });
      assert.equal(out, words.map((w) => `<${w}>`).join(''));
      assert.deepEqual(execFileSync('ls', ['-A', dir], { encoding: 'utf8' }), '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(shellQuote('gt'), 'gt');
    assert.equal(shellQuote('/usr/local/bin/gt'), '/usr/local/bin/gt');
  });
});

describe('claude hooks: settings', () => {
  test('gt hooks: SessionStart and PreCompact prime; the Bash guard when given', () => {
    const settings = claudeSettings(
      gastownClaudeHooks({ gtBin: '/opt/gt dir/gt', bashGuard: ['guard', 'bash'] }),
    );
    assert.deepEqual(settings.hooks?.SessionStart, [
      { matcher: '', hooks: [{ type: 'command', command: "'/opt/gt dir/gt' prime --hook" }] },
    ]);
    assert.deepEqual(settings.hooks?.PreToolUse, [
      { matcher: 'Bash', hooks: [{ type: 'command', command: "'/opt/gt dir/gt' guard bash" }] },
    ]);
    assert.equal(claudeSettings(gastownClaudeHooks()).hooks?.PreToolUse, undefined);
  });

  test('merging keeps other keys and matchers, replaces the same matcher', () => {
    const base = {
      editorMode: 'vim',
      hooks: {
        PreToolUse: [
          { matcher: 'Bash', hooks: [{ type: 'command' as const, command: 'old-guard' }] },
          { matcher: 'Write', hooks: [{ type: 'command' as const, command: 'user-write-hook' }] },
        ],
        Stop: [{ hooks: [{ type: 'command' as const, command: 'user-stop' }] }],
      },
    };
    const merged = claudeSettings(
      [{ event: 'PreToolUse', matcher: 'Bash', argv: ['gt', 'guard'], timeout: 10 }],
      base,
      {
        skipDangerousModePermissionPrompt: true,
      },
    );
    assert.equal(merged.editorMode, 'vim');
    assert.equal(merged.skipDangerousModePermissionPrompt, true);
    assert.deepEqual(merged.hooks?.PreToolUse, [
      { matcher: 'Write', hooks: [{ type: 'command', command: 'user-write-hook' }] },
      { matcher: 'Bash', hooks: [{ type: 'command', command: 'gt guard', timeout: 10 }] },
    ]);
    assert.deepEqual(merged.hooks?.Stop, base.hooks.Stop);
    assert.equal(base.hooks.PreToolUse.length, 2, 'the base is not mutated');
  });

  test('a hook without a command is refused', () => {
    assert.throws(() => claudeSettings([{ event: 'Stop', argv: [] }]), GtError);
  });

  test('writer merges into an existing file atomically; malformed files are named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gt-claude-settings-'));
    try {
      mkdirSync(join(dir, '.claude'));
      writeFileSync(join(dir, '.claude', 'settings.json'), JSON.stringify({ model: 'opus' }));
      const path = writeClaudeSettings(dir, gastownClaudeHooks());
      const written = JSON.parse(readFileSync(path, 'utf8'));
      assert.equal(written.model, 'opus');
      assert.equal(written.skipDangerousModePermissionPrompt, true);
      assert.equal(written.hooks.SessionStart[0].hooks[0].command, 'gt prime --hook');
      assert.deepEqual(readClaudeSettings(dir), written);
      writeFileSync(path, '[not an object]');
      assert.throws(
        () => writeClaudeSettings(dir, gastownClaudeHooks()),
        (e: unknown) => e instanceof GtError && e.code === 'GT_E_CONFIG' && e.message.includes(path),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('user state pre-accepts onboarding, trust and the key, keeping what was there', () => {
    const state = claudeUserState(
      { trustedDirs: ['/w/a'], version: '2.1.332', apiKey: 'sk-ant-0123456789abcdefghijXYZ' },
      { theme: 'dark', projects: { '/w/b': { hasTrustDialogAccepted: false } } },
    );
    assert.equal(state.theme, 'dark');
    assert.equal(state.hasCompletedOnboarding, true);
    assert.equal(state.lastOnboardingVersion, '2.1.332');
    const projects = state.projects as Record<string, Record<string, unknown>>;
    assert.equal(projects['/w/a']?.hasTrustDialogAccepted, true);
    assert.equal(projects['/w/b']?.hasTrustDialogAccepted, false);
    assert.deepEqual(state.customApiKeyResponses, { approved: ['3456789abcdefghijXYZ'], rejected: [] });
  });
});
