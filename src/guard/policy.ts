/**
 * The guard's decisions: what an agent's tool call may do. Pure: everything it needs to know about the
 * world (the worktree, the protected branch, which branch HEAD is on in a directory) comes in through
 * GuardContext, so every rule is unit-tested with a table (test/unit/guard-policy.test.ts).
 *
 * The guard is the first of three walls (docs/guard.md): it refuses early with a reason the agent can act
 * on. The polecat checkout's git hooks and the bare repo's pre-receive hook stand behind it, so a rule
 * here errs on the side of refusing; anything it cannot parse is refused (fail closed).
 */
import { isAbsolute, posix } from 'node:path';
import { parseShell, ShellParseError, type SimpleCommand, type Word } from './shell';

export interface HeadInfo {
  /** False when the state of the repository could not be read: rules that need it refuse. */
  known: boolean;
  /** The checked-out branch (short name), undefined when HEAD is detached. */
  branch?: string;
  /** The branch name on the remote that the current branch tracks (short, e.g. "main"), if any. */
  upstream?: string;
  /** Config that makes a bare `git push` push more than the current branch (remote.*.push, push.default=matching, remote.*.mirror). */
  riskyPushConfig?: string[];
}

export interface GuardContext {
  /** The agent's own checkout (absolute). Writes and `cd` must stay inside it. */
  worktree: string;
  /** Where the tool call runs (absolute). */
  cwd: string;
  /** The town root, when known: everything in it outside the worktree is off limits. */
  town?: string;
  /** Branches no agent may write (the rig's default branch). Compared case-insensitively. */
  protectedBranches: readonly string[];
  /** Directories where scratch files may be written (the system temp dir). */
  scratchDirs: readonly string[];
  home?: string;
  /** Branch facts of the repository at `dir` (the guard runs `git` there). */
  headOf: (dir: string) => HeadInfo;
  /** The value of `alias.<name>` in the repository at `dir`, if defined. */
  aliasOf?: (dir: string, name: string) => string | undefined;
  /** Resolves symlinks of the longest existing prefix of an absolute path (identity when absent). */
  realpath?: (path: string) => string;
}

/** Agent config files (relative to a worktree) that hold the guard hook: agents may not edit them. */
export const GUARD_CONFIG_FILES: readonly string[] = [
  '.claude/settings.json',
  '.claude/settings.local.json',
  '.codex/hooks.json',
  '.codex/config.toml',
  '.gemini/settings.json',
];

export type Decision = { allow: true } | { allow: false; rule: string; reason: string };

const ALLOW: Decision = { allow: true };

class Refusal extends Error {
  constructor(
    readonly rule: string,
    reason: string,
  ) {
    super(reason);
  }
}

function refuse(rule: string, reason: string): never {
  throw new Refusal(rule, reason);
}

// ---------------------------------------------------------------------------------------------------
// Tool calls

export interface ToolCall {
  /** Normalised tool kind. */
  kind: 'shell' | 'write' | 'read' | 'patch' | 'other';
  tool: string;
  command?: string;
  /** Directory a shell command runs in, when the tool says (Gemini's dir_path). */
  dir?: string;
  paths?: string[];
}

const WRITE_TOOLS = new Set(['Edit', 'Write', 'MultiEdit', 'NotebookEdit', 'write_file', 'replace', 'edit']);
const READ_TOOLS = new Set([
  'Read',
  'read_file',
  'read_many_files',
  'Grep',
  'Glob',
  'glob',
  'grep',
  'search_file_content',
]);
const SHELL_TOOLS = new Set([
  'Bash',
  'run_shell_command',
  'shell',
  'exec_command',
  'local_shell',
  'container.exec',
]);
const PATCH_TOOLS = new Set(['apply_patch']);

/** Turns a tool name and its input object into a ToolCall; throws on input it cannot read. */
export function toolCallOf(tool: string, input: unknown): ToolCall {
  const obj = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const str = (key: string) => (typeof obj[key] === 'string' ? (obj[key] as string) : undefined);
  if (SHELL_TOOLS.has(tool)) {
    let command = obj.command;
    // Codex's shell tool passes an argv array; only ["bash","-lc",script]-style arrays are unwrapped.
    if (Array.isArray(command)) {
      if (!command.every((x) => typeof x === 'string'))
        throw new GuardInputError('command array is not strings');
      command = (command as string[]).map(shellWord).join(' ');
    }
    if (typeof command !== 'string') throw new GuardInputError(`${tool} call without a command string`);
    const dir = str('dir_path') ?? str('directory') ?? str('workdir') ?? str('cwd');
    return { kind: 'shell', tool, command, ...(dir !== undefined ? { dir } : {}) };
  }
  if (WRITE_TOOLS.has(tool)) {
    const path = str('file_path') ?? str('notebook_path') ?? str('path') ?? str('absolute_path');
    if (path === undefined) throw new GuardInputError(`${tool} call without a file path`);
    return { kind: 'write', tool, paths: [path] };
  }
  if (READ_TOOLS.has(tool)) {
    const paths = ['file_path', 'path', 'absolute_path', 'dir_path'].map(str).filter((x): x is string => !!x);
    if (Array.isArray(obj.paths)) for (const p of obj.paths) if (typeof p === 'string') paths.push(p);
    return { kind: 'read', tool, paths };
  }
  if (PATCH_TOOLS.has(tool)) {
    const text = ['input', 'patch', 'command'].map(str).find((x) => x !== undefined);
    if (text === undefined) throw new GuardInputError('apply_patch call without a patch');
    const paths: string[] = [];
    for (const m of text.matchAll(/^\*\*\* (?:Add File|Update File|Delete File|Move to): (.+)$/gm)) {
      paths.push(m[1]!.trim());
    }
    return { kind: 'patch', tool, paths };
  }
  // An unknown tool that carries a shell command is treated as one.
  if (typeof obj.command === 'string') return { kind: 'shell', tool, command: obj.command };
  return { kind: 'other', tool };
}

export class GuardInputError extends Error {
  override name = 'GuardInputError';
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function decideToolCall(call: ToolCall, ctx: GuardContext): Decision {
  try {
    switch (call.kind) {
      case 'shell': {
        const cwd = call.dir ? posix.resolve(ctx.cwd, call.dir) : ctx.cwd;
        if (call.dir) checkDir(call.dir, { cwd: ctx.cwd }, ctx, 'outside-worktree');
        checkShell(call.command ?? '', { cwd }, ctx, 0);
        return ALLOW;
      }
      case 'write':
      case 'patch':
        for (const p of call.paths ?? []) checkWrite({ text: p, dynamic: false }, { cwd: ctx.cwd }, ctx);
        return ALLOW;
      case 'read':
        for (const p of call.paths ?? []) checkSecret({ text: p, dynamic: false }, { cwd: ctx.cwd }, ctx);
        return ALLOW;
      default:
        return ALLOW;
    }
  } catch (error) {
    return asDecision(error);
  }
}

/** Decision for one shell command line run in ctx.cwd. */
export function decideShell(command: string, ctx: GuardContext): Decision {
  try {
    checkShell(command, { cwd: ctx.cwd }, ctx, 0);
    return ALLOW;
  } catch (error) {
    return asDecision(error);
  }
}

function asDecision(error: unknown): Decision {
  if (error instanceof Refusal) return { allow: false, rule: error.rule, reason: error.message };
  if (error instanceof ShellParseError) {
    return {
      allow: false,
      rule: 'unparseable',
      reason: `gt guard cannot check this command (${error.message}), so it is refused. Write it as plain commands without that construct.`,
    };
  }
  // Our own bug: still refuse (fail closed), but say so.
  return {
    allow: false,
    rule: 'internal',
    reason: `gt guard failed while checking this call (${(error as Error)?.message ?? String(error)}); refused to be safe.`,
  };
}

// ---------------------------------------------------------------------------------------------------
// Shell

interface State {
  /** Current directory of the shell; undefined once it can no longer be known (popd, cd "$X"). */
  cwd: string | undefined;
}

const MAX_RECURSION = 8;

function checkShell(line: string, state: State, ctx: GuardContext, depth: number): void {
  if (depth > MAX_RECURSION) refuse('unparseable', 'gt guard: commands nested too deeply to check');
  const commands = parseShell(line);
  for (const command of commands) checkCommand(command, state, ctx, depth);
}

// Environment variables that would point git at another repository, config, or identity.
const DENIED_ENV =
  /^(GIT_DIR|GIT_WORK_TREE|GIT_COMMON_DIR|GIT_INDEX_FILE|GIT_OBJECT_DIRECTORY|GIT_ALTERNATE_OBJECT_DIRECTORIES|GIT_CONFIG.*|GIT_EXEC_PATH|GIT_NAMESPACE|GIT_CEILING_DIRECTORIES|GIT_DISCOVERY_ACROSS_FILESYSTEM|GT_REFINERY_TOKEN|GT_WORKTREE|GT_DEFAULT_BRANCH|GT_TOWN|GT_RIG)$/;
// Environment variables whose value git (or ssh) runs as a command: the command is checked too.
const EXEC_ENV =
  /^(GIT_EDITOR|GIT_SEQUENCE_EDITOR|GIT_PAGER|PAGER|EDITOR|VISUAL|GIT_SSH_COMMAND|GIT_SSH|GIT_ASKPASS|SSH_ASKPASS|GIT_EXTERNAL_DIFF|GIT_PROXY_COMMAND)$/;
// Config keys whose value git runs as a command.
const EXEC_CONFIG =
  /^(core\.(pager|editor|fsmonitor|sshcommand|askpass|gitproxy)|pager\..+|sequence\.editor|diff\.external|diff\..+\.(textconv|command)|merge\..+\.driver|filter\..+\.(clean|smudge|process)|gpg\.(.+\.)?program|credential\.helper|credential\..+\.helper|uploadpack\.packobjectshook|interactive\.difffilter|sendemail\..*(cmd|smtpserver)|mergetool\..+\.cmd|difftool\..+\.cmd)$/;
const SECRET_WORD = /refinery\.secret|GT_REFINERY_TOKEN|(^|[/"'=$])\.gt(\/|$)/;

const OUTPUT_REDIRECTS = new Set(['>', '>>', '>|', '&>', '&>>', '<>', '>&']);
const SHELLS = new Set(['sh', 'bash', 'zsh', 'dash', 'ksh', 'mksh', 'ash', 'busybox']);
const INTERPRETERS = new Set([
  'python',
  'python3',
  'python2',
  'node',
  'nodejs',
  'perl',
  'ruby',
  'deno',
  'bun',
  'php',
  'lua',
]);
const FILE_WRITERS = new Set([
  'rm',
  'rmdir',
  'mv',
  'cp',
  'tee',
  'touch',
  'ln',
  'mkdir',
  'chmod',
  'chown',
  'chgrp',
  'truncate',
  'install',
  'rsync',
  'unlink',
  'shred',
  'mkfifo',
  'tar',
  'unzip',
  'patch',
]);
const WRAPPERS = new Set(['nice', 'nohup', 'time', 'setsid', 'stdbuf', 'ionice', 'chronic', 'unbuffer']);

function basename(word: string): string {
  const i = word.lastIndexOf('/');
  return i === -1 ? word : word.slice(i + 1);
}

function checkCommand(cmd: SimpleCommand, state: State, ctx: GuardContext, depth: number): void {
  for (const assign of cmd.assigns) checkAssignment(assign, state, ctx, depth);
  for (const r of cmd.redirects) {
    if (r.op === '<<' || r.op === '<<-' || r.op === '<<<') continue;
    if (OUTPUT_REDIRECTS.has(r.op)) {
      if ((r.op === '>&' || r.op === '<&') && /^(\d+|-)$/.test(r.target.text)) continue;
      checkWrite(r.target, state, ctx);
    } else {
      checkSecret(r.target, state, ctx);
    }
  }
  checkWords(cmd.words, cmd, state, ctx, depth);
}

function checkAssignment(word: Word, state: State, ctx: GuardContext, depth: number): void {
  const eq = word.text.indexOf('=');
  const name = word.text.slice(0, eq).replace(/\+$/, '');
  if (DENIED_ENV.test(name)) {
    refuse('env', `gt guard: setting ${name} is not allowed: it would point git or gt somewhere else.`);
  }
  if (SECRET_WORD.test(word.text))
    refuse('secret', "gt guard: the Refinery's credential is off limits to agents.");
  if (EXEC_ENV.test(name)) checkProgramValue(name, word.text.slice(eq + 1), word.dynamic, state, ctx, depth);
}

/** A setting whose value git or a tool runs as a command (GIT_EDITOR=…, -c core.pager=…): check that command. */
function checkProgramValue(
  what: string,
  value: string,
  dynamic: boolean,
  state: State,
  ctx: GuardContext,
  depth: number,
): void {
  if (dynamic) refuse('dynamic', `gt guard cannot check the command in ${what}; write it out.`);
  if (value.trim() === '') return;
  checkShell(value, state, ctx, depth + 1);
}

/** Checks a command given as words (after assignments), unwrapping wrappers like env/command/xargs. */
function checkWords(words: Word[], cmd: SimpleCommand, state: State, ctx: GuardContext, depth: number): void {
  if (words.length === 0) return;
  for (const w of words) {
    if (SECRET_WORD.test(w.text))
      refuse('secret', "gt guard: the Refinery's credential and the town's state are off limits to agents.");
  }
  const head = words[0]!;
  if (head.dynamic) {
    refuse(
      'dynamic',
      `gt guard cannot check a command whose name is computed at run time (${head.text}); write the command out.`,
    );
  }
  const name = basename(head.text);
  const args = words.slice(1);

  if (['export', 'declare', 'typeset', 'local', 'readonly'].includes(name)) {
    for (const a of args)
      if (/^[A-Za-z_][A-Za-z0-9_]*\+?=/.test(a.text)) checkAssignment(a, state, ctx, depth);
    return;
  }
  if (name === 'sudo' || name === 'doas' || name === 'su' || name === 'pkexec') {
    refuse('sudo', `gt guard: ${name} is not allowed for agents.`);
  }
  if (name === 'command' || name === 'builtin' || name === 'exec') {
    let i = 0;
    while (i < args.length && args[i]!.text.startsWith('-') && args[i]!.text !== '--') {
      if (/^-[a-zA-Z]*[vV]/.test(args[i]!.text)) return; // command -v: a lookup
      i++;
    }
    if (args[i]?.text === '--') i++;
    checkWords(args.slice(i), cmd, state, ctx, depth);
    return;
  }
  if (name === 'env') {
    let i = 0;
    const innerState = { ...state };
    for (; i < args.length; i++) {
      const a = args[i]!;
      if (a.text === '--') {
        i++;
        break;
      }
      if (a.text === '-u' || a.text === '--unset') {
        i++;
        continue;
      }
      if (a.text === '-C' || a.text === '--chdir') {
        const dir = args[++i];
        if (!dir) break;
        innerState.cwd = checkDir(dir.text, state, ctx, 'outside-worktree', dir.dynamic);
        continue;
      }
      if (a.text === '-S' || a.text.startsWith('--split-string')) {
        refuse('unparseable', 'gt guard cannot check env -S; write the command out.');
      }
      if (a.text.startsWith('-')) continue;
      if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(a.text)) {
        checkAssignment(a, state, ctx, depth);
        continue;
      }
      break;
    }
    checkWords(args.slice(i), cmd, innerState, ctx, depth);
    return;
  }
  if (WRAPPERS.has(name)) {
    let i = 0;
    while (i < args.length && args[i]!.text.startsWith('-')) {
      // nice -n 5, ionice -c 2, stdbuf -o L: options whose value is a separate word.
      if (/^-[nco]$/.test(args[i]!.text)) i++;
      i++;
    }
    checkWords(args.slice(i), cmd, state, ctx, depth);
    return;
  }
  if (name === 'alias' && args.some((a) => a.text.includes('='))) {
    refuse('alias', 'gt guard: shell aliases hide what a command runs; write commands out instead.');
  }
  if (name === 'watch') {
    let i = 0;
    while (i < args.length && args[i]!.text.startsWith('-')) {
      if (/^-(n|d|-interval)$/.test(args[i]!.text)) i++;
      i++;
    }
    const rest = args.slice(i);
    if (rest.some((a) => a.dynamic)) refuse('dynamic', 'gt guard cannot check a computed watch command.');
    checkShell(rest.map((a) => a.text).join(' '), state, ctx, depth + 1);
    return;
  }
  if (name === 'timeout') {
    let i = 0;
    while (i < args.length && args[i]!.text.startsWith('-')) {
      if (/^-(s|k)$/.test(args[i]!.text)) i++;
      i++;
    }
    checkWords(args.slice(i + 1), cmd, state, ctx, depth);
    return;
  }
  if (name === 'xargs') {
    let i = 0;
    while (i < args.length && args[i]!.text.startsWith('-')) {
      if (/^-[IdEaLnPs]$/.test(args[i]!.text)) i++;
      i++;
    }
    // The arguments xargs adds come from its input: unknown.
    const rest = args.slice(i);
    if (rest.length === 0) return;
    checkWords([...rest, { text: '<xargs input>', dynamic: true }], cmd, state, ctx, depth);
    return;
  }
  if (name === 'find') {
    for (let i = 0; i < args.length; i++) {
      const t = args[i]!.text;
      if (t === '-exec' || t === '-execdir' || t === '-ok' || t === '-okdir') {
        let j = i + 1;
        while (j < args.length && args[j]!.text !== ';' && args[j]!.text !== '+') j++;
        const inner = args.slice(i + 1, j).map((w) => (w.text === '{}' ? { text: '{}', dynamic: true } : w));
        checkWords(inner, cmd, state, ctx, depth);
        i = j;
      } else if (t === '-delete' || t === '-fprint' || t === '-fprintf' || t === '-fls') {
        for (const a of args) if (!a.text.startsWith('-') && a.text.includes('/')) checkWrite(a, state, ctx);
      }
    }
    return;
  }
  if (name === 'cd' || name === 'pushd' || name === 'chdir') {
    const targets = args.filter((a) => !/^-[LPe@]+$/.test(a.text));
    const target = targets[0];
    if (!target)
      refuse(
        'outside-worktree',
        `gt guard: '${name}' without a directory leaves your worktree (${ctx.worktree}).`,
      );
    state.cwd = checkDir(target.text, state, ctx, 'outside-worktree', target.dynamic);
    return;
  }
  if (name === 'popd') {
    state.cwd = undefined;
    return;
  }
  if (name === 'eval') {
    if (args.some((a) => a.dynamic))
      refuse('dynamic', 'gt guard cannot check eval of computed text; write the command out.');
    checkShell(args.map((a) => a.text).join(' '), state, ctx, depth + 1);
    return;
  }
  if (SHELLS.has(name)) {
    checkShellInvocation(name, args, cmd, state, ctx, depth);
    return;
  }
  if (INTERPRETERS.has(name.replace(/[0-9.]+$/, '')) || INTERPRETERS.has(name)) {
    checkInterpreter(name, args);
    return;
  }
  if (name === 'git' || name.startsWith('git-')) {
    const gitArgs = name === 'git' ? args : [{ text: name.slice(4), dynamic: false }, ...args];
    checkGit(gitArgs, state, ctx, depth);
    return;
  }
  if (name === 'gt' || name === 'bd') return; // our own commands enforce their own rules
  if (name === 'cp' || name === 'install' || name === 'rsync' || name === 'scp') {
    // Sources are only read; the destination (last operand, or -t DIR) is written.
    const operands = args.filter((a) => !a.text.startsWith('-') || a.dynamic);
    const t = args.findIndex((a) => a.text === '-t' || a.text === '--target-directory');
    const dest = t !== -1 ? args[t + 1] : operands[operands.length - 1];
    for (const a of operands) if (a !== dest) checkSecret(a, state, ctx);
    if (dest) checkWrite(dest, state, ctx);
    return;
  }
  if (FILE_WRITERS.has(name)) {
    for (const a of args) if (!a.text.startsWith('-') || a.dynamic) checkWrite(a, state, ctx);
    return;
  }
  if (name === 'sed' || name === 'perl') {
    if (args.some((a) => /^-[a-zA-Z]*i/.test(a.text) || a.text.startsWith('--in-place'))) {
      for (const a of args)
        if (!a.text.startsWith('-') && (a.text.includes('/') || a.dynamic)) checkWrite(a, state, ctx);
    }
  }
  if (name === 'dd') {
    for (const a of args)
      if (a.text.startsWith('of=')) checkWrite({ ...a, text: a.text.slice(3) }, state, ctx);
  }
  // Any other command: it may read what it likes in the worktree, but not the town's secrets.
  for (const a of args) if (a.text.includes('/') || a.text.startsWith('~')) checkSecret(a, state, ctx);
}

function checkShellInvocation(
  name: string,
  args: Word[],
  cmd: SimpleCommand,
  state: State,
  ctx: GuardContext,
  depth: number,
): void {
  let i = 0;
  let script: Word | undefined;
  let inline = false;
  for (; i < args.length; i++) {
    const a = args[i]!.text;
    if (a === '--') {
      i++;
      break;
    }
    if (a === '-o' || a === '+o' || a === '-O' || a === '+O' || a === '--rcfile' || a === '--init-file') {
      i++;
      continue;
    }
    if (/^-[a-zA-Z]*c[a-zA-Z]*$/.test(a)) {
      inline = true;
      continue;
    }
    if (a.startsWith('-') || a.startsWith('+')) continue;
    break;
  }
  if (inline) {
    script = args[i];
    if (!script) refuse('unparseable', `gt guard: ${name} -c without a command.`);
    if (script.dynamic)
      refuse('dynamic', `gt guard cannot check ${name} -c with computed text; write the command out.`);
    checkShell(script.text, state, ctx, depth + 1);
    return;
  }
  if (i < args.length) return; // a script file: its content is not visible here (the git hooks still apply)
  // The shell reads its script from standard input.
  const heredoc = cmd.redirects.find((r) => r.op === '<<' || r.op === '<<-');
  const herestring = cmd.redirects.find((r) => r.op === '<<<');
  if (heredoc?.heredoc) {
    checkShell(heredoc.heredoc.body, state, ctx, depth + 1);
    return;
  }
  if (herestring) {
    if (herestring.target.dynamic)
      refuse('dynamic', `gt guard cannot check a computed script piped into ${name}.`);
    checkShell(herestring.target.text, state, ctx, depth + 1);
    return;
  }
  if (cmd.pipedInput || cmd.redirects.some((r) => r.op === '<')) {
    refuse('unparseable', `gt guard cannot check commands piped into ${name}; run them directly.`);
  }
}

const RISKY_GIT_IN_CODE =
  /\bgit\b[\s\S]*\b(push|update-ref|symbolic-ref|send-pack|receive-pack|hooksPath|--no-verify|filter-branch)\b/i;

function checkInterpreter(name: string, args: Word[]): void {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!.text;
    if (
      a === '-c' ||
      a === '-e' ||
      a === '-E' ||
      a === '--eval' ||
      a === '-p' ||
      a === '--print' ||
      a === '-r'
    ) {
      const code = args[i + 1];
      if (code && RISKY_GIT_IN_CODE.test(code.text)) {
        refuse(
          'inline-git',
          `gt guard: run git commands directly, not from inline ${name} code, so they can be checked.`,
        );
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Paths

function expandHome(text: string, ctx: GuardContext): string | undefined {
  if (text === '~' || text.startsWith('~/')) return ctx.home ? ctx.home + text.slice(1) : undefined;
  if (text.startsWith('~')) return undefined; // ~user
  return text;
}

function resolvePath(word: Word, state: State, ctx: GuardContext): string | undefined {
  if (word.dynamic) return undefined;
  const expanded = expandHome(word.text, ctx);
  if (expanded === undefined) return undefined;
  let abs: string;
  if (isAbsolute(expanded)) abs = posix.normalize(expanded);
  else if (state.cwd === undefined) return undefined;
  else abs = posix.resolve(state.cwd, expanded);
  return ctx.realpath ? ctx.realpath(abs) : abs;
}

function inside(path: string, dir: string): boolean {
  const d = dir.endsWith('/') ? dir.slice(0, -1) : dir;
  return path === d || path.startsWith(`${d}/`);
}

function inWorktreeGitDir(path: string, ctx: GuardContext): boolean {
  return inside(path, posix.join(ctx.worktree, '.git'));
}

/** The target of a write: inside the worktree (not its .git), or a scratch dir outside the town. */
function checkWrite(word: Word, state: State, ctx: GuardContext): void {
  if (/^\/dev\/(null|stdout|stderr|tty|fd\/\d+)$/.test(word.text)) return;
  const abs = resolvePath(word, state, ctx);
  if (abs === undefined) {
    refuse(
      'dynamic',
      `gt guard cannot check where '${word.text}' points; write the path out (inside ${ctx.worktree}).`,
    );
  }
  if (inside(abs, ctx.worktree)) {
    if (inWorktreeGitDir(abs, ctx)) {
      refuse(
        'git-dir',
        `gt guard: ${abs} is git's own data (hooks, config, refs); agents change it only through git commands.`,
      );
    }
    const rel = abs.slice(ctx.worktree.length + 1);
    if (GUARD_CONFIG_FILES.includes(rel)) {
      refuse('agent-config', `gt guard: ${rel} holds the agent's hooks (this guard) and is managed by gt.`);
    }
    return;
  }
  if (ctx.town && inside(abs, ctx.town)) {
    refuse(
      'outside-worktree',
      `gt guard: ${abs} is outside your worktree (${ctx.worktree}); agents write only in their own worktree.`,
    );
  }
  if (ctx.scratchDirs.some((d) => inside(abs, d))) return;
  refuse(
    'outside-worktree',
    `gt guard: ${abs} is outside your worktree (${ctx.worktree}); agents write only in their own worktree.`,
  );
}

/** A path that must not be read: the town's state dir (credential, ledger) and the bare repos' internals. */
function checkSecret(word: Word, state: State, ctx: GuardContext): void {
  if (SECRET_WORD.test(word.text))
    refuse('secret', "gt guard: the Refinery's credential and the town's state are off limits to agents.");
  if (!ctx.town) return;
  const abs = resolvePath(word, state, ctx);
  if (abs === undefined) return;
  if (inside(abs, posix.join(ctx.town, '.gt'))) {
    refuse('secret', "gt guard: the town's state directory (.gt) is off limits to agents.");
  }
  if (/\/rigs\/[^/]+\/repo\.git(\/|$)/.test(abs.slice(ctx.town.length)) && !inside(abs, ctx.worktree)) {
    refuse('outside-worktree', "gt guard: the rig's bare repository is reached only through git push/fetch.");
  }
}

/** A directory to run in (cd, git -C): must be inside the worktree. Returns the absolute path. */
function checkDir(text: string, state: State, ctx: GuardContext, rule: string, dynamic = false): string {
  if (text === '-') refuse(rule, 'gt guard: cd - cannot be checked; cd to a path inside your worktree.');
  const abs = resolvePath({ text, dynamic }, state, ctx);
  if (abs === undefined) {
    refuse(
      'dynamic',
      `gt guard cannot check where '${text}' points; use a literal path inside ${ctx.worktree}.`,
    );
  }
  if (!inside(abs, ctx.worktree)) {
    refuse(
      rule,
      `gt guard: ${abs} is outside your worktree (${ctx.worktree}); work only in your own worktree.`,
    );
  }
  if (inWorktreeGitDir(abs, ctx)) refuse('git-dir', `gt guard: do not work inside ${abs}; use git commands.`);
  return abs;
}

// ---------------------------------------------------------------------------------------------------
// Git

function isProtected(name: string, ctx: GuardContext): boolean {
  let n = name.trim().replace(/\/{2,}/g, '/');
  if (n.startsWith('refs/heads/')) n = n.slice('refs/heads/'.length);
  else if (n.startsWith('heads/')) n = n.slice('heads/'.length);
  else if (n.startsWith('refs/')) return false;
  const lower = n.toLowerCase();
  return ctx.protectedBranches.some((b) => b.toLowerCase() === lower);
}

function mainList(ctx: GuardContext): string {
  return ctx.protectedBranches.join(', ');
}

// Config keys an agent must not set (lower case; '*' = one or more name parts).
const DENIED_CONFIG = [
  /^core\.hookspath$/,
  /^core\.worktree$/,
  /^core\.bare$/,
  /^alias\./,
  /^include\./,
  /^includeif\./,
  /^push\./,
  /^remote\..+\.(push|mirror|pushurl|receivepack)$/,
  /^receive\./,
  /^gt\./,
  /^help\.autocorrect$/,
];
const DENIED_SECTIONS = /^(core|alias|include|includeif(\..*)?|push|remote(\..*)?|receive|gt)$/i;

function deniedConfigKey(key: string): boolean {
  const k = key.toLowerCase();
  return DENIED_CONFIG.some((re) => re.test(k));
}

// Git's builtin commands (aliases cannot shadow these).
const GIT_BUILTINS = new Set(
  (
    'add am annotate apply archive bisect blame branch bugreport bundle cat-file check-attr check-ignore check-mailmap ' +
    'check-ref-format checkout checkout-index cherry cherry-pick citool clean clone column commit commit-graph commit-tree ' +
    'config count-objects credential describe diagnose diff diff-files diff-index diff-tree difftool fast-export fast-import ' +
    'fetch fetch-pack filter-branch fmt-merge-msg for-each-ref for-each-repo format-patch fsck gc get-tar-commit-id grep ' +
    'gui hash-object help hook http-push index-pack init instaweb interpret-trailers log ls-files ls-remote ls-tree mailinfo ' +
    'mailsplit maintenance merge merge-base merge-file merge-index merge-tree mktag mktree multi-pack-index mv name-rev notes ' +
    'pack-objects pack-redundant pack-refs patch-id prune prune-packed pull push range-diff read-tree rebase receive-pack ' +
    'reflog remote repack replace request-pull rerere reset restore rev-list rev-parse revert rm send-email send-pack ' +
    'shortlog show show-branch show-index show-ref sparse-checkout stage stash status stripspace submodule switch ' +
    'symbolic-ref tag unpack-file unpack-objects update-index update-ref update-server-info upload-archive upload-pack ' +
    'var verify-commit verify-pack verify-tag version whatchanged worktree write-tree replay'
  ).split(' '),
);

const DANGEROUS_SUBCOMMANDS = [
  'push',
  'commit',
  'update-ref',
  'symbolic-ref',
  'branch',
  'checkout',
  'switch',
  'reset',
  'config',
  'fetch',
  'rebase',
  'merge',
  'send-pack',
  'tag',
  'pull',
];

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

const MOVES_CURRENT_BRANCH = new Set([
  'commit',
  'merge',
  'rebase',
  'cherry-pick',
  'revert',
  'am',
  'pull',
  'reset',
  'stash',
]);

function checkGit(args: Word[], state: State, ctx: GuardContext, depth: number): void {
  let dir = state.cwd;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    const t = a.text;
    if (!t.startsWith('-')) break;
    if (a.dynamic) refuse('dynamic', `gt guard cannot check git option ${t}; write it out.`);
    if (t === '-C') {
      const d = args[++i];
      if (!d) refuse('unparseable', 'gt guard: git -C without a directory.');
      dir = checkDir(d.text, { cwd: dir }, ctx, 'outside-worktree', d.dynamic);
      continue;
    }
    if (t === '-c') {
      const kv = args[++i];
      if (!kv) refuse('unparseable', 'gt guard: git -c without key=value.');
      checkGitConfigOverride(kv, { cwd: dir }, ctx, depth);
      continue;
    }
    if (t.startsWith('-c') && t.length > 2) {
      checkGitConfigOverride({ ...a, text: t.slice(2) }, { cwd: dir }, ctx, depth);
      continue;
    }
    if (/^--(git-dir|work-tree|namespace|exec-path|super-prefix|config-env|bare)(=|$)/.test(t)) {
      refuse(
        'git-redirect',
        `gt guard: git ${t.split('=')[0]} is not allowed: it points git at another repository or program.`,
      );
    }
    if (
      /^(-p|-P|--paginate|--no-pager|--no-replace-objects|--literal-pathspecs|--glob-pathspecs|--noglob-pathspecs|--icase-pathspecs|--no-optional-locks|--no-lazy-fetch|--no-advice|--html-path|--man-path|--info-path|--version|--help|-h|-v)$/.test(
        t,
      )
    ) {
      continue;
    }
    refuse('unparseable', `gt guard does not know the git option ${t}; refused to be safe.`);
  }
  const subWord = args[i];
  if (!subWord) return;
  if (subWord.dynamic) refuse('dynamic', `gt guard cannot check a computed git command (${subWord.text}).`);
  let sub = subWord.text;
  const rest = args.slice(i + 1);

  if (!GIT_BUILTINS.has(sub) && ctx.aliasOf && dir !== undefined) {
    const alias = ctx.aliasOf(dir, sub);
    if (alias !== undefined) {
      if (alias.trimStart().startsWith('!')) {
        refuse(
          'alias',
          `gt guard: git ${sub} is a shell alias, which cannot be checked; run its commands directly.`,
        );
      }
      if (depth > MAX_RECURSION) refuse('alias', 'gt guard: git aliases nested too deeply.');
      const expanded = parseShell(alias)[0]?.words ?? [];
      checkGit([...expanded, ...rest], { cwd: dir }, ctx, depth + 1);
      return;
    }
  }
  if (!GIT_BUILTINS.has(sub)) {
    // With help.autocorrect set (even globally) git runs the nearest builtin for a typo: `git psuh`.
    const near = DANGEROUS_SUBCOMMANDS.find((d) => editDistance(sub.toLowerCase(), d) <= 2);
    if (near) {
      refuse(
        'unparseable',
        `gt guard: 'git ${sub}' is not a git command but git may autocorrect it to '${near}'; spell it out.`,
      );
    }
  }
  if (sub === 'submodule' && rest.some((w) => w.text === 'foreach')) {
    const cmdWords = rest
      .slice(rest.findIndex((w) => w.text === 'foreach') + 1)
      .filter((w) => !/^--?(recursive|quiet|q)$/.test(w.text));
    if (cmdWords.some((w) => w.dynamic))
      refuse('dynamic', 'gt guard cannot check a computed submodule foreach command.');
    checkShell(cmdWords.map((w) => w.text).join(' '), { cwd: dir }, ctx, depth + 1);
    return;
  }
  if (sub === 'bisect' && rest[0]?.text === 'run') {
    checkWords(
      rest.slice(1),
      { assigns: [], words: rest.slice(1), redirects: [], pipedInput: false },
      { cwd: dir },
      ctx,
      depth + 1,
    );
    return;
  }

  // --no-verify (and git's accepted abbreviations of it) skips the hooks of commit, merge, push, am, rebase.
  for (const w of rest) {
    const t = w.text.split('=')[0]!;
    if (t.length >= 6 && t.startsWith('--') && 'no-verify'.startsWith(t.slice(2))) {
      refuse('no-verify', 'gt guard: --no-verify is not allowed: the hooks are how main stays protected.');
    }
  }
  if (sub === 'stage') sub = 'add';

  const head = () => {
    if (dir === undefined) {
      refuse(
        'unknown-dir',
        'gt guard cannot tell which directory this git command runs in; cd to your worktree first.',
      );
    }
    return ctx.headOf(dir);
  };
  const onProtected = (what: string) => {
    const h = head();
    if (!h.known)
      refuse('unknown-branch', `gt guard cannot read the current branch, so '${what}' is refused.`);
    if (h.branch && isProtected(h.branch, ctx)) {
      refuse(
        'on-main',
        `gt guard: you are on ${h.branch}, the protected default branch. Work on your polecat branch; only the Refinery moves ${h.branch}.`,
      );
    }
    return h;
  };

  switch (sub) {
    case 'push':
      checkPush(rest, head, ctx);
      return;
    case 'commit':
      checkCommitFlags(rest);
      onProtected('git commit');
      return;
    case 'reset':
      if (rest.some((w) => w.text === '--hard')) {
        refuse(
          'reset-hard',
          'gt guard: git reset --hard discards work; use git stash or git restore for specific files.',
        );
      }
      onProtected('git reset');
      return;
    case 'checkout':
    case 'switch':
      checkCheckout(sub, rest, ctx);
      return;
    case 'branch':
      checkBranch(rest, ctx);
      return;
    case 'tag':
      if (rest.some((w) => w.text === '-d' || w.text === '--delete' || /^-[a-zA-Z]*d/.test(w.text))) {
        refuse('ref-delete', 'gt guard: deleting refs is not allowed for agents.');
      }
      return;
    case 'update-ref':
    case 'replace':
    case 'filter-branch':
    case 'send-pack':
    case 'http-push':
    case 'receive-pack':
    case 'fast-import':
      refuse('ref-plumbing', `gt guard: git ${sub} writes refs directly and is not allowed for agents.`);
      break;
    case 'symbolic-ref': {
      const pos = rest.filter((w) => !w.text.startsWith('-'));
      if (pos.length >= 2 || rest.some((w) => w.text === '-d' || w.text === '--delete')) {
        refuse('ref-plumbing', 'gt guard: git symbolic-ref may only read refs.');
      }
      return;
    }
    case 'reflog':
      if (rest[0] && (rest[0].text === 'delete' || rest[0].text === 'expire')) {
        refuse('ref-delete', 'gt guard: deleting reflog entries is not allowed for agents.');
      }
      return;
    case 'config':
      checkConfig(rest, { cwd: dir }, ctx, depth);
      return;
    case 'fetch':
      checkFetch(rest, ctx);
      return;
    case 'worktree':
      if (rest[0] && ['add', 'move', 'remove', 'prune', 'repair'].includes(rest[0].text)) {
        refuse(
          'worktree',
          'gt guard: agents work in the checkout gt made for them; git worktree changes are not allowed.',
        );
      }
      return;
    case 'remote':
      if (rest.some((w) => w.text.startsWith('--mirror'))) {
        refuse('mirror', 'gt guard: mirror remotes push every ref, including the default branch.');
      }
      return;
    case 'rebase': {
      onProtected('git rebase');
      const pos = positionals(
        rest,
        new Set(['--onto', '-s', '--strategy', '-X', '--strategy-option', '-x', '--exec']),
      );
      if (pos[1] && isProtected(pos[1].text, ctx)) {
        refuse('on-main', `gt guard: git rebase would rewrite ${pos[1].text}, the protected default branch.`);
      }
      if (rest.some((w) => w.text === '-x' || w.text.startsWith('--exec'))) {
        refuse('unparseable', 'gt guard cannot check commands run by git rebase --exec.');
      }
      return;
    }
    default:
      if (MOVES_CURRENT_BRANCH.has(sub) && sub !== 'stash') onProtected(`git ${sub}`);
      return;
  }
}

function checkGitConfigOverride(kv: Word, state: State, ctx: GuardContext, depth: number): void {
  if (kv.dynamic) refuse('dynamic', 'gt guard cannot check a computed git -c setting.');
  const eq = kv.text.indexOf('=');
  const key = eq === -1 ? kv.text : kv.text.slice(0, eq);
  if (deniedConfigKey(key)) {
    refuse(
      'config',
      `gt guard: git -c ${key} is not allowed: it changes hooks, aliases or what a push sends.`,
    );
  }
  if (EXEC_CONFIG.test(key.toLowerCase()) && eq !== -1) {
    checkProgramValue(`git -c ${key}`, kv.text.slice(eq + 1), false, state, ctx, depth);
  }
}

/** Positional arguments, skipping options (and the values of options listed in `withValue`). */
function positionals(args: Word[], withValue: Set<string>): Word[] {
  const out: Word[] = [];
  let afterDashDash = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (afterDashDash) {
      out.push(a);
      continue;
    }
    if (a.text === '--') {
      afterDashDash = true;
      continue;
    }
    if (a.text.startsWith('-') && a.text.length > 1 && !a.dynamic) {
      if (withValue.has(a.text)) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

// git push options: name → { danger?, value: 'required' | 'optional' | 'none' }.
const PUSH_LONG: Record<string, { danger?: string; value?: 'required' | 'optional' }> = {
  all: { danger: 'pushes every branch, including the default branch' },
  branches: { danger: 'pushes every branch, including the default branch' },
  mirror: { danger: 'mirrors every ref, including the default branch' },
  delete: { danger: 'deletes refs' },
  prune: { danger: 'deletes remote branches' },
  force: { danger: 'force-pushes' },
  'force-with-lease': { danger: 'force-pushes', value: 'optional' },
  'force-if-includes': { danger: 'force-pushes' },
  'no-verify': { danger: 'skips the pre-push hook' },
  'receive-pack': { danger: 'runs another program on the remote', value: 'required' },
  exec: { danger: 'runs another program on the remote', value: 'required' },
  tags: {},
  'follow-tags': {},
  'no-follow-tags': {},
  'dry-run': {},
  porcelain: {},
  repo: { value: 'required' },
  'set-upstream': {},
  thin: {},
  'no-thin': {},
  quiet: {},
  verbose: {},
  progress: {},
  'no-progress': {},
  verify: {},
  'recurse-submodules': { value: 'required' },
  'no-recurse-submodules': {},
  signed: { value: 'optional' },
  'no-signed': {},
  atomic: {},
  'no-atomic': {},
  'push-option': { value: 'required' },
  ipv4: {},
  ipv6: {},
  'no-force-if-includes': {},
  'no-force-with-lease': {},
};
const PUSH_SHORT: Record<string, { danger?: string; value?: boolean }> = {
  f: { danger: 'force-pushes' },
  d: { danger: 'deletes refs' },
  u: {},
  q: {},
  v: {},
  n: {}, // --dry-run for push (it cannot change anything)
  '4': {},
  '6': {},
  o: { value: true },
};

function checkPush(args: Word[], head: () => HeadInfo, ctx: GuardContext): void {
  const pos: Word[] = [];
  let afterDashDash = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const t = a.text;
    if (afterDashDash || !t.startsWith('-') || t === '-') {
      pos.push(a);
      continue;
    }
    if (a.dynamic) refuse('dynamic', `gt guard cannot check the push option ${t}; write it out.`);
    if (t === '--') {
      afterDashDash = true;
      continue;
    }
    if (t.startsWith('--')) {
      const [name, value] = [
        t.slice(2).split('=')[0]!,
        t.includes('=') ? t.slice(t.indexOf('=') + 1) : undefined,
      ];
      const exact = PUSH_LONG[name];
      const candidates = exact ? [name] : Object.keys(PUSH_LONG).filter((k) => k.startsWith(name));
      if (candidates.length === 0)
        refuse('unparseable', `gt guard does not know git push ${t}; refused to be safe.`);
      for (const c of candidates) {
        const danger = PUSH_LONG[c]!.danger;
        if (danger)
          refuse(
            pushRule(c),
            `gt guard: git push --${c} ${danger}; agents push only their own branch, without force.`,
          );
      }
      if (candidates.length === 1 && PUSH_LONG[candidates[0]!]!.value === 'required' && value === undefined)
        i++;
      continue;
    }
    // Short options, possibly combined (-uf).
    for (let k = 1; k < t.length; k++) {
      const spec = PUSH_SHORT[t[k]!];
      if (!spec) refuse('unparseable', `gt guard does not know git push -${t[k]}; refused to be safe.`);
      if (spec.danger)
        refuse(
          pushRule(t[k]!),
          `gt guard: git push -${t[k]} ${spec.danger}; agents push only their own branch, without force.`,
        );
      if (spec.value) {
        if (k === t.length - 1) i++;
        break;
      }
    }
  }
  const remote = pos[0];
  if (remote?.dynamic)
    refuse('dynamic', `gt guard cannot check a push to a computed remote (${remote.text}).`);
  const refspecs = pos.slice(1);
  if (refspecs.length === 0) {
    // Plain `git push [remote]`: what it sends depends on the current branch and config.
    const h = head();
    if (!h.known)
      refuse('unknown-branch', 'gt guard cannot read the current branch; push with an explicit refspec.');
    if (!h.branch)
      refuse(
        'detached',
        'gt guard: HEAD is detached; push with an explicit branch (git push origin HEAD:polecat/…).',
      );
    checkPushDestination(h.branch, `git push (current branch ${h.branch})`, ctx);
    if (h.upstream) checkPushDestination(h.upstream, `git push (upstream of ${h.branch})`, ctx);
    if (h.riskyPushConfig && h.riskyPushConfig.length > 0) {
      refuse(
        'push-config',
        `gt guard: this repository's push configuration (${h.riskyPushConfig.join(', ')}) may push other branches; push with an explicit refspec.`,
      );
    }
    return;
  }
  for (let k = 0; k < refspecs.length; k++) {
    const spec = refspecs[k]!;
    if (spec.dynamic)
      refuse(
        'dynamic',
        `gt guard cannot check a computed refspec (${spec.text}); write the branch name out.`,
      );
    const t = spec.text;
    if (t === 'tag') {
      k++; // `tag <name>` pushes refs/tags/<name>
      continue;
    }
    if (t.startsWith('+'))
      refuse(
        'force',
        `gt guard: '${t}' is a force push; agents push only fast-forwards of their own branch.`,
      );
    if (t.startsWith('^')) continue; // a negative refspec only excludes
    if (t.includes('*'))
      refuse('wildcard', `gt guard: wildcard refspec '${t}' could include the default branch.`);
    const colon = t.indexOf(':');
    const src = colon === -1 ? t : t.slice(0, colon);
    let dst = colon === -1 ? '' : t.slice(colon + 1);
    if (src === '') {
      if (dst === '')
        refuse('push-all', "gt guard: ':' pushes every matching branch, including the default branch.");
      refuse('ref-delete', `gt guard: '${t}' deletes ${dst} on the remote; agents never delete refs.`);
    }
    if (dst === 'HEAD' || dst === '@') {
      refuse('push-main', "gt guard: pushing to the remote's HEAD would move its default branch.");
    }
    if (dst === '') {
      if (src === 'HEAD' || src === '@') {
        // `git push origin HEAD` pushes the current branch to the branch of the same name.
        const h = head();
        if (!h.known)
          refuse(
            'unknown-branch',
            'gt guard cannot read the current branch; push with an explicit destination (HEAD:polecat/…).',
          );
        if (!h.branch)
          refuse('detached', 'gt guard: HEAD is detached; push with an explicit destination branch.');
        dst = h.branch;
      } else {
        dst = src;
      }
    }
    checkPushDestination(dst, t, ctx);
  }
}

function checkPushDestination(dst: string, spelled: string, ctx: GuardContext): void {
  if (isProtected(dst, ctx)) {
    refuse(
      'push-main',
      `gt guard: '${spelled}' would push to ${dst}, the protected default branch. Push your polecat branch and run 'gt done'; only the Refinery writes ${mainList(ctx)}.`,
    );
  }
}

function pushRule(option: string): string {
  if (['force', 'force-with-lease', 'force-if-includes', 'f'].includes(option)) return 'force';
  if (['delete', 'prune', 'd'].includes(option)) return 'ref-delete';
  if (option === 'no-verify') return 'no-verify';
  if (['all', 'branches', 'mirror'].includes(option)) return 'push-all';
  return 'push-option';
}

const COMMIT_SHORT_VALUE = new Set(['m', 'F', 'C', 'c', 't', 'S', 'u']);
const COMMIT_LONG_VALUE = new Set([
  'message',
  'file',
  'reuse-message',
  'reedit-message',
  'fixup',
  'squash',
  'author',
  'date',
  'template',
  'trailer',
  'cleanup',
  'pathspec-from-file',
]);

function checkCommitFlags(args: Word[]): void {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const t = a.text;
    if (t === '--') {
      if (args.slice(i + 1).some((w) => w.dynamic))
        refuse('dynamic', 'gt guard cannot check computed paths in git commit.');
      return;
    }
    if (t.startsWith('--')) {
      if (a.dynamic) refuse('dynamic', `gt guard cannot check the commit option ${t}.`);
      const name = t.slice(2).split('=')[0]!;
      if (COMMIT_LONG_VALUE.has(name) && !t.includes('=')) i++;
      continue;
    }
    if (t.startsWith('-') && t.length > 1) {
      if (a.dynamic) refuse('dynamic', `gt guard cannot check the commit option ${t}.`);
      for (let k = 1; k < t.length; k++) {
        const c = t[k]!;
        if (c === 'n')
          refuse(
            'no-verify',
            'gt guard: git commit -n (--no-verify) is not allowed: the hooks are how main stays protected.',
          );
        if (COMMIT_SHORT_VALUE.has(c)) {
          if (k === t.length - 1 && c !== 'S' && c !== 'u') i++;
          break;
        }
      }
      continue;
    }
    if (a.dynamic) refuse('dynamic', `gt guard cannot check a computed argument of git commit (${t}).`);
  }
}

function checkCheckout(sub: string, args: Word[], ctx: GuardContext): void {
  const dd = args.findIndex((w) => w.text === '--');
  const before = dd === -1 ? args : args.slice(0, dd);
  let creating = false;
  const pos: Word[] = [];
  for (let i = 0; i < before.length; i++) {
    const a = before[i]!;
    const t = a.text;
    if (t.startsWith('-') && t !== '-' && !a.dynamic) {
      const newBranchFlag =
        sub === 'checkout'
          ? /^-[bB]$|^--orphan$/.test(t)
          : /^-[cC]$|^--(create|force-create|orphan)$/.test(t);
      const withEq = /^--(orphan|create|force-create)=/.exec(t);
      if (newBranchFlag || withEq) {
        creating = true;
        const name = withEq ? t.slice(t.indexOf('=') + 1) : before[++i]?.text;
        if (name !== undefined && isProtected(name, ctx)) {
          refuse(
            'on-main',
            `gt guard: git ${sub} ${t} ${name} would create or reset the protected default branch.`,
          );
        }
        continue;
      }
      if (/^--(conflict|pathspec-from-file)$/.test(t)) i++;
      continue;
    }
    pos.push(a);
  }
  if (dd !== -1) return; // git checkout <tree-ish> -- <paths>: restores files, moves no branch
  const target = pos[0];
  if (!target) return;
  if (target.text === '-')
    refuse('unknown-branch', `gt guard: git ${sub} - cannot be checked; name the branch.`);
  if (target.dynamic)
    refuse('dynamic', `gt guard cannot check git ${sub} of a computed name (${target.text}).`);
  if (!creating && isProtected(target.text, ctx)) {
    refuse(
      'on-main',
      `gt guard: do not check out ${target.text}, the protected default branch; stay on your polecat branch (use 'git diff ${target.text}...HEAD' or 'git log ${target.text}' to look at it).`,
    );
  }
}

function checkBranch(args: Word[], ctx: GuardContext): void {
  let modifying = false;
  let moving = false;
  const pos: Word[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const t = a.text;
    if (a.dynamic) refuse('dynamic', `gt guard cannot check a computed argument of git branch (${t}).`);
    if (
      t === '-d' ||
      t === '-D' ||
      t.startsWith('--delete') ||
      (/^-[a-zA-Z]*[dD]/.test(t) && !t.startsWith('--'))
    ) {
      refuse(
        'ref-delete',
        'gt guard: deleting branches is not allowed for agents (no work is ever thrown away).',
      );
    }
    if (/^(-[mMcC]|--move|--copy)$/.test(t)) {
      modifying = true;
      moving = true;
      continue;
    }
    if (/^(-f|--force|--track|-t|--no-track|--edit-description|--unset-upstream)$/.test(t)) {
      modifying = true;
      continue;
    }
    if (t === '-u' || t === '--set-upstream-to') {
      modifying = true;
      i++;
      continue;
    }
    if (t.startsWith('--set-upstream-to=')) {
      modifying = true;
      continue;
    }
    if (/^--(contains|no-contains|merged|no-merged|points-at|sort|format|column|abbrev)$/.test(t)) {
      // Listing with a value (the value may be the default branch: that only reads).
      i++;
      return;
    }
    if (/^(-l|--list|-a|--all|-r|--remotes|-v|-vv|--verbose|--show-current)$/.test(t) || t.startsWith('--')) {
      if (!modifying) return;
      continue;
    }
    if (t.startsWith('-')) continue;
    pos.push(a);
  }
  if (pos.length === 0) return;
  const checked = moving ? pos : pos.slice(0, 1);
  for (const p of checked) {
    if (isProtected(p.text, ctx)) {
      refuse(
        'on-main',
        `gt guard: git branch ${args.map((w) => w.text).join(' ')} would write ${p.text}, the protected default branch.`,
      );
    }
  }
}

function checkConfig(args: Word[], state: State, ctx: GuardContext, depth: number): void {
  let read = false;
  const pos: Word[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const t = a.text;
    if (a.dynamic) refuse('dynamic', `gt guard cannot check a computed git config argument (${t}).`);
    if (
      /^(--get|--get-all|--get-regexp|--get-urlmatch|-l|--list|--show-origin|--show-scope|--name-only|--null|-z)$/.test(
        t,
      )
    ) {
      if (/^--get|^-l$|^--list$/.test(t)) read = true;
      continue;
    }
    if (t === '-e' || t === '--edit')
      refuse('config', 'gt guard: git config --edit cannot be checked; set keys one by one.');
    if (t === '--remove-section' || t === '--rename-section') {
      const section = args[i + 1]?.text ?? '';
      if (DENIED_SECTIONS.test(section) || section.toLowerCase().startsWith('remote.')) {
        refuse('config', `gt guard: git config ${t} ${section} is not allowed.`);
      }
      return;
    }
    if (t === '-f' || t === '--file') {
      const f = args[++i];
      if (f) checkWrite(f, state, ctx);
      continue;
    }
    if (t.startsWith('--file=')) {
      checkWrite({ ...a, text: t.slice(7) }, state, ctx);
      continue;
    }
    if (t === '--blob' || t === '--type' || t === '--default' || t === '--comment') {
      i++;
      continue;
    }
    if (t.startsWith('-')) continue;
    pos.push(a);
  }
  let keyIndex = 0;
  const first = pos[0]?.text;
  if (first && ['get', 'list'].includes(first)) return;
  if (first && ['set', 'unset', 'rename-section', 'remove-section', 'edit'].includes(first)) {
    if (first === 'edit')
      refuse('config', 'gt guard: git config edit cannot be checked; set keys one by one.');
    if (first === 'rename-section' || first === 'remove-section') {
      const section = pos[1]?.text ?? '';
      if (DENIED_SECTIONS.test(section) || section.toLowerCase().startsWith('remote.')) {
        refuse('config', `gt guard: git config ${first} ${section} is not allowed.`);
      }
      return;
    }
    keyIndex = 1;
  }
  const key = pos[keyIndex]?.text;
  if (key === undefined) return;
  if (read) return;
  if (deniedConfigKey(key)) {
    refuse(
      'config',
      `gt guard: git config ${key} is managed by gt (hooks, aliases and push settings keep main safe) and cannot be changed by agents.`,
    );
  }
  const value = pos[keyIndex + 1];
  if (value && EXEC_CONFIG.test(key.toLowerCase())) {
    checkProgramValue(`git config ${key}`, value.text, value.dynamic, state, ctx, depth);
  }
}

function checkFetch(args: Word[], ctx: GuardContext): void {
  const pos = positionals(
    args,
    new Set([
      '--depth',
      '--deepen',
      '--shallow-since',
      '--shallow-exclude',
      '-j',
      '--jobs',
      '--refmap',
      '-o',
      '--server-option',
      '--upload-pack',
    ]),
  );
  if (args.some((w) => w.text.startsWith('--upload-pack'))) {
    refuse('push-option', 'gt guard: git fetch --upload-pack runs another program.');
  }
  for (const spec of pos.slice(1)) {
    if (spec.dynamic) refuse('dynamic', `gt guard cannot check a computed refspec (${spec.text}).`);
    const t = spec.text.replace(/^\+/, '');
    const colon = t.indexOf(':');
    if (colon === -1) continue;
    const dst = t.slice(colon + 1);
    if (
      isProtected(dst, ctx) ||
      (dst.includes('*') && (dst.startsWith('refs/heads/') || !dst.startsWith('refs/')))
    ) {
      refuse(
        'on-main',
        `gt guard: git fetch into '${dst}' would write a local branch that only the Refinery moves.`,
      );
    }
  }
}

/** Decides a tool call (the hook's entry point). */
export const decide = decideToolCall;

/** Decides one shell command line (for `gt guard explain` and tests). */
export const decideCommand = decideShell;
