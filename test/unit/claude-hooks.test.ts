import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { GtError } from '../../src/core/errors';
import {
  CLAUDE_GUARD_MATCHER,
  claudeConfigFile,
  claudeSettings,
  claudeUserState,
  gastownClaudeHooks,
  readClaudeSettings,
  shellJoin,
  shellQuote,
  trustClaudeWorkspaces,
  withWorkspaceTrust,
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

describe('claude hooks: what gt installs for its sessions', () => {
  test('gt argv prefix, the guard for the policed tools, and a prime override', () => {
    const hooks = claudeSettings(
      gastownClaudeHooks({ gtArgv: ['/usr/bin/node', '/opt/gt/bin/gt.js'], guard: true }),
    ).hooks;
    assert.equal(hooks?.SessionStart?.[0]?.hooks[0]?.command, '/usr/bin/node /opt/gt/bin/gt.js prime --hook');
    assert.equal(hooks?.PreCompact?.[0]?.hooks[0]?.command, '/usr/bin/node /opt/gt/bin/gt.js prime --hook');
    assert.deepEqual(hooks?.PreToolUse, [
      {
        matcher: CLAUDE_GUARD_MATCHER,
        hooks: [
          { type: 'command', command: '/usr/bin/node /opt/gt/bin/gt.js guard --format claude', timeout: 30 },
        ],
      },
    ]);
    for (const tool of ['Bash', 'Edit', 'Write', 'MultiEdit']) {
      assert.match(tool, new RegExp(`^(${CLAUDE_GUARD_MATCHER})$`));
    }
    const primed = claudeSettings(gastownClaudeHooks({ gtBin: 'gt' })).hooks;
    assert.equal(primed?.SessionStart?.[0]?.hooks[0]?.command, 'gt prime --hook');
    assert.equal(primed?.PreCompact?.[0]?.hooks[0]?.command, 'gt prime --hook');
    assert.equal(primed?.PreToolUse, undefined, 'no guard unless asked');
  });

  test('the Claude config file: CLAUDE_CONFIG_DIR, else HOME', () => {
    assert.equal(claudeConfigFile({ HOME: '/h' }), '/h/.claude.json');
    assert.equal(claudeConfigFile({ HOME: '/h', CLAUDE_CONFIG_DIR: '/c' }), '/c/.claude.json');
    assert.equal(claudeConfigFile({}), null);
  });

  test('trust merges one entry and nothing else; already trusted is a no-op', () => {
    const existing = { theme: 'dark', projects: { '/w': { allowedTools: ['x'] }, '/o': { a: 1 } } };
    const next = withWorkspaceTrust(existing, ['/w', '/n']);
    assert.deepEqual(next, {
      theme: 'dark',
      projects: {
        '/w': { allowedTools: ['x'], hasTrustDialogAccepted: true },
        '/o': { a: 1 },
        '/n': { hasTrustDialogAccepted: true },
      },
    });
    assert.equal(existing.projects['/w'] && 'hasTrustDialogAccepted' in existing.projects['/w'], false);
    assert.equal(withWorkspaceTrust(next ?? {}, ['/w', '/n']), null);
  });

  test('trustClaudeWorkspaces: keeps the mode, writes through a symlink, never clobbers, honours the lock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gt-claude-trust-'));
    try {
      const file = join(dir, '.claude.json');
      // A new file is private.
      assert.equal(await trustClaudeWorkspaces(file, ['/w']), true);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(await trustClaudeWorkspaces(file, ['/w']), false, 'already trusted: nothing written');

      // A dotfiles-managed (symlinked) config is written through, the link kept.
      const real = join(dir, 'dotfiles-claude.json');
      writeFileSync(real, JSON.stringify({ numStartups: 7 }), { mode: 0o640 });
      const link = join(dir, 'link.json');
      symlinkSync(real, link);
      assert.equal(await trustClaudeWorkspaces(link, ['/w']), true);
      assert.ok(lstatSync(link).isSymbolicLink(), 'the link is kept');
      const state = JSON.parse(readFileSync(real, 'utf8'));
      assert.equal(state.numStartups, 7);
      assert.equal(state.projects['/w'].hasTrustDialogAccepted, true);
      assert.equal(statSync(real).mode & 0o777, 0o640);

      // A file that is not a JSON object is left exactly as it is.
      const broken = join(dir, 'broken.json');
      writeFileSync(broken, '{"half": ');
      await assert.rejects(
        trustClaudeWorkspaces(broken, ['/w']),
        (e: unknown) => e instanceof GtError && e.code === 'GT_E_CONFIG',
      );
      assert.equal(readFileSync(broken, 'utf8'), '{"half": ');

      // Claude Code's lock (<file>.lock) is waited for; a stale one is taken over.
      const locked = join(dir, 'locked.json');
      mkdirSync(`${locked}.lock`);
      await assert.rejects(
        trustClaudeWorkspaces(locked, ['/w'], { lockTimeoutMs: 200 }),
        (e: unknown) => e instanceof GtError && e.code === 'GT_E_IO',
      );
      const old = new Date(Date.now() - 60_000);
      utimesSync(`${locked}.lock`, old, old);
      assert.equal(await trustClaudeWorkspaces(locked, ['/w'], { lockTimeoutMs: 200 }), true);
      assert.throws(() => statSync(`${locked}.lock`), 'the lock is released');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
