/**
 * A conservative parser for the POSIX-sh / bash command lines agents run through their Bash tool. It does
 * not execute or expand anything: it finds every simple command the line would run (including those
 * inside `$( )`, backticks, `( )` subshells, `{ }` groups, `if`/`while`/`for` bodies and unquoted
 * here-documents) and returns their words with quotes removed. A word whose value depends on run-time
 * expansion (`$VAR`, `$(…)`, globs are NOT considered dynamic) is marked `dynamic`, so the policy can
 * refuse what it cannot verify.
 *
 * It throws ShellParseError on anything it does not understand (unterminated quotes, `case`, function
 * definitions, process substitution, …): the guard fails closed.
 *
 * Why not the `shell-quote` package: it does not parse `$( )`, backticks or here-documents (the form
 * Claude Code uses for every commit message), and it silently turns what it does not understand into
 * text, where the guard needs to know that it did not understand.
 */

export class ShellParseError extends Error {
  override name = 'ShellParseError';
}

export interface Word {
  /** The value with quotes removed; expansions are kept as written (e.g. `$HOME/x`). */
  text: string;
  /** True when the value depends on a parameter expansion or command substitution. */
  dynamic: boolean;
}

export interface Redirect {
  op: string;
  target: Word;
  /** For `<<`/`<<-`: the body; for `<<<`: undefined (the target is the text). */
  heredoc?: { body: string; expands: boolean };
}

export interface SimpleCommand {
  /** `NAME=value` words before the command name. */
  assigns: Word[];
  /** The command name and its arguments. */
  words: Word[];
  redirects: Redirect[];
  /** Its standard input comes from the previous command of a pipeline. */
  pipedInput: boolean;
}

const RESERVED_SKIP = new Set([
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'do',
  'done',
  'while',
  'until',
  '{',
  '}',
  '!',
]);
const RESERVED_FAIL = new Set(['case', 'esac', 'function', 'select', 'coproc']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/;

interface PendingHeredoc {
  delimiter: string;
  stripTabs: boolean;
  expands: boolean;
  redirect: Redirect;
}

type Token =
  | {
      kind: 'word';
      word: Word /** unquoted and no escapes: eligible for reserved words/assignments */;
      plain: boolean;
      raw: string;
    }
  | { kind: 'op'; op: string }
  | { kind: 'newline' }
  | { kind: 'end' };

const MAX_DEPTH = 24;
const MAX_COMMANDS = 2000;

class Parser {
  private pos = 0;
  private pending: PendingHeredoc[] = [];
  readonly commands: SimpleCommand[] = [];

  constructor(
    private readonly src: string,
    private readonly depth: number,
  ) {
    if (depth > MAX_DEPTH) throw new ShellParseError('command nesting too deep');
  }

  private peekChar(offset = 0): string {
    return this.src[this.pos + offset] ?? '';
  }

  /** Parses a command list until `terminator` (')' for subshells/`$(`) or the end of input. */
  parseList(terminator: ')' | 'eof'): void {
    let current: SimpleCommand | undefined;
    let expectCommand = true; // at a position where a command name (or reserved word) may start
    let skipUntilSeparator = false; // inside `for NAME in …` word list
    let piped = false;
    const finish = () => {
      if (
        current &&
        (current.words.length > 0 || current.assigns.length > 0 || current.redirects.length > 0)
      ) {
        this.commands.push(current);
        if (this.commands.length > MAX_COMMANDS) throw new ShellParseError('too many commands');
      }
      current = undefined;
      expectCommand = true;
    };
    for (;;) {
      const token = this.next();
      if (token.kind === 'end') {
        if (terminator === ')') throw new ShellParseError('unterminated ( or $(');
        if (this.pending.length > 0) throw new ShellParseError('unterminated here-document');
        finish();
        return;
      }
      if (token.kind === 'newline') {
        this.readHeredocBodies();
        finish();
        skipUntilSeparator = false;
        piped = false;
        continue;
      }
      if (token.kind === 'op') {
        const op = token.op;
        if (op === ')') {
          if (terminator !== ')') throw new ShellParseError('unexpected )');
          if (this.pending.length > 0) throw new ShellParseError('unterminated here-document');
          finish();
          return;
        }
        if (op === '(') {
          if (current && current.words.length > 0) {
            throw new ShellParseError('function definitions are not supported');
          }
          finish();
          const inner = new Parser(this.src, this.depth + 1);
          inner.pos = this.pos;
          inner.pending = this.pending;
          inner.parseList(')');
          this.pos = inner.pos;
          this.commands.push(...inner.commands);
          continue;
        }
        if (op === ';;' || op === ';&' || op === ';;&')
          throw new ShellParseError('case statements are not supported');
        if (op === '|' || op === '|&') {
          finish();
          piped = true;
          skipUntilSeparator = false;
          continue;
        }
        if (op === '&&' || op === '||' || op === ';' || op === '&') {
          finish();
          skipUntilSeparator = false;
          piped = false;
          continue;
        }
        // A redirection operator: the next token is its target.
        const target = this.next();
        if (target.kind !== 'word') throw new ShellParseError(`missing target after ${op}`);
        if (!current) current = { assigns: [], words: [], redirects: [], pipedInput: piped };
        const redirect: Redirect = { op, target: target.word };
        current.redirects.push(redirect);
        if (op === '<<' || op === '<<-') {
          this.pending.push({
            delimiter: target.word.text,
            stripTabs: op === '<<-',
            expands: target.plain,
            redirect,
          });
        }
        continue;
      }
      // A word.
      if (skipUntilSeparator) continue;
      if (expectCommand && token.plain) {
        if (RESERVED_FAIL.has(token.raw)) throw new ShellParseError(`'${token.raw}' is not supported`);
        if (RESERVED_SKIP.has(token.raw)) continue;
        if (token.raw === 'for') {
          skipUntilSeparator = true;
          continue;
        }
        if (token.raw === '[[' || token.raw === '((') {
          // Conditional expressions: their words are not commands; substitutions inside were parsed.
          skipUntilSeparator = true;
          continue;
        }
      }
      if (!current) current = { assigns: [], words: [], redirects: [], pipedInput: piped };
      if (expectCommand && current.words.length === 0 && token.plain && ASSIGNMENT.test(token.raw)) {
        current.assigns.push(token.word);
        continue;
      }
      if (expectCommand && current.words.length === 0 && ASSIGNMENT.test(token.word.text) && !token.plain) {
        // e.g. FOO="a b" git …: the name part is plain, the value quoted.
        const eq = token.raw.indexOf('=');
        if (eq > 0 && ASSIGNMENT.test(token.raw.slice(0, eq + 1))) {
          current.assigns.push(token.word);
          continue;
        }
      }
      current.words.push(token.word);
      expectCommand = false;
    }
  }

  private readHeredocBodies(): void {
    while (this.pending.length > 0) {
      const doc = this.pending.shift()!;
      const lines: string[] = [];
      for (;;) {
        if (this.pos >= this.src.length)
          throw new ShellParseError(`here-document '${doc.delimiter}' is not terminated`);
        const end = this.src.indexOf('\n', this.pos);
        const line = end === -1 ? this.src.slice(this.pos) : this.src.slice(this.pos, end);
        this.pos = end === -1 ? this.src.length : end + 1;
        const compare = doc.stripTabs ? line.replace(/^\t+/, '') : line;
        if (compare === doc.delimiter) break;
        lines.push(doc.stripTabs ? compare : line);
      }
      const body = lines.join('\n');
      doc.redirect.heredoc = { body, expands: doc.expands };
      if (doc.expands) {
        // Command substitutions in an unquoted here-document run: parse them.
        const inner = new Parser(body, this.depth + 1);
        inner.scanDoubleQuotedBody();
        this.commands.push(...inner.commands);
      }
    }
  }

  /** Parses substitutions in text with double-quote rules (used for unquoted here-document bodies). */
  private scanDoubleQuotedBody(): void {
    const word: Word = { text: '', dynamic: false };
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (c === '\\') {
        this.pos += 2;
      } else if (c === '$' || c === '`') {
        this.readDollarOrBacktick(word);
      } else {
        this.pos++;
      }
    }
  }

  private next(): Token {
    // Skip blanks, line continuations and comments.
    for (;;) {
      const c = this.peekChar();
      if (c === ' ' || c === '\t' || c === '\r') {
        this.pos++;
      } else if (c === '\\' && this.peekChar(1) === '\n') {
        this.pos += 2;
      } else if (c === '#') {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
      } else break;
    }
    if (this.pos >= this.src.length) return { kind: 'end' };
    // An fd number written against a redirection (2>&1, 2>/dev/null) belongs to the operator.
    const fd = /^\d+(?=[<>])/.exec(this.src.slice(this.pos, this.pos + 12));
    if (fd) this.pos += fd[0].length;
    const c = this.peekChar();
    if (c === '\n') {
      this.pos++;
      return { kind: 'newline' };
    }
    const three = this.src.slice(this.pos, this.pos + 3);
    const two = this.src.slice(this.pos, this.pos + 2);
    for (const op of ['<<-', '<<<', '&>>', ';;&']) {
      if (three === op) {
        this.pos += 3;
        return { kind: 'op', op };
      }
    }
    if ((c === '<' || c === '>') && this.peekChar(1) === '(') {
      throw new ShellParseError('process substitution is not supported');
    }
    for (const op of ['&&', '||', ';;', ';&', '|&', '<<', '>>', '>&', '<&', '&>', '>|', '<>']) {
      if (two === op) {
        this.pos += 2;
        return { kind: 'op', op };
      }
    }
    if ('|&;()<>'.includes(c)) {
      this.pos++;
      return { kind: 'op', op: c };
    }
    return this.readWord();
  }

  private readWord(): Token {
    const start = this.pos;
    const word: Word = { text: '', dynamic: false };
    let plain = true;
    for (;;) {
      const c = this.peekChar();
      if (c === '' || c === ' ' || c === '\t' || c === '\n' || c === '\r' || '|&;()<>'.includes(c)) break;
      if (c === '\\') {
        plain = false;
        const n = this.peekChar(1);
        if (n === '') throw new ShellParseError('trailing backslash');
        this.pos += 2;
        if (n !== '\n') word.text += n;
        continue;
      }
      if (c === "'") {
        plain = false;
        const end = this.src.indexOf("'", this.pos + 1);
        if (end === -1) throw new ShellParseError('unterminated single quote');
        word.text += this.src.slice(this.pos + 1, end);
        this.pos = end + 1;
        continue;
      }
      if (c === '"') {
        plain = false;
        this.pos++;
        this.readDoubleQuoted(word);
        continue;
      }
      if (c === '$' && this.peekChar(1) === "'") {
        plain = false;
        this.pos += 2;
        word.text += this.readAnsiC();
        continue;
      }
      if (c === '$' && this.peekChar(1) === '"') {
        plain = false;
        this.pos += 2;
        this.readDoubleQuoted(word);
        continue;
      }
      if (c === '$' || c === '`') {
        plain = false;
        this.readDollarOrBacktick(word);
        continue;
      }
      if (
        c === '{' &&
        this.peekChar(1) !== '' &&
        this.pos === start &&
        this.src.slice(this.pos).match(/^\{[^\s}]*,[^\s}]*\}/)
      ) {
        // Brace expansion ({a,b}) makes several words out of one: refuse to guess.
        throw new ShellParseError('brace expansion is not supported');
      }
      word.text += c;
      this.pos++;
    }
    const raw = this.src.slice(start, this.pos);
    if (plain && /\{[^\s}]*,[^\s}]*\}/.test(raw))
      throw new ShellParseError('brace expansion is not supported');
    return { kind: 'word', word, plain, raw };
  }

  private readDoubleQuoted(word: Word): void {
    for (;;) {
      const c = this.peekChar();
      if (c === '') throw new ShellParseError('unterminated double quote');
      if (c === '"') {
        this.pos++;
        return;
      }
      if (c === '\\') {
        const n = this.peekChar(1);
        if (n === '$' || n === '`' || n === '"' || n === '\\') {
          word.text += n;
          this.pos += 2;
        } else if (n === '\n') {
          this.pos += 2;
        } else {
          word.text += c;
          this.pos++;
        }
        continue;
      }
      if (c === '$' || c === '`') {
        this.readDollarOrBacktick(word);
        continue;
      }
      word.text += c;
      this.pos++;
    }
  }

  /** At `$` or a backtick: reads a parameter expansion or command substitution into `word`. */
  private readDollarOrBacktick(word: Word): void {
    const c = this.peekChar();
    if (c === '`') {
      // Backticks: the body ends at the next unescaped backtick; \` \\ \$ are unescaped inside.
      let body = '';
      let i = this.pos + 1;
      for (;;) {
        const ch = this.src[i];
        if (ch === undefined) throw new ShellParseError('unterminated backtick');
        if (ch === '\\' && (this.src[i + 1] === '`' || this.src[i + 1] === '\\' || this.src[i + 1] === '$')) {
          body += this.src[i + 1];
          i += 2;
          continue;
        }
        if (ch === '`') break;
        body += ch;
        i++;
      }
      word.text += this.src.slice(this.pos, i + 1);
      this.pos = i + 1;
      word.dynamic = true;
      const inner = new Parser(body, this.depth + 1);
      inner.parseList('eof');
      this.commands.push(...inner.commands);
      return;
    }
    // c === '$'
    const n = this.peekChar(1);
    if (n === '(' && this.peekChar(2) === '(') {
      // Arithmetic expansion: skip to the matching '))' (nested parentheses counted).
      let depth = 0;
      let i = this.pos + 1;
      for (; i < this.src.length; i++) {
        const ch = this.src[i];
        if (ch === '(') depth++;
        else if (ch === ')') {
          depth--;
          if (depth === 0) break;
        }
      }
      if (depth !== 0) throw new ShellParseError('unterminated $((');
      const body = this.src.slice(this.pos, i + 1);
      if (body.slice(3).includes('$(') || body.includes('`')) {
        throw new ShellParseError('command substitution inside arithmetic is not supported');
      }
      word.text += body;
      this.pos = i + 1;
      word.dynamic = true;
      return;
    }
    if (n === '(') {
      const start = this.pos;
      const inner = new Parser(this.src, this.depth + 1);
      inner.pos = this.pos + 2;
      inner.parseList(')');
      this.pos = inner.pos;
      this.commands.push(...inner.commands);
      word.text += this.src.slice(start, this.pos);
      word.dynamic = true;
      return;
    }
    if (n === '{') {
      let depth = 0;
      let i = this.pos + 1;
      for (; i < this.src.length; i++) {
        const ch = this.src[i];
        if (ch === '{') depth++;
        else if (ch === '}') {
          depth--;
          if (depth === 0) break;
        }
      }
      if (depth !== 0) throw new ShellParseError('unterminated parameter expansion');
      const body = this.src.slice(this.pos, i + 1);
      if (body.includes('$(') || body.includes('`')) {
        throw new ShellParseError('command substitution inside a parameter expansion is not supported');
      }
      word.text += body;
      this.pos = i + 1;
      word.dynamic = true;
      return;
    }
    const m = /^\$([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])/.exec(this.src.slice(this.pos));
    if (m) {
      word.text += m[0];
      this.pos += m[0].length;
      word.dynamic = true;
      return;
    }
    // A lone '$' is literal.
    word.text += '$';
    this.pos++;
  }

  /** Reads the body of $'…' (ANSI-C quoting) and decodes its escapes. */
  private readAnsiC(): string {
    let out = '';
    for (;;) {
      const c = this.peekChar();
      if (c === '') throw new ShellParseError("unterminated $'");
      this.pos++;
      if (c === "'") return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.peekChar();
      this.pos++;
      const simple: Record<string, string> = {
        n: '\n',
        t: '\t',
        r: '\r',
        a: '\u0007',
        b: '\b',
        e: '\u001b',
        E: '\u001b',
        f: '\f',
        v: '\v',
        '\\': '\\',
        "'": "'",
        '"': '"',
        '?': '?',
      };
      if (e in simple) {
        out += simple[e];
      } else if (e === 'x') {
        const m = /^[0-9A-Fa-f]{1,2}/.exec(this.src.slice(this.pos));
        if (!m) throw new ShellParseError("bad \\x escape in $'…'");
        out += String.fromCharCode(Number.parseInt(m[0], 16));
        this.pos += m[0].length;
      } else if (e === 'u' || e === 'U') {
        const m = (e === 'u' ? /^[0-9A-Fa-f]{1,4}/ : /^[0-9A-Fa-f]{1,8}/).exec(this.src.slice(this.pos));
        if (!m) throw new ShellParseError("bad \\u escape in $'…'");
        out += String.fromCodePoint(Number.parseInt(m[0], 16));
        this.pos += m[0].length;
      } else if (/[0-7]/.test(e)) {
        const m = /^[0-7]{0,2}/.exec(this.src.slice(this.pos))!;
        out += String.fromCharCode(Number.parseInt(e + m[0], 8));
        this.pos += m[0].length;
      } else {
        throw new ShellParseError(`unsupported escape \\${e} in $'…'`);
      }
    }
  }
}

/** Every simple command `line` would run, in source order (substitutions before their command). */
export function parseShell(line: string): SimpleCommand[] {
  if (line.includes('\u0000')) throw new ShellParseError('NUL byte in command');
  const parser = new Parser(line, 0);
  parser.parseList('eof');
  return parser.commands;
}
