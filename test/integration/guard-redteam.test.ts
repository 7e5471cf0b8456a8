import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BACKSTOP_HOOKS, inspectBackstops } from '../../src/git/backstop-hooks';
import {
  createPolecatCheckout,
  type PolecatCheckout,
  removePolecatCheckout,
} from '../../src/git/polecat-checkout';
import { installGuardHooks } from '../../src/guard/install';
import { refineryPushEnv } from '../../src/town/secret';
import { GT_BIN, makeTown } from '../helpers/gt';

/**
 * Red team: from a polecat checkout, try to change the rig's main in every way we can think of — through
 * the tool-call guard, through git directly (the checkout's backstop hooks must refuse), and around the
 * backstops too (the bare repo's pre-receive hook must refuse). After every attempt, main is unchanged.
 */
describe('guard red team: nobody but the Refinery moves main', async () => {
  const sandbox = await makeTown({ rig: true });
  const { town, git, gitRun } = sandbox;
  after(() => sandbox.cleanup());
  const rig = join(town, 'rigs', 'app');
  const bare = join(rig, 'repo.git');
  const mainOf = () => git(['rev-parse', 'refs/heads/main'], bare);
  let pc: PolecatCheckout;
  let wt: string;
  let originalMain: string;
  const attempts: string[] = [];

  before(async () => {
    originalMain = mainOf();
    pc = await createPolecatCheckout(town, { rig: 'app', polecat: 'nux', bead: 'app-1' });
    wt = pc.path;
    writeFileSync(join(wt, 'feature.txt'), 'work\n');
    git(['add', 'feature.txt'], wt);
    git(['commit', '--quiet', '-m', 'polecat work'], wt);
  });

  /** Runs one attempt and checks that main did not move. */
  const attempt = (name: string, run: () => void) => {
    test(name, () => {
      const beforeSha = mainOf();
      run();
      assert.equal(mainOf(), beforeSha, `${name}: main moved`);
      assert.equal(mainOf(), originalMain, `${name}: main is not the original`);
      attempts.push(name);
    });
  };

  const guardEnv = () => ({ ...sandbox.env, GT_WORKTREE: wt, GT_TOWN: town, GT_RIG: 'app' });
  const guard = (payload: Record<string, unknown>) => {
    const r = spawnSync(process.execPath, [GT_BIN, 'guard'], {
      cwd: wt,
      env: guardEnv(),
      input: JSON.stringify(payload),
      encoding: 'utf8',
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const bashCall = (command: string) => ({
    session_id: 'red',
    cwd: wt,
    hook_event_name: 'PreToolUse',
    tool_name: 'Bash',
    tool_input: { command },
  });
  /** Asks the guard; when refused, nothing runs. When (wrongly) allowed, the command really runs. */
  const throughGuard = (command: string) => {
    const r = guard(bashCall(command));
    if (r.code === 0) spawnSync('bash', ['-c', command], { cwd: wt, env: sandbox.env });
    assert.equal(r.code, 2, `guard allowed: ${command}`);
    assert.match(r.stderr, /gt guard/);
    return r;
  };
  const refusedByBackstop = (args: string[], env: NodeJS.ProcessEnv = {}, pattern = /^gt: refusing/m) => {
    const r = gitRun(args, wt, env);
    assert.notEqual(r.code, 0, `git ${args.join(' ')} succeeded`);
    assert.match(r.stderr, pattern, r.stderr);
    return r;
  };
  const refusedByServer = (args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) => {
    const r = gitRun(args, cwd ?? wt, env);
    assert.notEqual(r.code, 0, `git ${args.join(' ')} succeeded`);
    assert.match(r.stderr, /pre-receive hook declined|refusing to (update|delete)/, r.stderr);
    return r;
  };

  test('the polecat checkout is a clone of repo.git on its branch, with backstops', () => {
    assert.equal(pc.branch, 'polecat/nux/app-1');
    assert.equal(pc.baseSha, originalMain);
    assert.equal(git(['symbolic-ref', '--short', 'HEAD'], wt), 'polecat/nux/app-1');
    assert.equal(git(['config', 'remote.origin.url'], wt), bare);
    // Not a linked worktree of the bare repo: its refs are its own.
    assert.equal(git(['rev-parse', '--git-common-dir'], wt), '.git');
    assert.equal(git(['worktree', 'list', '--porcelain'], bare).includes(wt), false);
    assert.equal(gitRun(['rev-parse', '--verify', '-q', 'refs/heads/main'], wt).code, 1, 'no local main');
    const hooksDir = git(['config', 'core.hooksPath'], wt);
    assert.equal(hooksDir, join(wt, '.git', 'gt-hooks'));
    for (const name of Object.keys(BACKSTOP_HOOKS)) {
      assert.ok(statSync(join(hooksDir, name)).mode & 0o100, `${name} is executable`);
    }
    assert.equal(git(['config', 'gt.defaultBranch'], wt), 'main');
  });

  test('the guard allows ordinary polecat work and pushing the polecat branch', () => {
    for (const command of [
      'git status',
      'git log main',
      'git diff origin/main...HEAD',
      'echo main',
      'git push -u origin HEAD',
    ]) {
      const r = guard(bashCall(command));
      assert.equal(r.code, 0, `${command}: ${r.stderr}`);
    }
    git(['push', '--quiet', '-u', 'origin', 'HEAD'], wt);
    assert.equal(git(['rev-parse', 'refs/heads/polecat/nux/app-1'], bare), git(['rev-parse', 'HEAD'], wt));
  });

  // ---- wall 1: the tool-call guard ---------------------------------------------------------------
  attempt('guard: git push origin HEAD:main', () => throughGuard('git push origin HEAD:main'));
  attempt('guard: git push origin +HEAD:refs/heads/main', () =>
    throughGuard('git push origin +HEAD:refs/heads/main'),
  );
  attempt('guard: git push --force origin HEAD:main', () =>
    throughGuard('git push --force origin HEAD:main'),
  );
  attempt('guard: git push --mirror origin', () => throughGuard('git push --mirror origin'));
  attempt('guard: git push origin :main', () => throughGuard('git push origin :main'));
  attempt('guard: bash -c nested push', () =>
    throughGuard(`bash -c 'cd . && FOO=1 command git push origin HEAD:main'`),
  );
  attempt('guard: git -c core.hooksPath=/dev/null push', () =>
    throughGuard('git -c core.hooksPath=/dev/null push --no-verify origin HEAD:main'),
  );
  attempt('guard: alias defined with -c', () => throughGuard('git -c alias.ship=push ship origin HEAD:main'));
  attempt('guard: git --git-dir=<bare> update-ref main', () =>
    throughGuard(`git --git-dir=${bare} update-ref refs/heads/main HEAD`),
  );
  attempt('guard: cd into the bare repo', () =>
    throughGuard(`cd ${bare} && git update-ref refs/heads/main HEAD`),
  );
  attempt('guard: overwrite the pre-receive hook', () =>
    throughGuard(`printf 'exit 0' > ${join(bare, 'hooks', 'pre-receive')}`),
  );
  attempt('guard: disable the checkout backstops', () => throughGuard('git config core.hooksPath /dev/null'));
  attempt('guard: read the Refinery credential', () =>
    throughGuard(`cat ${join(town, '.gt', 'refinery.secret')}`),
  );
  attempt('guard: Write tool on the bare repo hook', () => {
    const r = guard({
      cwd: wt,
      hook_event_name: 'PreToolUse',
      tool_name: 'Write',
      tool_input: { file_path: join(bare, 'hooks', 'pre-receive'), content: '#!/bin/sh\nexit 0\n' },
    });
    assert.equal(r.code, 2);
    assert.equal(JSON.parse(r.stdout).hookSpecificOutput.permissionDecision, 'deny');
  });
  attempt('guard: Gemini run_shell_command push', () => {
    const r = guard({
      cwd: wt,
      hook_event_name: 'BeforeTool',
      tool_name: 'run_shell_command',
      tool_input: { command: 'git push origin HEAD:main' },
    });
    assert.equal(r.code, 2);
    assert.equal(JSON.parse(r.stdout).decision, 'deny');
  });
  attempt('guard: Codex Bash push', () => {
    const r = guard({
      turn_id: 't1',
      cwd: wt,
      hook_event_name: 'PreToolUse',
      tool_name: 'Bash',
      tool_input: { command: 'git push origin main' },
    });
    assert.equal(r.code, 2);
  });
  attempt('guard: a bare git push whose upstream is main (HEAD resolved in the checkout)', () => {
    git(['config', 'branch.polecat/nux/app-1.merge', 'refs/heads/main'], wt);
    git(['config', 'push.default', 'upstream'], wt);
    try {
      const r = throughGuard('git push');
      assert.match(r.stderr, /upstream of polecat\/nux\/app-1/);
    } finally {
      git(['config', 'push.default', 'current'], wt);
      git(['config', 'branch.polecat/nux/app-1.merge', 'refs/heads/polecat/nux/app-1'], wt);
    }
  });
  attempt('guard: unparseable input fails closed', () => {
    const r = spawnSync(process.execPath, [GT_BIN, 'guard'], {
      cwd: wt,
      env: guardEnv(),
      input: '{"tool_name":',
      encoding: 'utf8',
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot read this tool call/);
  });

  // ---- wall 2: the checkout's backstop hooks (git run directly, no guard) -------------------------
  attempt('git: push HEAD:main (pre-push)', () => refusedByBackstop(['push', 'origin', 'HEAD:main']));
  attempt('git: push HEAD:refs/heads/MAIN (pre-push, any case)', () =>
    refusedByBackstop(['push', 'origin', 'HEAD:refs/heads/MAIN']),
  );
  attempt('git: push --force of the polecat branch (pre-push, non-fast-forward)', () => {
    git(['commit', '--quiet', '--amend', '-m', 'rewritten'], wt);
    refusedByBackstop(['push', '--force', 'origin', 'HEAD:polecat/nux/app-1'], {}, /non-fast-forward/);
    git(['reset', '--quiet', '--hard', 'origin/polecat/nux/app-1'], wt);
  });
  attempt('git: delete a remote branch (pre-push)', () =>
    refusedByBackstop(['push', 'origin', ':polecat/nux/app-1']),
  );
  attempt('git: push --mirror (pre-push)', () => refusedByBackstop(['push', '--mirror', 'origin']));
  attempt('git: create a local main (reference-transaction)', () =>
    refusedByBackstop(['checkout', '-b', 'main', 'origin/main'], {}, /refusing to change refs\/heads\/main/),
  );
  attempt('git: update-ref refs/heads/main (reference-transaction)', () =>
    refusedByBackstop(['update-ref', 'refs/heads/main', 'HEAD'], {}, /refusing to change/),
  );
  attempt('git: fetch origin main:main (reference-transaction)', () =>
    refusedByBackstop(['fetch', 'origin', 'main:main'], {}, /refusing to change/),
  );
  attempt('git: commit on a detached HEAD at main (pre-commit)', () => {
    git(['checkout', '--quiet', '--detach', 'origin/main'], wt);
    try {
      refusedByBackstop(['commit', '--allow-empty', '-m', 'on main'], {}, /detached HEAD at the tip of main/);
    } finally {
      git(['checkout', '--quiet', 'polecat/nux/app-1'], wt);
    }
  });

  // ---- wall 3: the bare repo's pre-receive hook (backstops bypassed too) --------------------------
  attempt('bypass: -c core.hooksPath=/dev/null push HEAD:main', () =>
    refusedByServer(['-c', 'core.hooksPath=/dev/null', 'push', 'origin', 'HEAD:main']),
  );
  attempt('bypass: push --no-verify HEAD:main', () =>
    refusedByServer(['push', '--no-verify', 'origin', 'HEAD:main']),
  );
  attempt('bypass: --no-verify with a forged Refinery token', () =>
    refusedByServer(['push', '--no-verify', 'origin', 'HEAD:main'], { GT_REFINERY_TOKEN: 'f'.repeat(64) }),
  );
  attempt('bypass: --no-verify --force HEAD:main', () =>
    refusedByServer(['push', '--no-verify', '--force', 'origin', 'HEAD:main']),
  );
  attempt('bypass: --no-verify delete main', () =>
    refusedByServer(['push', '--no-verify', 'origin', ':main']),
  );
  attempt('bypass: --no-verify --mirror', () =>
    refusedByServer(['push', '--no-verify', '--mirror', 'origin']),
  );
  attempt('bypass: local main made without hooks, then pushed', () => {
    git(['-c', 'core.hooksPath=/dev/null', 'update-ref', 'refs/heads/main', 'HEAD'], wt);
    try {
      refusedByServer(['push', '--no-verify', 'origin', 'main']);
    } finally {
      git(['-c', 'core.hooksPath=/dev/null', 'update-ref', '-d', 'refs/heads/main'], wt);
    }
  });
  attempt('bypass: hooksPath unset in the checkout config', () => {
    git(['config', 'core.hooksPath', '/dev/null'], wt);
    try {
      refusedByServer(['push', 'origin', 'HEAD:main']);
    } finally {
      git(['config', 'core.hooksPath', join(wt, '.git', 'gt-hooks')], wt);
    }
  });
  attempt('bypass: a fresh clone without any gt hooks', () => {
    const rogue = join(sandbox.dir, 'rogue');
    git(['clone', '--quiet', bare, rogue], sandbox.dir);
    git(['commit', '--quiet', '--allow-empty', '-m', 'rogue'], rogue);
    refusedByServer(['push', 'origin', 'HEAD:main'], {}, rogue);
    // A force push of unrelated history.
    git(['checkout', '--quiet', '--orphan', 'unrelated'], rogue);
    git(['commit', '--quiet', '--allow-empty', '-m', 'unrelated'], rogue);
    refusedByServer(['push', '--force', 'origin', 'HEAD:main'], {}, rogue);
  });
  attempt('bypass: a global core.hooksPath does not switch the server hook off', () => {
    const hooks = join(sandbox.dir, 'empty-hooks');
    mkdirSync(hooks, { recursive: true });
    const globalConfig = join(sandbox.dir, 'hooks-gitconfig');
    writeFileSync(
      globalConfig,
      `[user]\n\tname = T\n\temail = t@example.invalid\n[core]\n\thooksPath = ${hooks}\n`,
    );
    refusedByServer(['-c', 'core.hooksPath=', 'push', '--no-verify', 'origin', 'HEAD:main'], {
      GIT_CONFIG_GLOBAL: globalConfig,
    });
  });

  test('at least 20 different attempts were made, all refused, main unchanged', async () => {
    assert.ok(attempts.length >= 20, `only ${attempts.length} attempts ran`);
    assert.equal(mainOf(), originalMain);
    assert.deepEqual(await inspectBackstops(wt, 'main'), [], 'the backstops are intact afterwards');
  });

  test('checkout creation validates its input and never overwrites', async () => {
    await assert.rejects(
      createPolecatCheckout(town, { rig: 'app', polecat: 'nux', bead: 'app-9' }),
      /already has a checkout/,
    );
    await assert.rejects(
      createPolecatCheckout(town, { rig: 'app', polecat: '../x', bead: 'app-9' }),
      /path separator|'\.\.'/,
    );
    await assert.rejects(
      createPolecatCheckout(town, { rig: 'app', polecat: 'rictus', bead: '$(touch x)' }),
      /not a bead id/,
    );
    await assert.rejects(
      createPolecatCheckout(town, { rig: 'nope', polecat: 'rictus', bead: 'app-9' }),
      /no bare repository/,
    );
    assert.equal(existsSync(join(rig, 'polecats', 'rictus')), false);
  });

  // ---- the Refinery's credential still works; the checkout is removed only once its work landed -----
  test('removal refuses while the polecat work is not on main', async () => {
    await assert.rejects(removePolecatCheckout(town, 'app', 'nux'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'GT_E_UNMERGED_WORK');
      assert.match(error.message, /polecat\/nux\/app-1/);
      return true;
    });
    assert.ok(existsSync(wt));
    writeFileSync(join(wt, 'scratch.txt'), 'uncommitted');
    await assert.rejects(removePolecatCheckout(town, 'app', 'nux'), /uncommitted changes/);
    git(['clean', '-fq'], wt);
  });

  test("the Refinery's credentialed push lands the polecat branch; then the checkout can go", async () => {
    const refinery = join(rig, 'refinery');
    git(['fetch', '--quiet', 'origin'], refinery);
    git(['merge', '--quiet', '--ff-only', 'origin/polecat/nux/app-1'], refinery);
    const tested = git(['rev-parse', 'HEAD'], refinery);
    const push = gitRun(['push', 'origin', 'HEAD:main'], refinery, refineryPushEnv(town));
    assert.equal(push.code, 0, push.stderr);
    assert.equal(mainOf(), tested);
    const result = await removePolecatCheckout(town, 'app', 'nux');
    assert.equal(result.removed, true);
    assert.equal(result.verifiedAgainst, tested);
    assert.equal(existsSync(wt), false);
  });

  test('guard hooks install into a checkout without dirtying it', async () => {
    const next = await createPolecatCheckout(town, { rig: 'app', polecat: 'slit', bead: 'app-2' });
    assert.equal(next.baseSha, mainOf(), 'new checkouts start from the current main');
    const files = installGuardHooks(next.path, { agents: ['claude', 'codex', 'gemini'], gtBin: 'gt' });
    assert.equal(files.length, 3);
    const claude = JSON.parse(readFileSync(join(next.path, '.claude', 'settings.json'), 'utf8'));
    assert.equal(claude.hooks.PreToolUse[0].matcher, 'Bash|Edit|Write|MultiEdit|NotebookEdit|Read');
    assert.equal(claude.hooks.PreToolUse[0].hooks[0].command, 'gt guard --format claude');
    assert.equal(git(['status', '--porcelain'], next.path), '');
    const removed = await removePolecatCheckout(town, 'app', 'slit');
    assert.equal(removed.removed, true, 'a checkout with nothing unmerged is removed');
  });
});
