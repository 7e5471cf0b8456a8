import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatAnswer, parseHookInput } from '../../src/guard/hook-io';
import { codexHooksConfig, geminiSettings, mergeGuardHook } from '../../src/guard/install';
import { decide, decideCommand, type GuardContext, type HeadInfo, toolCallOf } from '../../src/guard/policy';
import { parseShell, ShellParseError } from '../../src/guard/shell';

const WT = '/town/rigs/app/polecats/nux';

function ctx(
  head: HeadInfo = { known: true, branch: 'polecat/nux/gt-1' },
  extra: Partial<GuardContext> = {},
): GuardContext {
  return {
    worktree: WT,
    cwd: WT,
    town: '/town',
    protectedBranches: ['main'],
    scratchDirs: ['/tmp'],
    home: '/home/agent',
    headOf: () => head,
    aliasOf: (_dir, name) =>
      ({ p: 'push origin HEAD:main', shp: '!git push origin main', lg: 'log --oneline' })[name],
    ...extra,
  };
}

// Allowed on the polecat branch (HEAD = polecat/nux/gt-1, upstream none).
const ALLOWED = [
  'git status',
  'git push origin polecat/nux/gt-1',
  'git push -u origin HEAD',
  'git push origin HEAD',
  'git push origin HEAD:polecat/nux/gt-1',
  'git push',
  'git push --dry-run origin HEAD',
  'git push -n origin HEAD',
  'git push --follow-tags origin HEAD',
  'git log main',
  'git log --oneline main..HEAD',
  'git diff main...HEAD',
  'git diff origin/main',
  'git show main:README.md',
  'git fetch origin',
  'git fetch origin main',
  'git rebase origin/main',
  'git merge origin/main',
  'git checkout main -- README.md',
  'git checkout -b polecat/nux/gt-1-retry origin/main',
  'git checkout polecat/nux/gt-1',
  'git switch polecat/nux/gt-1',
  'git branch',
  'git branch --merged main',
  'git branch -a',
  'git config user.name "Nux"',
  'git config --get core.hooksPath',
  'git -c user.email=a@b.c commit -m wip',
  'git commit -am "fix main bug"',
  `git commit -m "$(cat <<'EOF'\nFix: never touch main\n\nCo-authored-by: x\nEOF\n)"`,
  'git add -A && git commit -m "x" && git push origin HEAD',
  'git lg',
  'echo main',
  'echo "git push origin main"',
  "grep -rn 'push origin main' docs/",
  'ls -la 2>&1 | head -5',
  'npm test > /tmp/test.log 2>&1',
  'cd src && npm test',
  `cd ${WT}/src && ls`,
  'mkdir -p build && cp a.txt build/',
  'cp -r /tmp/fixtures ./fixtures',
  'cp ../../refinery/README.md notes.md',
  'rm -rf build',
  'FOO=1 npm test',
  'git stash && git stash pop',
  'bash -c "npm test && git status"',
  'for f in a b; do echo $f; done',
  'if [ -f x ]; then echo y; fi',
  'git tag v1.0',
  'git reset HEAD~1',
  'git reset --soft HEAD~1',
  'command -v git',
  'sed -i s/a/b/ src/x.ts',
  'cat README.md | wc -l',
  'python3 -c "print(1)"',
  'gt done',
  'git rev-parse --abbrev-ref HEAD',
  'GIT_EDITOR=true git rebase --continue',
  'GIT_PAGER=cat git log -3',
  'git -c core.pager=cat log',
  'git lfs ls-files',
  'git submodule update --init',
  'git remote -v',
  'echo $(git rev-parse HEAD)',
];

// Refused on the polecat branch, with the rule that must fire.
const REFUSED: Array<[string, string]> = [
  ['git push origin main', 'push-main'],
  ['git push origin HEAD:main', 'push-main'],
  ['git push origin HEAD:refs/heads/main', 'push-main'],
  ['git push origin polecat/nux/gt-1:main', 'push-main'],
  ['git push origin HEAD:heads/main', 'push-main'],
  ['git push origin HEAD:MAIN', 'push-main'],
  ['git push origin +HEAD:main', 'force'],
  ['git push origin +main', 'force'],
  ['git push origin +polecat/nux/gt-1', 'force'],
  ['git push origin :main', 'ref-delete'],
  ['git push origin :polecat/nux/gt-1', 'ref-delete'],
  ['git push origin :', 'push-all'],
  ['git push --all origin', 'push-all'],
  ['git push --branches origin', 'push-all'],
  ['git push --mirror origin', 'push-all'],
  ['git push --mir origin', 'push-all'],
  ['git push --delete origin polecat/nux/gt-1', 'ref-delete'],
  ['git push -d origin polecat/nux/gt-1', 'ref-delete'],
  ['git push --prune origin', 'ref-delete'],
  ['git push -f origin HEAD', 'force'],
  ['git push -uf origin HEAD', 'force'],
  ['git push --force origin HEAD', 'force'],
  ['git push --forc origin HEAD', 'force'],
  ['git push --force-with-lease origin HEAD', 'force'],
  ['git push --force-with-lease=polecat/nux/gt-1:abc origin HEAD', 'force'],
  ['git push --no-verify origin HEAD', 'no-verify'],
  ['git push --no-v origin HEAD', 'no-verify'],
  ['git push origin HEAD:HEAD', 'push-main'],
  ["git push origin 'refs/heads/*:refs/heads/*'", 'wildcard'],
  ['git push --receive-pack=evil origin HEAD', 'push-option'],
  ['git push origin $BRANCH', 'dynamic'],
  ['git push origin "$(git branch --show-current):main"', 'dynamic'],
  ["git push origin $'\\x6dain'", 'push-main'],
  ['git push origin ma""in', 'push-main'],
  ['git push origin m\\ain', 'push-main'],
  ['FOO=1 git push origin main', 'push-main'],
  ['env FOO=1 git push origin main', 'push-main'],
  ['command git push origin main', 'push-main'],
  ['/usr/bin/git push origin main', 'push-main'],
  ['nice -n 5 git push origin main', 'push-main'],
  ['timeout 60 git push origin main', 'push-main'],
  ['git -C . push origin main', 'push-main'],
  ['git -C /etc status', 'outside-worktree'],
  ['git --git-dir=/town/rigs/app/repo.git update-ref refs/heads/main HEAD', 'git-redirect'],
  ['git --work-tree=. status', 'git-redirect'],
  ['GIT_DIR=/town/rigs/app/repo.git git log', 'env'],
  ['export GIT_DIR=/x', 'env'],
  ['GT_REFINERY_TOKEN=abc git push origin HEAD:main', 'env'],
  ['git -c alias.p=push p origin main', 'config'],
  ['git -c core.hooksPath=/dev/null push origin HEAD', 'config'],
  ['git -c push.default=matching push', 'config'],
  ['git p', 'push-main'],
  ['git shp', 'alias'],
  ['git status && git push origin main', 'push-main'],
  ['git status || git push origin main', 'push-main'],
  ['git status; git push origin main', 'push-main'],
  ['git status\ngit push origin main', 'push-main'],
  ['git status | git push origin main', 'push-main'],
  ['git status & git push origin main', 'push-main'],
  ['(git push origin main)', 'push-main'],
  ['{ git push origin main; }', 'push-main'],
  ['echo $(git push origin main)', 'push-main'],
  ['echo "$(git push origin main)"', 'push-main'],
  ['echo `git push origin main`', 'push-main'],
  ['if true; then git push origin main; fi', 'push-main'],
  ['for i in 1; do git push origin main; done', 'push-main'],
  ['bash -c "git push origin main"', 'push-main'],
  ["sh -c 'git push origin HEAD:main'", 'push-main'],
  ["bash -lc 'git push origin main'", 'push-main'],
  ['bash -c "bash -c \\"git push origin main\\""', 'push-main'],
  ["eval 'git push origin main'", 'push-main'],
  ['eval "$CMD"', 'dynamic'],
  ['bash <<EOF\ngit push origin main\nEOF', 'push-main'],
  ["bash <<< 'git push origin main'", 'push-main'],
  ["echo 'git push origin main' | sh", 'unparseable'],
  ['cat <<EOF\n$(git push origin main)\nEOF', 'push-main'],
  ['xargs git push origin < branches.txt', 'dynamic'],
  ['find . -name x -exec git push origin main \\;', 'push-main'],
  ['$GIT push origin main', 'dynamic'],
  ['python3 -c "import os; os.system(\'git push origin HEAD:main\')"', 'inline-git'],
  ["node -e \"require('child_process').execSync('git push origin main')\"", 'inline-git'],
  ['git commit --no-verify -m x', 'no-verify'],
  ['git commit -n -m x', 'no-verify'],
  ['git commit -anm x', 'no-verify'],
  ['git commit --no-ver -m x', 'no-verify'],
  ['git commit -m x $FLAGS', 'dynamic'],
  ['git merge --no-verify origin/main', 'no-verify'],
  ['git reset --hard', 'reset-hard'],
  ['git reset --hard origin/main', 'reset-hard'],
  ['git checkout main', 'on-main'],
  ['git checkout Main', 'on-main'],
  ['git switch main', 'on-main'],
  ['git switch --detach main', 'on-main'],
  ['git checkout -B main', 'on-main'],
  ['git checkout -b main origin/main', 'on-main'],
  ['git switch -C main', 'on-main'],
  ['git checkout -', 'unknown-branch'],
  ['git branch -f main HEAD', 'on-main'],
  ['git branch main', 'on-main'],
  ['git branch -M main', 'on-main'],
  ['git branch -m main old', 'on-main'],
  ['git branch -d polecat/nux/old', 'ref-delete'],
  ['git branch -D polecat/nux/old', 'ref-delete'],
  ['git branch --delete x', 'ref-delete'],
  ['git tag -d v1', 'ref-delete'],
  ['git update-ref refs/heads/main HEAD', 'ref-plumbing'],
  ['git update-ref -d refs/heads/polecat/nux/gt-1', 'ref-plumbing'],
  ['git symbolic-ref HEAD refs/heads/main', 'ref-plumbing'],
  ['git send-pack ../../repo.git HEAD:main', 'ref-plumbing'],
  ['git-send-pack ../../repo.git HEAD:main', 'ref-plumbing'],
  ['git fetch origin main:main', 'on-main'],
  ['git fetch origin +main:refs/heads/main', 'on-main'],
  ['git config core.hooksPath /dev/null', 'config'],
  ['git config core.hooksPath', 'config'],
  ['git config --unset core.hooksPath', 'config'],
  ['git config --local core.hookspath .githooks', 'config'],
  ['git config alias.p push', 'config'],
  ['git config push.default matching', 'config'],
  ['git config remote.origin.push +refs/heads/*:refs/heads/*', 'config'],
  ['git config gt.defaultBranch nothing', 'config'],
  ['git config --remove-section core', 'config'],
  ['git config --edit', 'config'],
  ['git worktree add ../other main', 'worktree'],
  ['git remote add --mirror=push m ../../repo.git', 'mirror'],
  ['git reflog expire --expire=now --all', 'ref-delete'],
  ['cd /elsewhere && ls', 'outside-worktree'],
  ['cd .. && git push origin HEAD', 'outside-worktree'],
  ['cd && ls', 'outside-worktree'],
  ['cd ~ && ls', 'outside-worktree'],
  ['cd "$HOME"', 'dynamic'],
  ['cd -', 'outside-worktree'],
  ['echo x > /town/rigs/app/repo.git/hooks/pre-receive', 'outside-worktree'],
  ['echo x > ../../repo.git/refs/heads/main', 'outside-worktree'],
  ['echo x > /etc/passwd', 'outside-worktree'],
  ['echo x >> $OUT', 'dynamic'],
  ['rm -rf ../other-polecat', 'outside-worktree'],
  ['rm .git/gt-hooks/pre-push', 'git-dir'],
  ['echo "" > .git/gt-hooks/pre-commit', 'git-dir'],
  ['sed -i s/exit/true/ .git/gt-hooks/pre-push', 'git-dir'],
  ['chmod -x .git/gt-hooks/pre-push', 'git-dir'],
  ['ln -s ../../repo.git r', 'outside-worktree'],
  ['cp evil ../../repo.git/hooks/pre-receive', 'outside-worktree'],
  ['cp a.txt /etc/', 'outside-worktree'],
  ['cp /town/.gt/refinery.secret .', 'secret'],
  ['mv a.txt ../elsewhere.txt', 'outside-worktree'],
  ['tee /town/town.toml < x', 'outside-worktree'],
  ['rm .claude/settings.json', 'agent-config'],
  ['cat /town/.gt/refinery.secret', 'secret'],
  ['cat ../../../../.gt/refinery.secret', 'secret'],
  ['cat "$GT_TOWN/.gt/refinery.secret"', 'secret'],
  ['echo $GT_REFINERY_TOKEN', 'secret'],
  ['sudo git push origin main', 'sudo'],
  ['watch -n 5 git push origin main', 'push-main'],
  ['git psuh origin main', 'unparseable'],
  ['git PUSH origin main', 'unparseable'],
  ['git -c help.autocorrect=1 psuh origin main', 'config'],
  ["git submodule foreach 'git push origin HEAD:main'", 'push-main'],
  ['git bisect run git push origin main', 'push-main'],
  ["git -c core.pager='git push origin main' log", 'push-main'],
  ['git -c core.fsmonitor=\'sh -c "git push origin main"\' status', 'push-main'],
  ["git config core.editor 'git push origin main'", 'push-main'],
  ["GIT_EDITOR='git push origin main' git commit --amend", 'push-main'],
  ['GIT_SSH_COMMAND="$EVIL" git fetch', 'dynamic'],
  ["alias g='git push origin main'", 'alias'],
  ['git push origin HEAD:refs/heads//main', 'push-main'],
  ['git pu\\\nsh origin main', 'push-main'],
  ['g\\it push origin main', 'push-main'],
  ['"git" "push" "origin" "main"', 'push-main'],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, not a template
  ['git${IFS}push${IFS}origin${IFS}main', 'dynamic'],
  ['echo "unterminated', 'unparseable'],
  ["echo 'unterminated", 'unparseable'],
  ['case x in x) git push origin main;; esac', 'unparseable'],
  ['f() { git push origin main; }; f', 'unparseable'],
  ['git push origin {main,x}', 'unparseable'],
  ['diff <(git show main:a) a', 'unparseable'],
  ['echo $(( 1 + 2 )) $(git push origin main)', 'push-main'],
];

describe('guard policy: allowed on a polecat branch', () => {
  for (const command of ALLOWED) {
    test(JSON.stringify(command), () => {
      const d = decideCommand(command, ctx());
      assert.deepEqual(d, { allow: true }, JSON.stringify(d));
    });
  }
});

describe('guard policy: refused', () => {
  for (const [command, rule] of REFUSED) {
    test(`${JSON.stringify(command)} → ${rule}`, () => {
      const d = decideCommand(command, ctx());
      assert.equal(d.allow, false, `${command} was allowed`);
      if (!d.allow) {
        assert.equal(d.rule, rule, d.reason);
        assert.ok(d.reason.length > 10);
      }
    });
  }
});

describe('guard policy: depends on the current branch', () => {
  const onMain = ctx({ known: true, branch: 'main' });
  test('commit, merge, rebase, reset, pull on main are refused', () => {
    for (const c of [
      'git commit -m x',
      'git commit --amend',
      'git merge x',
      'git rebase x',
      'git reset HEAD~1',
      'git pull',
      'git cherry-pick abc',
      'git revert abc',
      'git am x.patch',
    ]) {
      const d = decideCommand(c, onMain);
      assert.equal(d.allow, false, c);
      assert.equal(!d.allow && d.rule, 'on-main', c);
    }
  });
  test('git push origin HEAD and a bare git push resolve HEAD', () => {
    for (const c of [
      'git push origin HEAD',
      'git push -u origin HEAD',
      'git push',
      'git push origin',
      'git push origin @',
    ]) {
      const d = decideCommand(c, onMain);
      assert.equal(!d.allow && d.rule, 'push-main', c);
    }
  });
  test('a bare git push whose upstream is main is refused', () => {
    const d = decideCommand('git push', ctx({ known: true, branch: 'polecat/nux/gt-1', upstream: 'main' }));
    assert.equal(!d.allow && d.rule, 'push-main');
  });
  test('risky push config makes a bare git push refuse', () => {
    const d = decideCommand(
      'git push',
      ctx({ known: true, branch: 'polecat/nux/gt-1', riskyPushConfig: ['push.default matching'] }),
    );
    assert.equal(!d.allow && d.rule, 'push-config');
    assert.deepEqual(
      decideCommand('git push origin HEAD', ctx({ known: true, branch: 'p', riskyPushConfig: ['x'] })),
      { allow: true },
    );
  });
  test('detached HEAD: commit allowed, push HEAD without destination refused', () => {
    const detached = ctx({ known: true });
    assert.deepEqual(decideCommand('git commit -m x', detached), { allow: true });
    assert.equal(decideCommand('git push origin HEAD', detached).allow, false);
    assert.deepEqual(decideCommand('git push origin HEAD:polecat/nux/gt-1', detached), { allow: true });
  });
  test('an unreadable HEAD fails closed', () => {
    const unknown = ctx({ known: false });
    assert.equal(decideCommand('git commit -m x', unknown).allow, false);
    assert.equal(decideCommand('git push', unknown).allow, false);
    assert.deepEqual(decideCommand('git status', unknown), { allow: true });
  });
  test('the branch is read in the directory git runs in (cd, git -C)', () => {
    const seen: string[] = [];
    const c = ctx(undefined, {
      headOf: (dir) => {
        seen.push(dir);
        return { known: true, branch: 'polecat/nux/gt-1' };
      },
    });
    decideCommand('cd src && git commit -m x', c);
    decideCommand('git -C lib commit -m x', c);
    assert.deepEqual(seen, [`${WT}/src`, `${WT}/lib`]);
  });
  test('several protected branches, compared case-insensitively', () => {
    const c = ctx(undefined, { protectedBranches: ['main', 'master'] });
    assert.equal(decideCommand('git push origin HEAD:Master', c).allow, false);
    assert.equal(decideCommand('git push origin HEAD:main', c).allow, false);
  });
});

describe('guard policy: file tools', () => {
  const call = (tool: string, input: unknown) => decide(toolCallOf(tool, input), ctx());
  test('edits inside the worktree are allowed, outside refused', () => {
    assert.deepEqual(call('Edit', { file_path: `${WT}/src/a.ts`, old_string: 'a', new_string: 'b' }), {
      allow: true,
    });
    assert.deepEqual(call('Write', { file_path: 'src/new.ts', content: '' }), { allow: true });
    assert.deepEqual(call('Write', { file_path: '/tmp/scratch.txt', content: '' }), { allow: true });
    assert.equal(
      call('Write', { file_path: '/town/rigs/app/repo.git/hooks/pre-receive', content: '' }).allow,
      false,
    );
    assert.equal(call('Edit', { file_path: `${WT}/../other/a.ts` }).allow, false);
    assert.equal(call('MultiEdit', { file_path: '/etc/hosts', edits: [] }).allow, false);
    assert.equal(call('Write', { file_path: `${WT}/.git/gt-hooks/pre-push`, content: '' }).allow, false);
    assert.equal(call('Edit', { file_path: `${WT}/.claude/settings.json` }).allow, false);
    assert.equal(call('write_file', { file_path: '/town/town.toml', content: '' }).allow, false);
  });
  test('the town state dir cannot be read', () => {
    assert.equal(call('Read', { file_path: '/town/.gt/refinery.secret' }).allow, false);
    assert.deepEqual(call('Read', { file_path: `${WT}/README.md` }), { allow: true });
  });
  test('codex apply_patch paths are checked', () => {
    const patch =
      '*** Begin Patch\n*** Update File: /town/rigs/app/repo.git/hooks/pre-receive\n@@\n-x\n+y\n*** End Patch';
    assert.equal(call('apply_patch', { input: patch }).allow, false);
    assert.deepEqual(
      call('apply_patch', { input: '*** Begin Patch\n*** Add File: src/x.ts\n+y\n*** End Patch' }),
      {
        allow: true,
      },
    );
  });
  test('a write tool without a path is refused (fail closed)', () => {
    assert.throws(() => toolCallOf('Write', { content: 'x' }));
  });
});

describe('guard hook protocols', () => {
  test('claude input → decision; refusal is exit 2 with the reason on stderr and deny JSON', () => {
    const req = parseHookInput(
      JSON.stringify({
        session_id: 's',
        cwd: WT,
        hook_event_name: 'PreToolUse',
        tool_name: 'Bash',
        tool_input: { command: 'git push origin main' },
      }),
    );
    assert.equal(req.protocol, 'claude');
    const d = decide(req.call, ctx());
    assert.equal(d.allow, false);
    const answer = formatAnswer(req.protocol, false, 'no');
    assert.equal(answer.exitCode, 2);
    assert.equal(answer.stderr, 'no');
    assert.equal(JSON.parse(answer.stdout).hookSpecificOutput.permissionDecision, 'deny');
  });
  test('gemini input is recognised and answered in its format', () => {
    const req = parseHookInput(
      JSON.stringify({
        cwd: WT,
        hook_event_name: 'BeforeTool',
        tool_name: 'run_shell_command',
        tool_input: { command: 'git push origin main' },
      }),
    );
    assert.equal(req.protocol, 'gemini');
    assert.equal(decide(req.call, ctx()).allow, false);
    assert.deepEqual(JSON.parse(formatAnswer('gemini', false, 'no').stdout), {
      decision: 'deny',
      reason: 'no',
    });
    assert.equal(formatAnswer('gemini', true).stdout, '{}');
  });
  test('codex input (turn_id) is recognised', () => {
    const req = parseHookInput(
      JSON.stringify({
        turn_id: 't',
        cwd: WT,
        hook_event_name: 'PreToolUse',
        tool_name: 'Bash',
        tool_input: { command: 'ls' },
      }),
    );
    assert.equal(req.protocol, 'codex');
    assert.deepEqual(decide(req.call, ctx()), { allow: true });
  });
  test('unreadable input throws (the command turns that into a refusal)', () => {
    for (const bad of [
      '',
      'not json',
      '[]',
      '{}',
      '{"tool_name":"Bash","tool_input":{}}',
      '{"tool_name":"Bash","tool_input":{"command":42}}',
    ]) {
      assert.throws(() => parseHookInput(bad), bad);
    }
  });
});

describe('shell parser', () => {
  test('splits lists, pipelines, substitutions and keeps quoted text as one word', () => {
    const cmds = parseShell(`FOO=1 git commit -m "a && b" && echo "$(git rev-parse HEAD)" | tee x; ls`);
    assert.deepEqual(
      cmds.map((c) => c.words.map((w) => w.text)),
      [
        ['git', 'commit', '-m', 'a && b'],
        ['git', 'rev-parse', 'HEAD'],
        ['echo', '$(git rev-parse HEAD)'],
        ['tee', 'x'],
        ['ls'],
      ],
    );
    assert.equal(cmds[0]!.assigns[0]!.text, 'FOO=1');
    assert.equal(cmds[2]!.words[1]!.dynamic, true);
    assert.equal(cmds[3]!.pipedInput, true);
  });
  test('2>&1 is a redirection, not an argument', () => {
    const [cmd] = parseShell('git push origin HEAD 2>&1');
    assert.deepEqual(
      cmd!.words.map((w) => w.text),
      ['git', 'push', 'origin', 'HEAD'],
    );
  });
  test('quoted here-document bodies are data', () => {
    const cmds = parseShell("cat <<'EOF'\n$(git push origin main)\nEOF\necho done");
    assert.deepEqual(
      cmds.map((c) => c.words[0]!.text),
      ['cat', 'echo'],
    );
  });
  test('fails on what it does not understand', () => {
    for (const bad of [
      'echo "x',
      "echo 'x",
      'echo `x',
      'echo $(x',
      'case a in a) ;; esac',
      'cat <<EOF\nno end',
    ]) {
      assert.throws(() => parseShell(bad), ShellParseError, bad);
    }
  });
});

describe('guard install: merging with existing settings', () => {
  test('keeps other hooks and keys, replaces an earlier gt guard hook', () => {
    const base = {
      model: 'x',
      hooks: {
        PreToolUse: [
          {
            matcher: 'Bash',
            hooks: [
              { type: 'command', command: 'gt guard --format codex' },
              { type: 'command', command: 'lint' },
            ],
          },
        ],
        Stop: [{ hooks: [{ type: 'command', command: 'gt costs record' }] }],
      },
    };
    const merged = codexHooksConfig(base);
    assert.equal(merged.model, 'x');
    assert.deepEqual(merged.hooks?.Stop, base.hooks.Stop);
    const pre = merged.hooks?.PreToolUse ?? [];
    assert.equal(pre.length, 2);
    assert.deepEqual(pre[0]!.hooks, [{ type: 'command', command: 'lint' }]);
    assert.equal(pre[1]!.hooks[0]!.command, 'gt guard --format codex');
    // Idempotent.
    assert.deepEqual(codexHooksConfig(merged), merged);
  });
  test('gemini uses BeforeTool', () => {
    const s = geminiSettings({});
    assert.equal(
      s.hooks?.BeforeTool?.[0]?.matcher,
      'run_shell_command|write_file|replace|read_file|read_many_files',
    );
    assert.deepEqual(
      mergeGuardHook(s, 'BeforeTool', 'x', { type: 'command', command: 'gt guard' }).hooks?.BeforeTool
        ?.length,
      1,
    );
  });
});
