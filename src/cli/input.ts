import { readFileSync } from 'node:fs';
import { GtError } from '../core/errors';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes bytes as UTF-8, refusing invalid sequences instead of silently replacing them. */
export function decodeUtf8(bytes: Uint8Array, where: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new GtError('GT_E_INVALID_UTF8', `${where} is not valid UTF-8`, {
      hint: 'convert the text to UTF-8 (e.g. iconv -t UTF-8) and try again',
    });
  }
}

/** Reads a text argument given as a file path, or '-' for standard input. */
export function readTextSource(source: string, what: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(source === '-' ? 0 : source);
  } catch (error) {
    throw new GtError('GT_E_IO', `cannot read ${what} from ${source === '-' ? 'standard input' : source}`, {
      hint: (error as Error).message,
    });
  }
  return decodeUtf8(bytes, source === '-' ? `${what} on standard input` : `${what} file ${source}`);
}

/**
 * Node replaces invalid UTF-8 in argv with U+FFFD. When one shows up, check the raw bytes on Linux so a
 * genuine U+FFFD is accepted and a broken argument is refused before anything is written.
 */
export function assertArgvUtf8(argv: readonly string[]): void {
  if (!argv.some((arg) => arg.includes('\uFFFD'))) return;
  let raw: Buffer;
  try {
    raw = readFileSync('/proc/self/cmdline');
  } catch {
    return;
  }
  let start = 0;
  let index = 0;
  for (let i = 0; i <= raw.length; i++) {
    if (i === raw.length || raw[i] === 0) {
      if (i > start) decodeUtf8(raw.subarray(start, i), `command-line argument ${index}`);
      start = i + 1;
      index++;
    }
  }
}
