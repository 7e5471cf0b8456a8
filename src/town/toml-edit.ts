import { parse as parseToml, stringify } from 'smol-toml';

/**
 * Sets one value in TOML text while keeping comments and layout: the `key = …` line of the right table
 * is rewritten in place, or a line (or a new table) is appended. Returns undefined when the layout is
 * too unusual for a line edit (dotted keys, inline tables, multi-line values); callers then re-serialise.
 * Pure: no I/O.
 */
export function setTomlValueText(text: string, path: readonly string[], value: unknown): string | undefined {
  if (path.length === 0) return undefined;
  const key = path[path.length - 1] as string;
  const table = path.slice(0, -1);
  const rendered = renderValue(value);
  if (
    rendered === undefined ||
    !/^[A-Za-z0-9_-]+$/.test(key) ||
    table.some((t) => !/^[A-Za-z0-9_-]+$/.test(t))
  ) {
    return undefined;
  }
  const lines = text.split('\n');
  const header = table.join('.');
  // Find the table's line range: [start, end) where start is after its header (or 0 for the root).
  let start = 0;
  let end = lines.length;
  if (header) {
    const at = lines.findIndex((line) => line.trim().replace(/\s*#.*$/, '') === `[${header}]`);
    if (at === -1) {
      const trimmed = text.replace(/\n*$/, '');
      return `${trimmed}\n\n[${header}]\n${key} = ${rendered}\n`;
    }
    start = at + 1;
  }
  for (let i = start; i < lines.length; i++) {
    if (/^\s*\[/.test(lines[i] as string)) {
      end = i;
      break;
    }
  }
  const keyLine = new RegExp(`^(\\s*)${escapeRegex(key)}\\s*=\\s*(.*)$`);
  for (let i = start; i < end; i++) {
    const match = keyLine.exec(lines[i] as string);
    if (!match) continue;
    const rest = match[2] as string;
    // Multi-line arrays and strings cannot be replaced line-wise.
    if (/^\[[^\]]*$/.test(rest) || /^("""|''')/.test(rest)) return undefined;
    const comment = /\s+#[^"']*$/.exec(rest)?.[0] ?? '';
    lines[i] = `${match[1]}${key} = ${rendered}${comment}`;
    return lines.join('\n');
  }
  // Not present: insert after the last non-blank line of the table.
  let insertAt = end;
  while (insertAt > start && (lines[insertAt - 1] as string).trim() === '') insertAt--;
  if (!header) {
    // Root keys must come before the first table.
    insertAt = Math.min(insertAt, firstTableLine(lines));
    while (insertAt > 0 && (lines[insertAt - 1] as string).trim() === '') insertAt--;
  }
  lines.splice(insertAt, 0, `${key} = ${rendered}`);
  return lines.join('\n');
}

function firstTableLine(lines: readonly string[]): number {
  const index = lines.findIndex((line) => /^\s*\[/.test(line));
  return index === -1 ? lines.length : index;
}

function renderValue(value: unknown): string | undefined {
  try {
    const line = stringify({ v: value }).trim();
    return line.startsWith('v = ') && !line.includes('\n') ? line.slice(4) : undefined;
  } catch {
    return undefined;
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Reads a dotted key from a parsed document. */
export function getPath(doc: unknown, path: readonly string[]): unknown {
  let node = doc;
  for (const part of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Returns a copy of `doc` with `path` set to `value`, creating tables as needed. */
export function setPath(
  doc: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): Record<string, unknown> {
  const copy = structuredClone(doc);
  let node: Record<string, unknown> = copy;
  for (const part of path.slice(0, -1)) {
    const next = node[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
  return copy;
}

/**
 * Interprets a command-line value: TOML literals (numbers, booleans, arrays, quoted strings) are taken as
 * such, anything else is a plain string.
 */
export function parseCliValue(text: string): unknown {
  try {
    const parsed = parseToml(`v = ${text}`) as { v: unknown };
    return parsed.v;
  } catch {
    return text;
  }
}
