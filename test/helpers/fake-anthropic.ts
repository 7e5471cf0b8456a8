/**
 * A scripted fake of the Anthropic Messages API, for driving the real Claude Code CLI without a network
 * or a key. Listens on 127.0.0.1 only (random port). `POST /v1/messages` answers from a script of turns,
 * streamed as Server-Sent Events exactly as the real API streams them (message_start, content_block_start
 * / ping / content_block_delta / content_block_stop per block, message_delta, message_stop), including
 * `tool_use` blocks whose input arrives as `input_json_delta` fragments. Non-streaming requests get the
 * same message as one JSON body. Every request is recorded. Any other endpoint the CLI calls at start
 * (count_tokens, models, oauth/profile probes, telemetry) gets a harmless answer.
 *
 * Which requests consume the script: the CLI also makes side requests (titles, summaries, command-prefix
 * checks) with a small model and no tools. By default only "agent loop" requests (those offering the Bash
 * tool) consume scripted turns; side requests get a short text reply. Override with `isScripted`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ToolUseSpec {
  name: string;
  input: Record<string, unknown>;
  id?: string;
}

/** One assistant turn: optional text, then optional tool calls. stop_reason follows from the content. */
export interface TurnSpec {
  text?: string;
  toolUse?: ToolUseSpec | ToolUseSpec[];
  /** Usage reported in message_start / message_delta. */
  usage?: { input_tokens?: number; output_tokens?: number };
  /** Delay before streaming starts, in ms (to simulate a slow model). */
  delayMs?: number;
}

export type Turn = TurnSpec | ((request: RecordedRequest) => TurnSpec);

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /** True when this request consumed a scripted turn. */
  scripted: boolean;
  /** Index of the scripted turn answered (when scripted). */
  turnIndex?: number;
  at: number;
}

export interface FakeAnthropicOptions {
  turns: Turn[];
  /** Reply when the script is exhausted (default: end_turn with "Done."). */
  afterScript?: TurnSpec;
  /** Reply to side requests (not scripted). */
  sideReply?: TurnSpec;
  /** Decides whether a /v1/messages request consumes a scripted turn. */
  isScripted?: (body: MessagesBody) => boolean;
}

export interface MessagesBody {
  model?: string;
  stream?: boolean;
  system?: unknown;
  messages?: Array<{ role: string; content: unknown }>;
  tools?: Array<{ name?: string }>;
  max_tokens?: number;
}

export interface FakeAnthropic {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Requests to POST /v1/messages only. */
  messageRequests(): RecordedRequest[];
  /** Scripted (agent loop) requests only. */
  scriptedRequests(): RecordedRequest[];
  /** Resolves with the first recorded request matching `predicate` (polls), or rejects after timeoutMs. */
  waitFor(
    predicate: (r: RecordedRequest) => boolean,
    timeoutMs: number,
    what?: string,
  ): Promise<RecordedRequest>;
  close(): Promise<void>;
}

const defaultIsScripted = (body: MessagesBody): boolean =>
  Array.isArray(body.tools) && body.tools.some((t) => t?.name === 'Bash');

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

interface Block {
  type: 'text' | 'tool_use';
  text?: string;
  id?: string;
  name?: string;
  input?: Record<string, unknown>;
}

function blocksOf(turn: TurnSpec): Block[] {
  const blocks: Block[] = [];
  if (turn.text !== undefined && turn.text.length > 0) blocks.push({ type: 'text', text: turn.text });
  const tools = turn.toolUse === undefined ? [] : Array.isArray(turn.toolUse) ? turn.toolUse : [turn.toolUse];
  for (const t of tools) {
    blocks.push({ type: 'tool_use', id: t.id ?? newId('toolu'), name: t.name, input: t.input });
  }
  if (blocks.length === 0) blocks.push({ type: 'text', text: '' });
  return blocks;
}

function sse(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Splits a string into n roughly equal pieces (at least one), to stream as several deltas. */
function pieces(text: string, n: number): string[] {
  if (text.length === 0) return [''];
  const size = Math.max(1, Math.ceil(text.length / n));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function streamMessage(res: ServerResponse, model: string, turn: TurnSpec): void {
  const blocks = blocksOf(turn);
  const stopReason = blocks.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
  const inputTokens = turn.usage?.input_tokens ?? 25;
  const outputTokens = turn.usage?.output_tokens ?? 12;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'request-id': newId('req'),
    'anthropic-organization-id': '00000000-0000-0000-0000-000000000000',
  });
  sse(res, 'message_start', {
    type: 'message_start',
    message: {
      id: newId('msg'),
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: inputTokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens: 1,
      },
    },
  });
  blocks.forEach((block, index) => {
    if (block.type === 'text') {
      sse(res, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      });
      if (index === 0) sse(res, 'ping', { type: 'ping' });
      for (const piece of pieces(block.text ?? '', 3)) {
        sse(res, 'content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'text_delta', text: piece },
        });
      }
    } else {
      sse(res, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      if (index === 0) sse(res, 'ping', { type: 'ping' });
      const json = JSON.stringify(block.input ?? {});
      sse(res, 'content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: '' },
      });
      for (const piece of pieces(json, 3)) {
        sse(res, 'content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: piece },
        });
      }
    }
    sse(res, 'content_block_stop', { type: 'content_block_stop', index });
  });
  sse(res, 'message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: outputTokens },
  });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

function jsonMessage(res: ServerResponse, model: string, turn: TurnSpec): void {
  const blocks = blocksOf(turn);
  const stopReason = blocks.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn';
  sendJson(res, 200, {
    id: newId('msg'),
    type: 'message',
    role: 'assistant',
    model,
    content: blocks.map((b) =>
      b.type === 'text'
        ? { type: 'text', text: b.text }
        : { type: 'tool_use', id: b.id, name: b.name, input: b.input },
    ),
    stop_reason: stopReason,
    stop_sequence: null,
    usage: {
      input_tokens: turn.usage?.input_tokens ?? 25,
      output_tokens: turn.usage?.output_tokens ?? 12,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    },
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': newId('req') });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeAnthropic(options: FakeAnthropicOptions): Promise<FakeAnthropic> {
  const requests: RecordedRequest[] = [];
  const isScripted = options.isScripted ?? defaultIsScripted;
  const afterScript = options.afterScript ?? { text: 'Done.' };
  const sideReply = options.sideReply ?? { text: 'ok' };
  let next = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req);
    let body: unknown = raw;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : undefined;
    } catch {
      // keep the raw text
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      body,
      scripted: false,
      at: Date.now(),
    };
    requests.push(record);

    if (req.method === 'POST' && path === '/v1/messages') {
      const mb = (typeof body === 'object' && body !== null ? body : {}) as MessagesBody;
      const model = mb.model ?? 'claude-fake';
      let turn: TurnSpec;
      if (isScripted(mb)) {
        record.scripted = true;
        if (next < options.turns.length) {
          record.turnIndex = next;
          const t = options.turns[next++]!;
          turn = typeof t === 'function' ? t(record) : t;
        } else {
          turn = afterScript;
        }
      } else {
        turn = sideReply;
      }
      if (turn.delayMs) await new Promise((r) => setTimeout(r, turn.delayMs));
      if (mb.stream) streamMessage(res, model, turn);
      else jsonMessage(res, model, turn);
      return;
    }
    if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
      sendJson(res, 200, { input_tokens: 100 });
      return;
    }
    if (req.method === 'GET' && path.startsWith('/v1/models')) {
      sendJson(res, 200, { data: [], has_more: false, first_id: null, last_id: null });
      return;
    }
    // Anything else (profile/oauth/metrics/feature probes): harmless empty success.
    sendJson(res, 200, {});
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, { type: 'error', error: { type: 'api_error', message: String(error) } });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    messageRequests: () => requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages'),
    scriptedRequests: () => requests.filter((r) => r.scripted),
    async waitFor(predicate, timeoutMs, what = 'request') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = requests.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) {
          throw new Error(
            `fake Anthropic server: timed out after ${timeoutMs} ms waiting for ${what}; saw ${requests
              .map(
                (r) => `${r.method} ${r.path}${r.scripted ? ` (turn ${r.turnIndex ?? 'after-script'})` : ''}`,
              )
              .join(', ')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** All text the user side of a messages request contains (string content and text blocks). */
export function userTexts(request: RecordedRequest): string[] {
  const body = request.body as MessagesBody | undefined;
  const out: string[] = [];
  for (const m of body?.messages ?? []) {
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') out.push(m.content);
    else if (Array.isArray(m.content)) {
      for (const block of m.content as Array<Record<string, unknown>>) {
        if (block.type === 'text' && typeof block.text === 'string') out.push(block.text);
      }
    }
  }
  return out;
}

export interface ToolResult {
  tool_use_id: string;
  is_error: boolean;
  text: string;
}

/** The tool_result blocks in a messages request. */
export function toolResults(request: RecordedRequest): ToolResult[] {
  const body = request.body as MessagesBody | undefined;
  const out: ToolResult[] = [];
  for (const m of body?.messages ?? []) {
    if (m.role !== 'user' || !Array.isArray(m.content)) continue;
    for (const block of m.content as Array<Record<string, unknown>>) {
      if (block.type !== 'tool_result') continue;
      const content = block.content;
      let text = '';
      if (typeof content === 'string') text = content;
      else if (Array.isArray(content)) {
        text = (content as Array<Record<string, unknown>>)
          .map((c) => (typeof c.text === 'string' ? c.text : ''))
          .join('\n');
      }
      out.push({ tool_use_id: String(block.tool_use_id), is_error: block.is_error === true, text });
    }
  }
  return out;
}
