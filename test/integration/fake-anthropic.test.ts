/** The fake Messages API itself: event order, tool_use reassembly, recording, side requests. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startFakeAnthropic, toolResults, userTexts } from '../helpers/fake-anthropic';

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((chunk) => chunk.trim().length > 0)
    .map((chunk) => {
      const event = /^event: (.*)$/m.exec(chunk)?.[1] ?? '';
      const data = JSON.parse(/^data: (.*)$/m.exec(chunk)?.[1] ?? '{}') as Record<string, unknown>;
      assert.equal(data.type, event, 'event name and data.type agree');
      return { event, data };
    });
}

describe('fake Anthropic Messages API', () => {
  test('streams text and tool_use turns exactly in the API order, and records requests', async () => {
    const fake = await startFakeAnthropic({
      turns: [
        {
          text: 'Hello there',
          toolUse: { name: 'Bash', input: { command: 'echo "hi" > x' } },
          usage: { output_tokens: 7 },
        },
        (req) => ({ text: `saw ${toolResults(req).length} result(s)` }),
      ],
    });
    try {
      assert.match(fake.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const ask = async (messages: unknown[]) => {
        const res = await fetch(`${fake.url}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': 'fake' },
          body: JSON.stringify({
            model: 'm',
            stream: true,
            max_tokens: 100,
            tools: [{ name: 'Bash' }],
            messages,
          }),
        });
        assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
        return parseSse(await res.text());
      };
      const first = await ask([{ role: 'user', content: 'do it' }]);
      assert.deepEqual(
        first.map((e) => e.event),
        [
          'message_start',
          'content_block_start',
          'ping',
          'content_block_delta',
          'content_block_delta',
          'content_block_delta',
          'content_block_stop',
          'content_block_start',
          'content_block_delta',
          'content_block_delta',
          'content_block_delta',
          'content_block_delta',
          'content_block_stop',
          'message_delta',
          'message_stop',
        ],
      );
      const text = first
        .filter((e) => e.data.index === 0 && e.event === 'content_block_delta')
        .map((e) => (e.data.delta as { text: string }).text)
        .join('');
      assert.equal(text, 'Hello there');
      const toolStart = first[7]?.data.content_block as { type: string; id: string; name: string };
      assert.equal(toolStart.type, 'tool_use');
      assert.equal(toolStart.name, 'Bash');
      const json = first
        .filter((e) => e.data.index === 1 && e.event === 'content_block_delta')
        .map((e) => (e.data.delta as { partial_json: string }).partial_json)
        .join('');
      assert.deepEqual(JSON.parse(json), { command: 'echo "hi" > x' });
      assert.deepEqual(first.at(-2)?.data, {
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { output_tokens: 7 },
      });

      const second = await ask([
        { role: 'user', content: 'do it' },
        { role: 'assistant', content: [{ type: 'tool_use', id: toolStart.id, name: 'Bash', input: {} }] },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: toolStart.id, is_error: true, content: 'blocked' }],
        },
      ]);
      const delta = second.find((e) => e.event === 'content_block_delta')?.data.delta as
        | { text?: string }
        | undefined;
      assert.match(delta?.text ?? '', /^saw/);
      const end = second.at(-2)?.data.delta as { stop_reason?: string } | undefined;
      assert.equal(end?.stop_reason, 'end_turn');

      const recorded = fake.scriptedRequests();
      assert.equal(recorded.length, 2);
      assert.deepEqual(userTexts(recorded[0]!), ['do it']);
      assert.deepEqual(toolResults(recorded[1]!), [
        { tool_use_id: toolStart.id, is_error: true, text: 'blocked' },
      ]);
      assert.equal(recorded[0]?.headers['x-api-key'], 'fake');
    } finally {
      await fake.close();
    }
  });

  test('side requests, non-streaming, count_tokens and unknown endpoints get harmless answers', async () => {
    const fake = await startFakeAnthropic({ turns: [{ text: 'scripted' }] });
    try {
      const side = await fetch(`${fake.url}/v1/messages`, {
        method: 'POST',
        body: JSON.stringify({
          model: 'small',
          max_tokens: 1,
          messages: [{ role: 'user', content: 'title?' }],
        }),
      });
      const sideBody = (await side.json()) as { content: Array<{ text: string }>; stop_reason: string };
      assert.equal(sideBody.content[0]?.text, 'ok');
      assert.equal(sideBody.stop_reason, 'end_turn');
      assert.equal(fake.scriptedRequests().length, 0, 'a side request consumes no scripted turn');

      const count = await fetch(`${fake.url}/v1/messages/count_tokens`, { method: 'POST', body: '{}' });
      assert.deepEqual(await count.json(), { input_tokens: 100 });
      const other = await fetch(`${fake.url}/api/oauth/profile`);
      assert.equal(other.status, 200);
      await fake.waitFor((r) => r.path === '/api/oauth/profile', 1000);
      await assert.rejects(
        fake.waitFor((r) => r.path === '/never', 200, 'never'),
        /timed out .* waiting for never/,
      );
    } finally {
      await fake.close();
    }
  });
});
