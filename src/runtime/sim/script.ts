/**
 * The sim agent's script language (reference: docs/sim-agent.md). Pure: text in, typed steps out.
 *
 * The script is untrusted bead text. Parsing never executes anything, and the steps it produces are
 * executed without a shell: a `run` step's words become an argv for execFile (no globbing, no variables,
 * no `;`/`&&`/`$(…)` — those are just characters in an argument). The only step that uses a shell is the
 * explicit `sh "<command>"`. File paths must be relative, stay inside the worktree, and never touch `.git`.
 */
import { oneLine } from '../../core/text';

/**
 * A step may carry a condition (`first <step>`, `rework <step>`): which attempt at the hooked bead it runs
 * in. Without one it runs every time.
 */
export type SimStep = SimStepBody & { when?: StepCondition };

export type StepCondition = 'first' | 'rework';

/** From `gt hook --json` (`attempt`): recovery restarts on this hook, and the bead's rejected MRs. */
export interface AttemptInfo {
  restarts: number;
  rework: number;
}

type SimStepBody =
  | { kind: 'write'; line: number; path: string; content: string }
  | { kind: 'append'; line: number; path: string; content: string }
  | { kind: 'edit'; line: number; path: string; lineNo: number; content: string }
  | { kind: 'delete'; line: number; path: string }
  | { kind: 'conflict'; line: number; path: string; lineNo: number }
  | { kind: 'break-tests'; line: number; path: string }
  | { kind: 'run'; line: number; argv: string[] }
  | { kind: 'sh'; line: number; command: string }
  | { kind: 'commit'; line: number; message: string }
  | { kind: 'sleep'; line: number; ms: number }
  | { kind: 'usage'; line: number; usage: UsageSpec }
  | { kind: 'say'; line: number; text: string }
  | { kind: 'prime'; line: number }
  | { kind: 'push-main'; line: number }
  | { kind: 'done'; line: number; args: string[] }
  | { kind: 'hang'; line: number }
  | { kind: 'crash'; line: number; code: number }
  | { kind: 'exit'; line: number; code: number };

export type SimStepKind = SimStep['kind'];

export const STEP_CONDITIONS: readonly StepCondition[] = ['first', 'rework'];

/**
 * Does a step run in this attempt? `first`: only in the first session on the hook (no recovery restart
 * yet and no rejected merge request); `rework`: only once the bead has a rejected merge request. Without
 * attempt information (no gt, an older gt) it is the first attempt.
 */
export function stepApplies(step: Pick<SimStep, 'when'>, attempt: AttemptInfo | undefined): boolean {
  const a = attempt ?? { restarts: 0, rework: 0 };
  if (step.when === 'first') return a.restarts === 0 && a.rework === 0;
  if (step.when === 'rework') return a.rework > 0;
  return true;
}

export interface UsageSpec {
  /** Absent: the session's model (GT_MODEL) or "sim". */
  model?: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export interface ScriptError {
  line: number;
  message: string;
}

export type ParseResult = { ok: true; steps: SimStep[] } | { ok: false; errors: ScriptError[] };

export const SCRIPT_LIMITS = {
  /** Bytes of script text accepted. */
  maxBytes: 64 * 1024,
  maxSteps: 500,
  /** Longest sleep: one day (use `hang` for forever). */
  maxSleepMs: 24 * 60 * 60 * 1000,
  maxTokens: 1_000_000_000,
};

export const DEFAULT_BREAK_TESTS_PATH = 'test/sim-broken.test.mjs';

/**
 * The body of the first fenced code block whose info string is `sim` (``` or ~~~ fences, up to three
 * spaces of indent, as in CommonMark). Undefined when there is none. An unclosed fence runs to the end.
 */
export function extractSimBlock(text: string): string | undefined {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*sim\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const fence = open[1] ?? '```';
    const body: string[] = [];
    for (let j = i + 1; j < lines.length; j++) {
      const line = lines[j] ?? '';
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
      if (close && close[1]?.[0] === fence[0] && (close[1]?.length ?? 0) >= fence.length) {
        return body.join('\n');
      }
      body.push(line);
    }
    return body.join('\n');
  }
  return undefined;
}

/**
 * Splits one script line into words. Bare words end at whitespace; "double quotes" allow the escapes
 * \" \\ \n \t \r; 'single quotes' are literal. `#` at the start of a word begins a comment. Nothing is
 * expanded: `$`, `*`, `;`, backticks are ordinary characters.
 */
export function tokenize(line: string): { ok: true; words: string[] } | { ok: false; message: string } {
  const words: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    const ch = line[i] as string;
    if (ch === ' ' || ch === '\t') {
      i++;
      continue;
    }
    if (ch === '#') break;
    let word = '';
    let quoted = false;
    while (i < n) {
      const c = line[i] as string;
      if (c === ' ' || c === '\t') break;
      if (c === '"') {
        quoted = true;
        i++;
        let closed = false;
        while (i < n) {
          const d = line[i] as string;
          if (d === '"') {
            closed = true;
            i++;
            break;
          }
          if (d === '\\') {
            const e = line[i + 1];
            if (e === undefined) return { ok: false, message: 'dangling backslash in a quoted string' };
            const map: Record<string, string> = { '"': '"', '\\': '\\', n: '\n', t: '\t', r: '\r' };
            const mapped = map[e];
            if (mapped === undefined)
              return { ok: false, message: `unknown escape \\${e} (use \\\\ for a backslash)` };
            word += mapped;
            i += 2;
            continue;
          }
          word += d;
          i++;
        }
        if (!closed) return { ok: false, message: 'unterminated "double-quoted" string' };
        continue;
      }
      if (c === "'") {
        quoted = true;
        const end = line.indexOf("'", i + 1);
        if (end === -1) return { ok: false, message: "unterminated 'single-quoted' string" };
        word += line.slice(i + 1, end);
        i = end + 1;
        continue;
      }
      word += c;
      i++;
    }
    if (word.length > 0 || quoted) words.push(word);
  }
  return { ok: true, words };
}

/** Parses "500ms", "2s", "1.5m", "1h" or a bare number of seconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m) return undefined;
  const value = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  const ms = Math.round(value * factor);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * A worktree-relative path that cannot escape the worktree (lexically) or touch git's metadata.
 * Returns an error message, or undefined when the path is acceptable.
 */
export function checkRelativePath(path: string): string | undefined {
  if (path.length === 0) return 'empty path';
  if (path.length > 1024) return 'path longer than 1024 characters';
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'path contains control characters';
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)) {
    return `absolute path "${path}" (paths are relative to the worktree)`;
  }
  const parts = path.split(/[\\/]+/).filter((p) => p.length > 0 && p !== '.');
  if (parts.length === 0) return `"${path}" is not a file path`;
  let depth = 0;
  for (const part of parts) {
    if (part === '..') {
      depth--;
      if (depth < 0) return `path "${path}" leaves the worktree`;
    } else depth++;
  }
  if (parts.some((p) => p.toLowerCase() === '.git')) return `path "${path}" touches .git`;
  return undefined;
}

function exitCode(word: string | undefined, fallback: number): number | undefined {
  if (word === undefined) return fallback;
  if (!/^\d{1,3}$/.test(word)) return undefined;
  const code = Number(word);
  return code <= 255 ? code : undefined;
}

function lineNumber(word: string | undefined): number | undefined {
  if (word === undefined || !/^\d{1,7}$/.test(word)) return undefined;
  const n = Number(word);
  return n >= 1 ? n : undefined;
}

const STEP_HELP: Record<SimStepKind, string> = {
  write: 'write <path> <content>',
  append: 'append <path> <line>',
  edit: 'edit <path> <line-number> <content>',
  delete: 'delete <path>',
  conflict: 'conflict <path> [line-number]',
  'break-tests': 'break-tests [path]',
  run: 'run <command> [args…]',
  sh: 'sh "<shell command>"',
  commit: 'commit "<message>"',
  sleep: 'sleep <duration> (e.g. 500ms, 2s, 1m)',
  usage: 'usage input=<n> output=<n> [model=<name>] [cache_read=<n>] [cache_write=<n>]',
  say: 'say "<text>"',
  prime: 'prime',
  'push-main': 'push-main',
  done: 'done [args for gt done…]',
  hang: 'hang',
  crash: 'crash [exit-code]',
  exit: 'exit [exit-code]',
};

export const STEP_KINDS = Object.keys(STEP_HELP) as SimStepKind[];

function parseLine(words: string[], line: number): SimStep | string {
  const [verb, ...args] = words as [string, ...string[]];
  const usage = STEP_HELP[verb as SimStepKind];
  if (usage === undefined) {
    return `unknown step "${verb.slice(0, 40)}" (steps: ${STEP_KINDS.join(', ')}; prefixes: ${STEP_CONDITIONS.join(', ')})`;
  }
  const want = (ok: boolean): string | undefined => (ok ? undefined : `usage: ${usage}`);
  const pathError = (p: string | undefined): string | undefined =>
    p === undefined ? `usage: ${usage}` : checkRelativePath(p);
  switch (verb as SimStepKind) {
    case 'write':
    case 'append': {
      const bad = want(args.length === 2) ?? pathError(args[0]);
      if (bad) return bad;
      return { kind: verb as 'write' | 'append', line, path: args[0]!, content: args[1]! };
    }
    case 'edit': {
      const bad = want(args.length === 3) ?? pathError(args[0]);
      if (bad) return bad;
      const lineNo = lineNumber(args[1]);
      if (lineNo === undefined) return `edit: "${args[1]}" is not a line number (1 or more)`;
      return { kind: 'edit', line, path: args[0]!, lineNo, content: args[2]! };
    }
    case 'delete': {
      const bad = want(args.length === 1) ?? pathError(args[0]);
      if (bad) return bad;
      return { kind: 'delete', line, path: args[0]! };
    }
    case 'conflict': {
      const bad = want(args.length === 1 || args.length === 2) ?? pathError(args[0]);
      if (bad) return bad;
      const lineNo = args[1] === undefined ? 1 : lineNumber(args[1]);
      if (lineNo === undefined) return `conflict: "${args[1]}" is not a line number (1 or more)`;
      return { kind: 'conflict', line, path: args[0]!, lineNo };
    }
    case 'break-tests': {
      const bad = want(args.length <= 1) ?? (args[0] === undefined ? undefined : pathError(args[0]));
      if (bad) return bad;
      return { kind: 'break-tests', line, path: args[0] ?? DEFAULT_BREAK_TESTS_PATH };
    }
    case 'run': {
      const bad = want(args.length >= 1 && (args[0]?.length ?? 0) > 0);
      if (bad) return bad;
      return { kind: 'run', line, argv: args };
    }
    case 'sh': {
      const bad = want(args.length === 1 && (args[0]?.trim().length ?? 0) > 0);
      if (bad) return bad;
      return { kind: 'sh', line, command: args[0]! };
    }
    case 'commit': {
      const bad = want(args.length === 1 && (args[0]?.trim().length ?? 0) > 0);
      if (bad) return bad;
      return { kind: 'commit', line, message: args[0]! };
    }
    case 'sleep': {
      const bad = want(args.length === 1);
      if (bad) return bad;
      const ms = parseDuration(args[0]!);
      if (ms === undefined) return `sleep: "${args[0]}" is not a duration (e.g. 500ms, 2s, 1m)`;
      if (ms > SCRIPT_LIMITS.maxSleepMs) return 'sleep: longer than 24h (use "hang" to wait forever)';
      return { kind: 'sleep', line, ms };
    }
    case 'usage': {
      const spec: UsageSpec = {
        input_tokens: 0,
        output_tokens: 0,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
      };
      const seen = new Set<string>();
      for (const arg of args) {
        const eq = arg.indexOf('=');
        if (eq <= 0) return `usage: "${arg.slice(0, 40)}" is not key=value`;
        const key = arg.slice(0, eq);
        const value = arg.slice(eq + 1);
        if (seen.has(key)) return `usage: ${key} given twice`;
        seen.add(key);
        if (key === 'model') {
          if (!/^[A-Za-z0-9._:/@[\]-]{1,100}$/.test(value))
            return `usage: model "${value.slice(0, 40)}" is not a model name`;
          spec.model = value;
          continue;
        }
        const field = (
          {
            input: 'input_tokens',
            output: 'output_tokens',
            cache_read: 'cache_read_input_tokens',
            cache_write: 'cache_creation_input_tokens',
          } as const
        )[key as 'input' | 'output' | 'cache_read' | 'cache_write'];
        if (field === undefined)
          return `usage: unknown key "${key.slice(0, 40)}" (input, output, model, cache_read, cache_write)`;
        if (!/^\d{1,10}$/.test(value) || Number(value) > SCRIPT_LIMITS.maxTokens) {
          return `usage: ${key} must be a whole number of tokens, got "${value.slice(0, 40)}"`;
        }
        spec[field] = Number(value);
      }
      if (!seen.has('input') && !seen.has('output')) return `usage: ${usage}`;
      return { kind: 'usage', line, usage: spec };
    }
    case 'say': {
      const bad = want(args.length >= 1);
      if (bad) return bad;
      return { kind: 'say', line, text: args.join(' ') };
    }
    case 'prime':
    case 'push-main':
    case 'hang': {
      const bad = want(args.length === 0);
      if (bad) return bad;
      return { kind: verb as 'prime' | 'push-main' | 'hang', line };
    }
    case 'done':
      return { kind: 'done', line, args };
    case 'crash':
    case 'exit': {
      const bad = want(args.length <= 1);
      if (bad) return bad;
      const code = exitCode(args[0], verb === 'crash' ? 1 : 0);
      if (code === undefined) return `${verb}: "${args[0]}" is not an exit code (0-255)`;
      return { kind: verb as 'crash' | 'exit', line, code };
    }
  }
}

/**
 * Parses script text (a whole bead description with a ```sim block, or bare steps) into typed steps.
 * All errors are reported, each with its line number within the script.
 */
export function parseSimScript(text: string): ParseResult {
  if (Buffer.byteLength(text, 'utf8') > SCRIPT_LIMITS.maxBytes) {
    return {
      ok: false,
      errors: [{ line: 0, message: `script larger than ${SCRIPT_LIMITS.maxBytes} bytes` }],
    };
  }
  const body = extractSimBlock(text) ?? text;
  const steps: SimStep[] = [];
  const errors: ScriptError[] = [];
  const lines = body.replace(/\r\n?/g, '\n').split('\n');
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(raw)) {
      errors.push({ line, message: 'control characters are not allowed (write \\n or \\t inside "quotes")' });
      return;
    }
    const tokens = tokenize(raw);
    if (!tokens.ok) {
      errors.push({ line, message: tokens.message });
      return;
    }
    if (tokens.words.length === 0) return;
    let words = tokens.words;
    let when: StepCondition | undefined;
    if ((STEP_CONDITIONS as readonly string[]).includes(words[0]!)) {
      when = words[0] as StepCondition;
      words = words.slice(1);
      if (words.length === 0) {
        errors.push({ line, message: `usage: ${when} <step> (e.g. ${when} hang)` });
        return;
      }
      if ((STEP_CONDITIONS as readonly string[]).includes(words[0]!)) {
        errors.push({ line, message: `one condition per step ("${when} ${words[0]}" given)` });
        return;
      }
    }
    const step = parseLine(words, line);
    if (typeof step === 'string') errors.push({ line, message: step });
    else steps.push(when ? { ...step, when } : step);
  });
  if (steps.length > SCRIPT_LIMITS.maxSteps) {
    errors.push({ line: 0, message: `more than ${SCRIPT_LIMITS.maxSteps} steps` });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, steps };
}

/** True when the text has a ```sim block. */
export function hasSimBlock(text: string): boolean {
  return extractSimBlock(text) !== undefined;
}

export interface BeadInfo {
  id: string;
  title: string;
  description: string;
  /** Which attempt this is, when gt said (HookInfo.attempt). */
  attempt?: AttemptInfo;
}

/** A bead id safe to use in a file name; anything else becomes "bead". */
export function safeBeadFileName(id: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id) && !id.includes('..') ? id : 'bead';
}

/**
 * What the sim does for a bead without a script: a small real change (its own file, so parallel beads
 * never conflict), a commit, a usage record, and `gt done`.
 */
export function defaultSteps(bead: BeadInfo): SimStep[] {
  const file = `sim/${safeBeadFileName(bead.id)}.md`;
  const title = oneLine(bead.title) || oneLine(bead.id);
  return [
    { kind: 'say', line: 0, text: `working on ${bead.id}` },
    { kind: 'write', line: 0, path: file, content: `# ${title}\n\nDone by the sim agent for ${bead.id}.\n` },
    { kind: 'commit', line: 0, message: `${oneLine(bead.id)}: ${title}` },
    {
      kind: 'usage',
      line: 0,
      usage: {
        input_tokens: 1000,
        output_tokens: 200,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
      },
    },
    { kind: 'done', line: 0, args: [] },
  ];
}

/**
 * The hooked bead from `gt hook --json` output, tolerant of the shapes `{bead: {...}}`, `{hooked: {...}}`,
 * `{hook: {bead: {...}}}` or the bead itself. Undefined when nothing is hooked or the text is not JSON.
 */
export function beadFromHookJson(text: string): BeadInfo | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const obj = (v: unknown): Record<string, unknown> | undefined =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const root = obj(value);
  if (!root) return undefined;
  const hook = obj(root.hook);
  const candidates = [root.bead, root.hooked, hook?.bead, root.hook, root];
  for (const candidate of candidates) {
    const c = obj(candidate);
    if (c && typeof c.id === 'string' && c.id.length > 0) {
      const info: BeadInfo = {
        id: c.id,
        title: typeof c.title === 'string' ? c.title : '',
        description: typeof c.description === 'string' ? c.description : '',
      };
      const attempt = attemptFrom(obj(root.attempt) ?? obj(hook?.attempt));
      if (attempt) info.attempt = attempt;
      return info;
    }
  }
  return undefined;
}

function attemptFrom(value: Record<string, unknown> | undefined): AttemptInfo | undefined {
  if (!value) return undefined;
  const count = (v: unknown): number => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : 0);
  return { restarts: count(value.restarts), rework: count(value.rework) };
}
