import type { Command } from 'commander';
import { GtError } from '../../core/errors';
import { action, type CommandResult, withJson } from '../harness';

/**
 * `gt mail send|inbox|read|reply|archive|thread`. The mailbox is GT_AGENT (agents) or 'human'; the human
 * may act for another mailbox with --as. Handlers load the mail service lazily.
 */
interface AsFlag {
  as?: string;
}

async function readBody(message: string | undefined): Promise<string> {
  if (message !== undefined) return message;
  if (process.stdin.isTTY) {
    throw new GtError('GT_E_USAGE', 'no message body: pass -m "<body>" or pipe the body on standard input', {
      hint: 'gt mail send mayor -s "subject" -m "body"   or   echo body | gt mail send mayor -s "subject"',
    });
  }
  const { readTextSource } = await import('../input');
  return readTextSource('-', 'message body');
}

async function mailbox<T>(flags: AsFlag, fn: (ctx: MailContext) => T | Promise<T>): Promise<T> {
  const { withTownLedger } = await import('../../services/town-ledger');
  const mail = await import('../../services/mail');
  const text = await import('../../core/text');
  return withTownLedger(async (town) => {
    const me = mail.requireMailbox(town.store.db, mail.whoAmI(process.env, flags.as));
    return fn({ me, town, mail, text });
  });
}

interface MailContext {
  me: string;
  town: import('../../services/town-ledger').TownLedger;
  mail: typeof import('../../services/mail');
  text: typeof import('../../core/text');
}

function renderMessage(ctx: MailContext, m: import('../../services/mail').MessageJson): string {
  const { oneLine, stripControl } = ctx.text;
  return [
    `message ${m.id}  (thread ${m.thread_id}${m.reply_to ? `, reply to ${m.reply_to}` : ''})`,
    `from:    ${oneLine(m.from)}`,
    `to:      ${oneLine(m.to)}${m.via_group ? ` (via ${oneLine(m.via_group)})` : ''}`,
    `date:    ${m.created_at}`,
    `subject: ${oneLine(m.subject)}`,
    '',
    stripControl(m.body),
  ].join('\n');
}

export function registerMailCommands(program: Command): void {
  const mail = program.command('mail').description('durable messages between agents, the Mayor and you');
  const asOption = (cmd: Command) =>
    withJson(cmd.option('--as <address>', 'act for this mailbox (the human only; agents use GT_AGENT)'));

  asOption(
    mail
      .command('send <to>')
      .description("send a message to 'mayor', 'human', '<rig>/<name>' or a group '<rig>/polecats'")
      .requiredOption('-s, --subject <subject>', 'subject line')
      .option('-m, --message <body>', 'message body (default: read standard input)'),
  ).action(
    action(
      async (to: string, flags: AsFlag & { subject: string; message?: string }): Promise<CommandResult> => {
        const body = await readBody(flags.message);
        return mailbox(flags, ({ me, town, mail }) => {
          const sent = mail.sendMail(town.store, { from: me, to, subject: flags.subject, body });
          return {
            data: { from: me, ...sent },
            text: () =>
              `sent message ${sent.ids.join(', ')} to ${sent.to}${
                sent.recipients.length > 1 || sent.recipients[0] !== sent.to
                  ? ` (${sent.recipients.join(', ')})`
                  : ''
              }`,
          };
        });
      },
    ),
  );

  asOption(
    mail
      .command('inbox')
      .description('list your messages, newest first')
      .option('--all', 'include archived messages')
      .option('--unread', 'only unread messages')
      .option('-n, --limit <n>', 'at most this many messages'),
  ).action(
    action(
      async (flags: AsFlag & { all?: boolean; unread?: boolean; limit?: string }): Promise<CommandResult> =>
        mailbox(flags, (ctx) => {
          const limit = flags.limit === undefined ? undefined : Number(flags.limit);
          if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
            throw new GtError('GT_E_USAGE', `--limit must be a positive whole number, not '${flags.limit}'`);
          }
          const box = ctx.mail.inbox(ctx.town.store.db, ctx.me, {
            all: Boolean(flags.all),
            unreadOnly: Boolean(flags.unread),
            ...(limit !== undefined ? { limit } : {}),
          });
          const { oneLine, truncate } = ctx.text;
          return {
            data: box,
            text: () =>
              box.messages.length === 0
                ? `${ctx.me}: no messages`
                : [
                    `${ctx.me}: ${box.messages.length} message(s), ${box.unread} unread`,
                    ...box.messages.map(
                      (m) =>
                        `${m.read ? ' ' : '*'} ${String(m.id).padStart(5)}  ${m.created_at.slice(0, 16).replace('T', ' ')}  ${truncate(oneLine(m.from), 20).padEnd(20)}  ${truncate(oneLine(m.subject), 70)}${m.archived_at ? '  [archived]' : ''}`,
                    ),
                  ].join('\n'),
          };
        }),
    ),
  );

  asOption(mail.command('read <id>').description('show a message and mark it read')).action(
    action(
      async (id: string, flags: AsFlag): Promise<CommandResult> =>
        mailbox(flags, (ctx) => {
          const message = ctx.mail.readMessage(ctx.town.store, ctx.me, id);
          return { data: message, text: () => renderMessage(ctx, message) };
        }),
    ),
  );

  asOption(
    mail
      .command('reply <id>')
      .description('reply in the same thread')
      .option('-m, --message <body>', 'reply body (default: read standard input)')
      .option('-s, --subject <subject>', 'subject (default: "Re: <original>")'),
  ).action(
    action(
      async (id: string, flags: AsFlag & { message?: string; subject?: string }): Promise<CommandResult> => {
        const body = await readBody(flags.message);
        return mailbox(flags, ({ me, town, mail }) => {
          const sent = mail.replyToMessage(town.store, me, id, body, flags.subject);
          return {
            data: { from: me, ...sent },
            text: () => `sent reply ${sent.ids.join(', ')} to ${sent.to} (thread ${sent.thread_id})`,
          };
        });
      },
    ),
  );

  asOption(mail.command('archive <id>').description('archive a message (hidden from the inbox)')).action(
    action(
      async (id: string, flags: AsFlag): Promise<CommandResult> =>
        mailbox(flags, (ctx) => {
          const message = ctx.mail.archiveMessage(ctx.town.store, ctx.me, id);
          return { data: message, text: () => `archived message ${message.id}` };
        }),
    ),
  );

  asOption(mail.command('thread <id>').description('show the whole thread a message belongs to')).action(
    action(
      async (id: string, flags: AsFlag): Promise<CommandResult> =>
        mailbox(flags, (ctx) => {
          const messages = ctx.mail.threadOf(ctx.town.store.db, ctx.me, id);
          return {
            data: { thread_id: messages[0]?.thread_id ?? null, messages },
            text: () => messages.map((m) => renderMessage(ctx, m)).join(`\n${'-'.repeat(60)}\n`),
          };
        }),
    ),
  );
}
