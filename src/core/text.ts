import stripAnsi from 'strip-ansi';

/**
 * Untrusted text (bead titles, mail bodies, nudges) must never drive a terminal. Escape sequences are
 * removed first (so their parameters do not survive as garbage), then any remaining C0/C1 control
 * character except newline and tab.
 */
export function stripControl(text: string, options: { keepNewlines?: boolean } = {}): string {
  const keepNewlines = options.keepNewlines ?? true;
  const withoutEscapes = stripAnsi(text);
  const controls = keepNewlines
    ? /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g
    : /[\u0000-\u001f\u007f-\u009f]/g;
  return withoutEscapes.replace(/\r\n?/g, '\n').replace(controls, keepNewlines ? '' : ' ');
}

/** A one-line rendering of untrusted text, for tables and headers. */
export function oneLine(text: string): string {
  return stripControl(text, { keepNewlines: false }).replace(/\s+/g, ' ').trim();
}

export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}
