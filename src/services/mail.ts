import { type Address, parseAddress, parseIdentity } from '../core/address';
import { GtError } from '../core/errors';
import { fenceUntrusted } from '../core/fence';
import { byteLength, oneLine } from '../core/text';
import { type Db, prepared } from '../ledger/open';
import type { BeadStore } from '../ledger/store';
import { nowMs, toRfc3339, toRfc3339OrNull } from '../ledger/time';
import { enqueueNudge } from '../runtime/nudge';

/**
 * Durable mail in the town ledger (table `messages`, migration 4). One row per recipient: a group address
 * is resolved to the group's members at send time (a polecat that joins later does not get old group mail,
 * and read/archive state is naturally per recipient). Bodies are untrusted: stored as given (size-limited),
 * stripped of control characters when shown, fenced as data in prompts (mailForPrompt).
 */
export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_SUBJECT_CHARS = 200;
/** The sender of messages gt itself writes (convoy landings). It has no mailbox and cannot be replied to. */
export const SYSTEM_SENDER = 'gt';

export interface MessageRow {
  id: number;
  thread_id: number;
  from_addr: string;
  to_addr: string;
  via_group: string | null;
  subject: string;
  body: string;
  kind: string;
  created_at: number;
  read_at: number | null;
  archived_at: number | null;
  reply_to: number | null;
}

export interface MessageJson {
  id: number;
  thread_id: number;
  from: string;
  to: string;
  via_group: string | null;
  subject: string;
  body: string;
  kind: string;
  created_at: string;
  read: boolean;
  read_at: string | null;
  archived_at: string | null;
  reply_to: number | null;
}

export function messageToJson(row: MessageRow): MessageJson {
  return {
    id: row.id,
    thread_id: row.thread_id,
    from: row.from_addr,
    to: row.to_addr,
    via_group: row.via_group,
    subject: row.subject,
    body: row.body,
    kind: row.kind,
    created_at: toRfc3339(row.created_at),
    read: row.read_at !== null,
    read_at: toRfc3339OrNull(row.read_at),
    archived_at: toRfc3339OrNull(row.archived_at),
    reply_to: row.reply_to,
  };
}

// ---- identity --------------------------------------------------------------------------------

/**
 * Who is reading or sending: GT_AGENT ('<rig>/<name>' or 'mayor', set by gt for every agent session), else
 * 'human'. `--as` lets the human act for another mailbox; an agent cannot use it to impersonate others.
 */
export function whoAmI(env: NodeJS.ProcessEnv, as?: string): string {
  const agent = env.GT_AGENT?.trim();
  if (agent) {
    const me = parseIdentity(agent).text;
    if (as !== undefined && parseIdentity(as).text !== me) {
      throw new GtError('GT_E_NOT_ALLOWED', `--as is for the human only; this process is agent ${me}`, {
        hint: 'agents send and read mail as themselves (GT_AGENT)',
      });
    }
    return me;
  }
  return as !== undefined ? parseIdentity(as).text : 'human';
}

// ---- addresses -------------------------------------------------------------------------------

export interface Recipients {
  address: Address;
  /** One mailbox per entry (groups expanded). */
  mailboxes: string[];
}

/** Validates an address against the ledger and expands groups to the agents in the `agents` table. */
export function resolveRecipients(db: Db, input: string): Recipients {
  const address = parseAddress(input);
  if (address.kind === 'mayor' || address.kind === 'human') return { address, mailboxes: [address.text] };
  const rig = prepared<[string], { name: string }>(db, 'SELECT name FROM rigs WHERE name = ?').get(
    address.rig,
  );
  if (!rig) {
    throw new GtError(
      'GT_E_UNKNOWN_ADDRESS',
      `no rig '${address.rig}' in this town (address '${address.text}')`,
      {
        hint: "list rigs with 'gt rig list'",
      },
    );
  }
  if (address.kind === 'group') {
    const members = prepared<[string, string], string>(
      db,
      'SELECT id FROM agents WHERE rig = ? AND role = ? ORDER BY name',
    )
      .pluck()
      .all(address.rig, address.role);
    if (members.length === 0) {
      throw new GtError('GT_E_NO_RECIPIENTS', `group '${address.text}' has no members yet`, {
        hint: `no ${address.role} of rig ${address.rig} is in the ledger; see 'gt agents --rig ${address.rig}'`,
      });
    }
    return { address, mailboxes: members };
  }
  const agent = prepared<[string], string>(db, 'SELECT id FROM agents WHERE id = ?')
    .pluck()
    .get(address.text);
  if (!agent) {
    throw new GtError('GT_E_UNKNOWN_ADDRESS', `no agent '${address.text}' in this town`, {
      hint: `see 'gt agents --rig ${address.rig}' for its agents, or mail the group '${address.rig}/polecats'`,
    });
  }
  return { address, mailboxes: [agent] };
}

/** Checks that `me` is a mailbox that exists (mayor and human always do). */
export function requireMailbox(db: Db, me: string): string {
  const address = parseIdentity(me);
  if (address.kind === 'agent') resolveRecipients(db, address.text);
  return address.text;
}

// ---- validation ------------------------------------------------------------------------------

export function validateSubject(subject: string): string {
  if (subject.trim().length === 0) {
    throw new GtError('GT_E_EMPTY_SUBJECT', 'a message needs a subject', {
      hint: 'gt mail send <to> -s "subject" -m "body"',
    });
  }
  if ([...subject].length > MAX_SUBJECT_CHARS) {
    throw new GtError(
      'GT_E_TOO_LARGE',
      `the subject is ${[...subject].length} characters; the limit is ${MAX_SUBJECT_CHARS}`,
      { hint: 'put the details in the body' },
    );
  }
  return subject;
}

export function validateBody(body: string): string {
  const bytes = byteLength(body);
  if (bytes > MAX_BODY_BYTES) {
    throw new GtError(
      'GT_E_TOO_LARGE',
      `the message body is ${bytes} bytes; the limit is ${MAX_BODY_BYTES} (64 KiB)`,
      {
        hint: 'send a summary and put large logs in a file or a bead comment',
        details: { bytes, limit: MAX_BODY_BYTES },
      },
    );
  }
  return body;
}

// ---- send ------------------------------------------------------------------------------------

export interface SendInput {
  from: string;
  to: string;
  subject: string;
  body?: string;
  kind?: string;
  /** Continue this thread (replies); otherwise the message starts a thread. */
  threadId?: number;
  replyTo?: number;
}

export interface SentMail {
  thread_id: number;
  to: string;
  recipients: string[];
  ids: number[];
}

/**
 * Sends one message (one row per mailbox) in one transaction. The sender must be a known mailbox or the
 * system sender; the recipient address is validated and groups expanded.
 */
export function sendMail(store: BeadStore, input: SendInput): SentMail {
  const subject = validateSubject(input.subject);
  const body = validateBody(input.body ?? '');
  const from = input.from === SYSTEM_SENDER ? SYSTEM_SENDER : requireMailbox(store.db, input.from);
  return store.write(() => {
    const { address, mailboxes } = resolveRecipients(store.db, input.to);
    const now = nowMs();
    const insert = prepared(
      store.db,
      `INSERT INTO messages (thread_id, from_addr, to_addr, via_group, subject, body, kind, created_at, reply_to)
         VALUES (@thread_id, @from, @to, @via_group, @subject, @body, @kind, @now, @reply_to)`,
    );
    let threadId = input.threadId ?? 0;
    const ids: number[] = [];
    for (const mailbox of mailboxes) {
      const id = Number(
        insert.run({
          thread_id: threadId,
          from,
          to: mailbox,
          via_group: address.kind === 'group' ? address.text : null,
          subject,
          body,
          kind: input.kind ?? 'message',
          now,
          reply_to: input.replyTo ?? null,
        }).lastInsertRowid,
      );
      if (threadId === 0) {
        threadId = id;
        prepared(store.db, 'UPDATE messages SET thread_id = ? WHERE id = ?').run(id, id);
      }
      ids.push(id);
    }
    // New mail reaches a running agent at its next turn: a queued nudge (drained by its hooks) that only
    // points at the inbox. The subject and body never go into the nudge.
    const isAgent = prepared<[string], string>(
      store.db,
      'SELECT id FROM agents WHERE id = ? -- mail nudge',
    ).pluck();
    mailboxes.forEach((mailbox, i) => {
      if (mailbox === from || !isAgent.get(mailbox)) return;
      enqueueNudge(
        store.db,
        mailbox,
        from,
        `New mail #${ids[i]} from ${from}: run 'gt mail inbox'`,
        'requested',
        'normal',
        now,
      );
    });
    return { thread_id: threadId, to: address.text, recipients: mailboxes, ids };
  });
}

// ---- read ------------------------------------------------------------------------------------

export interface InboxOptions {
  /** Include archived messages. */
  all?: boolean;
  unreadOnly?: boolean;
  limit?: number;
}

export interface Inbox {
  mailbox: string;
  unread: number;
  messages: MessageJson[];
}

/** A mailbox, newest first. Reads the (to_addr, archived_at, id) index; no sort for the default view. */
export function inbox(db: Db, me: string, options: InboxOptions = {}): Inbox {
  const limit = options.limit ?? -1;
  let rows: MessageRow[];
  if (options.unreadOnly) {
    rows = prepared<[string, number], MessageRow>(
      db,
      `SELECT * FROM messages WHERE to_addr = ? AND read_at IS NULL AND archived_at IS NULL
         ORDER BY id DESC LIMIT ?`,
    ).all(me, limit);
  } else if (options.all) {
    rows = prepared<[string, number], MessageRow>(
      db,
      'SELECT * FROM messages WHERE to_addr = ? ORDER BY id DESC LIMIT ?',
    ).all(me, limit);
  } else {
    rows = prepared<[string, number], MessageRow>(
      db,
      'SELECT * FROM messages WHERE to_addr = ? AND archived_at IS NULL ORDER BY id DESC LIMIT ?',
    ).all(me, limit);
  }
  return { mailbox: me, unread: unreadCount(db, me), messages: rows.map(messageToJson) };
}

export function unreadCount(db: Db, me: string): number {
  return prepared<[string], number>(
    db,
    'SELECT count(*) FROM messages WHERE to_addr = ? AND read_at IS NULL AND archived_at IS NULL',
  )
    .pluck()
    .get(me)!;
}

function parseMessageId(input: string | number): number {
  const id = typeof input === 'number' ? input : Number(String(input).trim().replace(/^#/, ''));
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new GtError('GT_E_INVALID_ID', `'${oneLine(String(input))}' is not a message id`, {
      hint: "message ids are numbers; see 'gt mail inbox'",
    });
  }
  return id;
}

/** A message `me` sent or received; anything else is reported as not found (no probing others' mail). */
export function visibleMessage(db: Db, me: string, input: string | number): MessageRow {
  const id = parseMessageId(input);
  const row = prepared<[number], MessageRow>(db, 'SELECT * FROM messages WHERE id = ?').get(id);
  if (!row || (row.to_addr !== me && row.from_addr !== me)) {
    throw new GtError('GT_E_MESSAGE_NOT_FOUND', `no message ${id} in the mailbox of ${me}`, {
      hint: "see 'gt mail inbox' (or 'gt mail inbox --all' for archived mail)",
    });
  }
  return row;
}

/** Shows a message and marks it read when `me` is its recipient. */
export function readMessage(store: BeadStore, me: string, input: string | number): MessageJson {
  return store.write(() => {
    const row = visibleMessage(store.db, me, input);
    if (row.to_addr === me && row.read_at === null) {
      const now = nowMs();
      prepared(store.db, 'UPDATE messages SET read_at = ? WHERE id = ? AND read_at IS NULL').run(now, row.id);
      row.read_at = now;
    }
    return messageToJson(row);
  });
}

export function archiveMessage(store: BeadStore, me: string, input: string | number): MessageJson {
  return store.write(() => {
    const row = visibleMessage(store.db, me, input);
    if (row.to_addr !== me) {
      throw new GtError(
        'GT_E_NOT_ALLOWED',
        `message ${row.id} was sent by ${me}; only its recipient archives it`,
        {
          hint: "archive messages from your own inbox ('gt mail inbox')",
        },
      );
    }
    if (row.archived_at === null) {
      const now = nowMs();
      prepared(
        store.db,
        'UPDATE messages SET archived_at = ?, read_at = coalesce(read_at, ?) WHERE id = ?',
      ).run(now, now, row.id);
      row.archived_at = now;
      row.read_at = row.read_at ?? now;
    }
    return messageToJson(row);
  });
}

/** Replies in the same thread: to the sender of a received message, to the recipient of a sent one. */
export function replyToMessage(
  store: BeadStore,
  me: string,
  input: string | number,
  body: string,
  subject?: string,
): SentMail {
  const original = visibleMessage(store.db, me, input);
  const to = original.to_addr === me ? original.from_addr : original.to_addr;
  if (to === SYSTEM_SENDER) {
    throw new GtError(
      'GT_E_NOT_ALLOWED',
      `message ${original.id} was written by gt itself; it takes no replies`,
      {
        hint: "mail the mayor or the human instead: 'gt mail send mayor -s …'",
      },
    );
  }
  const base = /^re:/i.test(original.subject.trim()) ? original.subject : `Re: ${original.subject}`;
  return sendMail(store, {
    from: me,
    to,
    subject: subject ?? [...base].slice(0, MAX_SUBJECT_CHARS).join(''),
    body,
    kind: 'reply',
    threadId: original.thread_id,
    replyTo: original.id,
  });
}

/** The messages of a thread that `me` sent or received, oldest first. */
export function threadOf(db: Db, me: string, input: string | number): MessageJson[] {
  const row = visibleMessage(db, me, input);
  return prepared<[number, string, string], MessageRow>(
    db,
    'SELECT * FROM messages WHERE thread_id = ? AND (to_addr = ? OR from_addr = ?) ORDER BY id',
  )
    .all(row.thread_id, me, me)
    .map(messageToJson);
}

// ---- prompts ---------------------------------------------------------------------------------

/** Unread mail for an agent's prompt (gt prime): headers one-lined, bodies fenced as data. */
export function mailForPrompt(messages: readonly MessageJson[]): string {
  if (messages.length === 0) return 'No unread mail.';
  return messages
    .map((m) =>
      fenceUntrusted(
        `Mail #${m.id} from ${oneLine(m.from)} (${m.created_at}), subject "${oneLine(m.subject)}"`,
        m.body,
      ),
    )
    .join('\n\n');
}
