import { join } from 'node:path';
import { GtError } from '../core/errors';
import { byteLength, oneLine } from '../core/text';
import type { Db } from '../ledger/open';
import { toRfc3339 } from '../ledger/time';
import { findAgentRow } from './agent-rows';
import { withFileLock } from './lock';
import { sessionName } from './names';
import type { SessionProvider } from './session';
import { providerFor, runtimeKind, townRuntimePaths } from './town-runtime';

/**
 * Nudges: a short poke typed into an agent's session. The text is untrusted: control characters and
 * escape sequences are stripped, newlines become spaces (a newline typed into a TUI submits early), it is
 * sent with tmux `send-keys -l` (literal, never key names, never a shell), in chunks, with a pause before
 * Enter (Claude Code swallows an Enter that arrives right after pasted text), and its arrival is checked
 * with capture-pane. When the agent cannot take it now (no session, dead, busy, headless) it is queued in
 * the ledger and delivered at the agent's next turn boundary (`gt nudge --drain`, run by its hooks).
 */
export const MAX_NUDGE_BYTES = 8192;
export const CHUNK_BYTES = 512;
const TTL_MS = { normal: 30 * 60_000, urgent: 2 * 60 * 60_000 };
const MAX_PENDING = 50;

export type NudgePriority = 'normal' | 'urgent';

/** Pure: the text that may reach a terminal. */
export function sanitizeNudge(message: string): string {
  const text = oneLine(message.replace(/\t/g, ' '));
  if (text.length === 0) {
    throw new GtError(
      'GT_E_INVALID_INPUT',
      'the nudge message is empty (after removing control characters)',
      {
        hint: 'pass the message text: gt nudge <agent> "<message>"',
      },
    );
  }
  if (byteLength(text) > MAX_NUDGE_BYTES) {
    throw new GtError(
      'GT_E_TOO_LARGE',
      `the nudge message is ${byteLength(text)} bytes; the limit is ${MAX_NUDGE_BYTES}`,
      {
        hint: "send long content as mail ('gt mail send') and nudge a pointer to it",
      },
    );
  }
  return text;
}

/** Pure: splits text into pieces of at most maxBytes UTF-8 bytes, never inside a character. */
export function chunkText(text: string, maxBytes = CHUNK_BYTES): string[] {
  const chunks: string[] = [];
  let current = '';
  let size = 0;
  for (const char of text) {
    const n = byteLength(char);
    if (size + n > maxBytes && current.length > 0) {
      chunks.push(current);
      current = '';
      size = 0;
    }
    current += char;
    size += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Pure: did the typed text show up? Compares the tail without whitespace (TUIs wrap and pad). */
export function textVisible(screen: string, text: string, tailChars = 20): boolean {
  const squash = (s: string) => s.replace(/\s+/g, '');
  const tail = squash(text).slice(-tailChars);
  return tail.length === 0 || squash(screen).includes(tail);
}

/** Pure: the pause before Enter grows with the amount pasted, capped at 2 s. */
export function enterDelay(chunks: number, baseMs: number): number {
  return Math.min(2000, baseMs + 25 * Math.max(0, chunks - 1));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface DeliverOptions {
  enterDelayMs?: number;
  verifyTimeoutMs?: number;
}

/** Types text then Enter into a live session; reports whether the text was seen on screen. */
export async function deliverText(
  provider: SessionProvider,
  session: string,
  text: string,
  options: DeliverOptions = {},
): Promise<{ verified: boolean; chunks: number }> {
  const chunks = chunkText(text);
  for (const [i, chunk] of chunks.entries()) {
    if (i > 0) await sleep(10);
    await provider.sendText(session, chunk);
  }
  const pause = enterDelay(chunks.length, options.enterDelayMs ?? 500);
  const limit = Math.max(pause, options.verifyTimeoutMs ?? 2000);
  const started = Date.now();
  let verified = false;
  for (;;) {
    verified = verified || textVisible(await provider.capture(session, 50), text);
    const elapsed = Date.now() - started;
    if ((verified && elapsed >= pause) || elapsed >= limit) break;
    await sleep(Math.min(100, Math.max(10, pause - elapsed)));
  }
  await provider.sendKeys(session, 'Enter');
  return { verified, chunks: chunks.length };
}

/** Pure: is the agent mid-turn, judging by the last lines of its screen? */
export function looksBusy(screen: string, busyPattern: string | null): boolean {
  if (!busyPattern) return false;
  const lastLines = screen.split('\n').slice(-15).join('\n');
  try {
    return new RegExp(busyPattern, 'im').test(lastLines);
  } catch {
    return false;
  }
}

export type QueueReason = 'no_session' | 'dead' | 'busy' | 'headless' | 'requested';

export interface NudgeResult {
  agent: string;
  session: string;
  status: 'delivered' | 'queued';
  verified: boolean;
  reason: QueueReason | null;
  queue_id: number | null;
  message: string;
}

export interface NudgeOptions {
  sender: string;
  priority?: NudgePriority;
  /** How long to wait for a busy agent to become idle before queueing. */
  waitIdleMs?: number;
  queueOnly?: boolean;
  busyPattern?: string | null;
  enterDelayMs?: number;
}

export function enqueueNudge(
  db: Db,
  agentId: string,
  sender: string,
  message: string,
  reason: QueueReason,
  priority: NudgePriority = 'normal',
  now = Date.now(),
): number {
  const tx = db.transaction(() => {
    const id = Number(
      db
        .prepare(
          `INSERT INTO nudges (agent_id, sender, message, priority, reason, created_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(agentId, sender, message, priority, reason, now, now + TTL_MS[priority]).lastInsertRowid,
    );
    // Bounded backlog: the oldest pokes go first (a stale "check your hook" has no value).
    db.prepare(
      `UPDATE nudges SET status = 'expired' WHERE id IN (
         SELECT id FROM nudges WHERE agent_id = ? AND status = 'queued'
         ORDER BY id DESC LIMIT -1 OFFSET ?)`,
    ).run(agentId, MAX_PENDING);
    return id;
  });
  return tx.immediate();
}

export interface QueuedNudge {
  id: number;
  sender: string;
  message: string;
  priority: NudgePriority;
  reason: string;
  created_at: string;
}

/** Takes every pending nudge for the agent (urgent first), marking them delivered; expires stale ones. */
export function drainNudges(db: Db, agentId: string, now = Date.now()): QueuedNudge[] {
  const tx = db.transaction(() => {
    db.prepare(
      "UPDATE nudges SET status = 'expired' WHERE agent_id = ? AND status = 'queued' AND expires_at <= ?",
    ).run(agentId, now);
    const rows = db
      .prepare(
        `SELECT id, sender, message, priority, reason, created_at FROM nudges
         WHERE agent_id = ? AND status = 'queued' ORDER BY priority = 'urgent' DESC, id`,
      )
      .all(agentId) as Array<Omit<QueuedNudge, 'created_at'> & { created_at: number }>;
    const mark = db.prepare(
      "UPDATE nudges SET status = 'delivered', delivered_at = ?, delivered_by = 'drain' WHERE id = ?",
    );
    for (const row of rows) mark.run(now, row.id);
    return rows.map((row) => ({ ...row, created_at: toRfc3339(row.created_at) }));
  });
  return tx.immediate();
}

export function pendingNudgeCount(db: Db, agentId: string): number {
  return (
    db.prepare("SELECT count(*) AS n FROM nudges WHERE agent_id = ? AND status = 'queued'").get(agentId) as {
      n: number;
    }
  ).n;
}

/** The drained nudges as a block an agent hook can print into the model's context. */
export function renderDrained(nudges: readonly QueuedNudge[]): string {
  if (nudges.length === 0) return '';
  const lines = nudges.map(
    (n) =>
      `- ${n.priority === 'urgent' ? '[URGENT] ' : ''}[from ${oneLine(n.sender)} at ${n.created_at}] ${oneLine(n.message)}`,
  );
  return `<system-reminder>\nQUEUED NUDGES (${nudges.length}):\n${lines.join('\n')}\n</system-reminder>`;
}

/** Nudges one agent of the town: typed into its session if it can take it now, else queued. */
export async function nudgeAgent(
  root: string,
  db: Db,
  ref: string,
  message: string,
  options: NudgeOptions,
): Promise<NudgeResult> {
  const text = sanitizeNudge(message);
  const row = findAgentRow(db, ref);
  const sender = oneLine(options.sender) || 'unknown';
  const session = row.session ?? sessionName(row);
  const base = { agent: row.id, session, message: text };
  const queue = (reason: QueueReason): NudgeResult => ({
    ...base,
    status: 'queued',
    verified: false,
    reason,
    queue_id: enqueueNudge(db, row.id, sender, text, reason, options.priority),
  });
  if (options.queueOnly) return queue('requested');
  const kind = runtimeKind(row.runtime);
  if (kind === 'headless') return queue('headless');
  const provider = providerFor(kind, root);
  const live = await provider.liveness(session);
  if (!live.session) return queue('no_session');
  if (!live.processAlive) return queue('dead');
  const lock = join(townRuntimePaths(root).locks, `nudge-${session}.lock`);
  return withFileLock(lock, 30_000, async () => {
    const deadline = Date.now() + (options.waitIdleMs ?? 3000);
    while (looksBusy(await provider.capture(session, 50), options.busyPattern ?? null)) {
      if (Date.now() >= deadline) return queue('busy');
      await sleep(250);
    }
    const typed = `[from ${sender}] ${text}`;
    const { verified } = await deliverText(provider, session, typed, { enterDelayMs: options.enterDelayMs });
    return { ...base, message: typed, status: 'delivered', verified, reason: null, queue_id: null };
  });
}
