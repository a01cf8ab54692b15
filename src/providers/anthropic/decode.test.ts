import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { summarizeParts } from '../../../test/mock-provider/expected.ts';
import { readStreamFixture } from '../../../test/mock-provider/fixtures.ts';
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { UpstreamCall } from '../../domain/provider.ts';
import type { StreamPart } from '../../domain/stream-part.ts';
import { decodeChunks, providerContract } from '../provider.contract.ts';
import { assertMockExpectations, assertProtocolError } from '../shared/test-support.ts';
import { adapter } from './index.ts';

const llmInterface = 'anthropic/v1/messages';

providerContract('anthropic', {
  adapter,
  llmInterface,
  fixtures: 'anthropic',
  cases: [
    {
      fixture: 'text',
      text: 'Café Sprüngli on Bahnhofstrasse is a Zürich classic — try the Luxemburgerli with a cappuccino ☕. Enjoy! 🚀',
      toolCalls: [],
      finishReason: 'stop',
      usage: { input_tokens: 18, output_tokens: 32, total_tokens: 50 },
    },
    {
      fixture: 'tool-call',
      text: "I'll look up the weather in both cities at once.",
      toolCalls: [
        {
          index: 0,
          id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
          name: 'get_weather',
          arguments: '{"location": "Paris, France", "unit": "celsius"}',
        },
        {
          index: 1,
          id: 'toolu_01GxW8vNq3kRb5tYz2LpH9cE',
          name: 'get_weather',
          arguments: '{"location": "Zürich, Switzerland", "unit": "celsius"}',
        },
      ],
      finishReason: 'tool_calls',
      usage: { input_tokens: 612, output_tokens: 187, total_tokens: 799 },
    },
    {
      // Cache reads are billed input: 12 + 1864.
      fixture: 'usage',
      text: 'Café Sprüngli on Bahnhofstrasse is a Zürich classic — try the Luxemburgerli with a cappuccino ☕. Enjoy! 🚀',
      finishReason: 'stop',
      usage: { input_tokens: 1876, output_tokens: 32, total_tokens: 1908 },
    },
    {
      fixture: 'error-mid-stream',
      text: 'Café Sprüngli on Bahnhofstrasse is a Zürich',
      error: /^Error from remote service: Overloaded$/,
    },
  ],
});

type Event = { type: string; [key: string]: unknown };

/** Encodes events as Anthropic does (`event:` name plus JSON data) and decodes them. */
function decodeEvents(...events: (Event | string)[]) {
  const body = events
    .map((event) =>
      typeof event === 'string'
        ? event
        : `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`,
    )
    .join('');
  return decodeChunks(adapter, llmInterface, [Buffer.from(body)]);
}

const messageStart = (usage: object = { input_tokens: 5, output_tokens: 1 }): Event => ({
  type: 'message_start',
  message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], usage },
});
const blockStart = (index: number, block: object): Event => ({
  type: 'content_block_start',
  index,
  content_block: block,
});
const blockDelta = (index: number, delta: object): Event => ({
  type: 'content_block_delta',
  index,
  delta,
});
const blockStop = (index: number): Event => ({ type: 'content_block_stop', index });
const messageDelta = (stopReason: string, usage: object = { output_tokens: 9 }): Event => ({
  type: 'message_delta',
  delta: { stop_reason: stopReason, stop_sequence: null },
  usage,
});
const messageStop: Event = { type: 'message_stop' };

describe('anthropic decoder', () => {
  test('agrees with the mock expectations on every fixture', () => {
    assertMockExpectations(adapter, llmInterface, 'anthropic');
  });

  test('keeps thinking out of the text, ignores signatures, and keeps the raw stop reason', () => {
    const { parts } = decodeChunks(
      adapter,
      llmInterface,
      readStreamFixture('anthropic', 'tool-call'),
    );
    const reasoning = parts.filter((part) => part.type === 'reasoning-delta');
    assert.deepEqual(
      reasoning.map((part) => part.text).join(''),
      'The user wants the weather in Paris and Zürich. Both lookups are independent, so I can call get_weather twice in parallel.',
    );
    assert.ok(!summarizeParts(parts).text.includes('weather in Paris'));
    assert.ok(!JSON.stringify(parts).includes('EqQBCkgIBxAB'), 'no signature anywhere');
    const last = parts.at(-1);
    assert.deepEqual(last?.type === 'finish' && last.finishReason, {
      unified: 'tool_calls',
      raw: 'tool_use',
    });
  });

  test('numbers tool calls by tool_use block, and emits id and name on the first fragment only', () => {
    const { parts, thrown } = decodeEvents(
      messageStart(),
      blockStart(0, { type: 'text', text: '' }),
      blockDelta(0, { type: 'text_delta', text: 'Checking.' }),
      blockStop(0),
      blockStart(1, { type: 'tool_use', id: 'toolu_a', name: 'f', input: {} }),
      blockDelta(1, { type: 'input_json_delta', partial_json: '' }),
      blockDelta(1, { type: 'input_json_delta', partial_json: '{"x":1}' }),
      blockStop(1),
      blockStart(2, { type: 'tool_use', id: 'toolu_b', name: 'g', input: {} }),
      blockDelta(2, { type: 'input_json_delta', partial_json: '{}' }),
      blockStop(2),
      messageDelta('tool_use'),
      messageStop,
    );
    assert.equal(thrown, undefined);
    assert.deepEqual(parts, [
      { type: 'text-delta', text: 'Checking.' },
      { type: 'tool-call-delta', index: 0, id: 'toolu_a', name: 'f', argumentsDelta: '' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '{"x":1}' },
      { type: 'tool-call-delta', index: 1, id: 'toolu_b', name: 'g', argumentsDelta: '' },
      { type: 'tool-call-delta', index: 1, argumentsDelta: '{}' },
      {
        type: 'finish',
        finishReason: { unified: 'tool_calls', raw: 'tool_use' },
        usage: { input_tokens: 5, output_tokens: 9, total_tokens: 14 },
      },
    ]);
  });

  test('does not report server tool calls as the caller tool calls', () => {
    const { parts } = decodeEvents(
      messageStart(),
      blockStart(0, { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} }),
      blockDelta(0, { type: 'input_json_delta', partial_json: '{"query":"x"}' }),
      blockStop(0),
      blockStart(1, { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] }),
      blockStop(1),
      blockStart(2, { type: 'text', text: '' }),
      blockDelta(2, { type: 'text_delta', text: 'Found it.' }),
      blockDelta(2, { type: 'citations_delta', citation: { type: 'web_search_result_location' } }),
      blockStop(2),
      messageDelta('end_turn'),
      messageStop,
    );
    assert.deepEqual(
      parts.map((part) => part.type),
      ['text-delta', 'finish'],
    );
  });

  test('ignores ping, unknown event types and unknown delta types', () => {
    const { parts, thrown } = decodeEvents(
      messageStart(),
      { type: 'ping' },
      { type: 'message_future_thing', payload: { anything: [1, 2] } },
      blockStart(0, { type: 'text', text: '' }),
      blockDelta(0, { type: 'future_delta', value: 3 }),
      blockDelta(0, { type: 'text_delta', text: 'Hi' }),
      blockStop(0),
      messageDelta('end_turn'),
      messageStop,
    );
    assert.equal(thrown, undefined);
    assert.deepEqual(parts.slice(0, -1), [{ type: 'text-delta', text: 'Hi' }]);
  });

  test('maps error events to an error part with a sensible status', () => {
    const cases: [string, string, number][] = [
      ['overloaded_error', 'Overloaded', 503],
      ['rate_limit_error', 'Slow down', 429],
      ['api_error', 'Internal server error', 502],
    ];
    for (const [type, message, status] of cases) {
      const { parts } = decodeEvents(messageStart(), { type: 'error', error: { type, message } });
      assert.deepEqual(parts, [
        { type: 'error', message: `Error from remote service: ${message}`, status },
      ]);
    }
    // Whatever a proxy puts in an `event: error`, it is reported, never skipped.
    const odd: [string, string, number][] = [
      ['upstream exploded', 'upstream exploded', 502],
      ['{"type":"overloaded_error","message":"flat"}', 'flat', 503],
      ['{"error":"text"}', 'text', 502],
      ['{"type":"error","error":{"message":7}}', 'unknown error', 502],
    ];
    for (const [data, message, status] of odd) {
      const { parts } = decodeEvents(messageStart(), `event: error\ndata: ${data}\n\n`);
      assert.deepEqual(parts, [
        { type: 'error', message: `Error from remote service: ${message}`, status },
      ]);
    }
  });

  test('finishes without usage when none was reported, and maps max_tokens', () => {
    const { parts } = decodeEvents(
      { type: 'message_start', message: { id: 'msg_1' } },
      { type: 'message_delta', delta: { stop_reason: 'max_tokens' } },
      messageStop,
    );
    assert.deepEqual(parts, [
      { type: 'finish', finishReason: { unified: 'length', raw: 'max_tokens' } },
    ]);
  });

  test('throws when the stream ends without message_stop', () => {
    const { parts, thrown } = decodeEvents(
      messageStart(),
      blockStart(0, { type: 'text', text: '' }),
      blockDelta(0, { type: 'text_delta', text: 'Hi' }),
      messageDelta('end_turn'),
    );
    assertProtocolError(thrown, /ended the stream before message_stop/);
    assert.ok(parts.every((part) => part.type !== 'finish'));
  });

  test('throws on malformed events instead of skipping them', () => {
    const cases: [Event | string, RegExp][] = [
      ['event: message_delta\ndata: {"type":"message_delta","delta":{\n\n', /invalid JSON/],
      ['data: [1]\n\n', /the event is not an object/],
      ['data: {"index":0}\n\n', /the event has no type/],
      [
        blockDelta(7, { type: 'input_json_delta', partial_json: '{}' }),
        /content block 7, which is not open/,
      ],
      [
        { type: 'content_block_delta', delta: { type: 'text_delta', text: 'a' } },
        /"index" is missing/,
      ],
      [blockDelta(0, { type: 'text_delta', text: 5 }), /"text" is not a string/],
      [{ type: 'message_delta', usage: { output_tokens: '9' } }, /"output_tokens" is not a number/],
    ];
    for (const [event, pattern] of cases) {
      const { thrown } = decodeEvents(messageStart(), event, messageDelta('end_turn'), messageStop);
      assertProtocolError(
        thrown,
        new RegExp(`^Malformed event from the remote service: .*${pattern.source}`),
      );
    }
  });

  test('ignores anything after message_stop and emits exactly one finish', () => {
    const decoder = adapter.createDecoder(llmInterface);
    const parts: StreamPart[] = [];
    const emit = (part: StreamPart) => parts.push(part);
    for (const event of [messageStart(), messageStop, messageStop, { type: 'error', error: {} }]) {
      decoder.decode(
        { framing: 'sse', event: event.type, data: JSON.stringify(event), id: undefined },
        emit,
      );
    }
    decoder.end(emit);
    assert.equal(parts.length, 1);
    assert.equal(parts[0]?.type, 'finish');
  });
});

describe('anthropic prepareStream', () => {
  const call = (body: string, headers: Record<string, string> = {}): UpstreamCall => ({
    method: 'POST',
    url: 'https://api.anthropic.com/v1/messages',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k', ...headers },
    body,
  });

  test('sets stream, Accept and a default anthropic-version', () => {
    const prepared = adapter.prepareStream(
      call('{"model":"claude-sonnet-4-5","max_tokens":100,"stream":false}'),
      llmInterface,
    );
    assert.deepEqual(JSON.parse(prepared.body), {
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      stream: true,
    });
    assert.deepEqual(prepared.headers, {
      'content-type': 'application/json',
      'x-api-key': 'k',
      accept: 'text/event-stream',
      'anthropic-version': '2023-06-01',
    });
  });

  test('keeps the connector anthropic-version, whatever its spelling', () => {
    const prepared = adapter.prepareStream(
      call('{"model":"m"}', { 'Anthropic-Version': '2024-01-01', Accept: 'application/json' }),
      llmInterface,
    );
    assert.deepEqual(prepared.headers, {
      'content-type': 'application/json',
      'x-api-key': 'k',
      'Anthropic-Version': '2024-01-01',
      accept: 'text/event-stream',
    });
  });

  test('refuses a body that is not a JSON object', () => {
    for (const body of ['', '[]', 'not json']) {
      assert.throws(
        () => adapter.prepareStream(call(body), llmInterface),
        (error: unknown) => ServiceError.isInstance(error) && error.code === ErrorCode.BadRequest,
      );
    }
  });

  test('matches connectors whose path ends in /v1/messages', () => {
    const http = (url: string) => adapter.matches({ protocol: 'http', url });
    assert.ok(http('https://api.anthropic.com/v1/messages'));
    assert.ok(http('https://gateway.example.com/anthropic/v1/messages/'));
    assert.ok(!http('https://api.openai.com/v1/chat/completions'));
    assert.ok(!http('https://api.anthropic.com/v1/messages/count_tokens'));
    assert.ok(!http('not a url'));
  });
});
