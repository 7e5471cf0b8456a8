import { closeSync, openSync, readSync, statSync } from 'node:fs';

/** Renders the daemon's pino JSON lines for people, and follows the file across rotations. */
const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'controller']);

export function formatLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof entry.time === 'string' ? entry.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '';
  const level = LEVELS[Number(entry.level)] ?? String(entry.level ?? '');
  const who = typeof entry.controller === 'string' ? ` [${entry.controller}]` : '';
  const extra = Object.entries(entry)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => {
      if (k === 'err' && v && typeof v === 'object')
        return `err=${JSON.stringify((v as { message?: string }).message ?? v)}`;
      return `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
    })
    .join(' ');
  return `${time} ${level.padEnd(5)}${who} ${String(entry.msg ?? '')}${extra ? `  ${extra}` : ''}`;
}

/** Calls onLine for every line appended to file, until the process is interrupted. Survives rotation. */
export async function followLog(file: string, onLine: (line: string) => void, pollMs = 250): Promise<never> {
  let position = 0;
  let inode = -1;
  try {
    const st = statSync(file);
    position = st.size;
    inode = st.ino;
  } catch {}
  let partial = '';
  for (;;) {
    await new Promise((r) => setTimeout(r, pollMs));
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(file);
    } catch {
      continue;
    }
    if (st.ino !== inode || st.size < position) {
      inode = st.ino;
      position = 0;
      partial = '';
    }
    if (st.size === position) continue;
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(Number(st.size) - position);
      readSync(fd, buffer, 0, buffer.length, position);
      position = Number(st.size);
      const text = partial + buffer.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onLine(line);
    } finally {
      closeSync(fd);
    }
  }
}
