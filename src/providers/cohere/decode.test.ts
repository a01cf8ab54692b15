import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readStreamFixtureBody } from '../../../test/mock-provider/fixtures.ts';
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { UpstreamCall } from '../../domain/provider.ts';
import { decodeChunks, providerContract } from '../provider.contract.ts';
import { jsonCall } from '../shared/test-support.ts';
import { adapter } from './index.ts';

const llmInterface = 'cohere/v2/chat';
const answer =
  'Café Sprüngli on Bahnhofstrasse is a Zürich classic — try the Luxemburgerli with a cappuccino ☕. Enjoy! 🚀';

providerContract('cohere', {
  adapter,
  llmInterface,
  fixtures: 'cohere',
  cases: [
    {
      fixture: 'text',
      text: answer,
      toolCalls: [],
      finishReason: 'stop',
      usage: { input_tokens: 205, output_tokens: 27, total_tokens: 232 },
    },
    {
      // The tool plan is reasoning, so the answer text stays empty.
      fixture: 'tool-call',
      text: '',
      toolCalls: [
        {
          index: 0,
          id: 'get_weather_7m2kq9xv4n1p',
          name: 'get_weather',
          arguments: '{\n    "location": "Paris, France",\n    "unit": "celsius"\n}',
        },
        {
          index: 1,
          id: 'get_weather_3hz8wt5yb6rc',
          name: 'get_weather',
          arguments: '{\n    "location": "Zürich, Switzerland",\n    "unit": "celsius"\n}',
        },
      ],
      finishReason: 'tool_calls',
      usage: { input_tokens: 1106, output_tokens: 89, total_tokens: 1195 },
    },
    {
      // `tokens`, not `billed_units` (41 in, 27 out).
      fixture: 'usage',
      text: answer,
      toolCalls: [],
      finishReason: 'stop',
      usage: { input_tokens: 1523, output_tokens: 27, total_tokens: 1550 },
    },
    {
      fixture: 'error-mid-stream',
      text: 'Café Sprüngli on Bahnhofstrasse is a',
      error:
        /^Error from remote service: internal server error, this has been reported to our developers\. id c47e9b13-2d8f-4a6c-b5e0-8f1a3d7c9e62$/,
    },
  ],
});

function sse(...events: unknown[]): Uint8Array {
  const text = events
    .map((event) => `data: ${typeof event === 'string' ? event : JSON.stringify(event)}\n\n`)
    .join('');
  return Buffer.from(text);
}

function decode(...events: unknown[]) {
  return decodeChunks(adapter, llmInterface, [sse(...events)]);
}

const messageEnd = {
  type: 'message-end',
  delta: {
    finish_reason: 'MAX_TOKENS',
    usage: { billed_units: { input_tokens: 3, output_tokens: 4 } },
  },
};

describe('cohere decoder', () => {
  it('reports the tool plan as reasoning', () => {
    const result = decodeChunks(adapter, llmInterface, [
      readStreamFixtureBody('cohere', 'tool-call'),
    ]);
    const reasoning = result.parts
      .map((part) => (part.type === 'reasoning-delta' ? part.text : ''))
      .join('');
    assert.equal(reasoning, 'I will look up the weather in Paris and Zürich.');
  });

  it('reports thinking content as reasoning', () => {
    const result = decode(
      {
        type: 'content-start',
        index: 0,
        delta: { message: { content: { type: 'thinking', thinking: '' } } },
      },
      { type: 'content-delta', index: 0, delta: { message: { content: { thinking: 'Hmm.' } } } },
      { type: 'content-delta', index: 1, delta: { message: { content: { text: 'Hi' } } } },
      messageEnd,
      '[DONE]',
    );
    assert.deepEqual(result.parts.slice(0, 2), [
      { type: 'reasoning-delta', text: 'Hmm.' },
      { type: 'text-delta', text: 'Hi' },
    ]);
  });

  it('falls back to billed units and keeps the raw finish reason', () => {
    const result = decode(messageEnd, '[DONE]');
    assert.deepEqual(result.parts, [
      {
        type: 'finish',
        finishReason: { unified: 'length', raw: 'MAX_TOKENS' },
        usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7 },
      },
    ]);
  });

  it('reads the type from the SSE event name when the JSON has none', () => {
    const body = Buffer.from(
      'event: content-delta\ndata: {"delta":{"message":{"content":{"text":"Hi"}}}}\n\n',
    );
    const result = decodeChunks(adapter, llmInterface, [body, sse(messageEnd, '[DONE]')]);
    assert.deepEqual(result.parts[0], { type: 'text-delta', text: 'Hi' });
  });

  it('reports a failed generation as an error, never as a finish', () => {
    const cases: [unknown, string, number][] = [
      [{ finish_reason: 'ERROR' }, 'the model stopped with ERROR', 502],
      [
        { error: 'Too many requests, slow down', finish_reason: 'ERROR' },
        'Too many requests, slow down',
        429,
      ],
    ];
    for (const [delta, message, status] of cases) {
      const result = decode({ type: 'message-end', delta });
      assert.deepEqual(result.parts, [
        { type: 'error', message: `Error from remote service: ${message}`, status },
      ]);
    }
  });

  it('throws when the body ends before message-end or before [DONE]', () => {
    for (const events of [
      [{ type: 'content-delta', index: 0, delta: { message: { content: { text: 'Hi' } } } }],
      [messageEnd],
    ]) {
      const result = decode(...events);
      assert.ok(ServiceError.isInstance(result.thrown));
      assert.equal(result.thrown.code, ErrorCode.UpstreamProtocol);
      assert.ok(!result.parts.some((part) => part.type === 'finish'));
    }
  });

  it('refuses [DONE] before message-end', () => {
    const result = decode('[DONE]');
    assert.ok(ServiceError.isInstance(result.thrown));
    assert.equal(result.thrown.code, ErrorCode.UpstreamProtocol);
  });

  it('refuses events without their required shape', () => {
    for (const event of [
      'not json',
      { delta: {} },
      { type: 'content-delta', delta: { message: {} } },
      {
        type: 'tool-call-delta',
        index: 4,
        delta: { message: { tool_calls: { function: { arguments: '{' } } } },
      },
      { type: 'tool-call-start', index: 0, delta: { message: { tool_calls: { function: {} } } } },
    ]) {
      const result = decode(event);
      assert.ok(ServiceError.isInstance(result.thrown), JSON.stringify(event));
      assert.match(result.thrown.message, /^Malformed event from the remote service: /);
    }
  });

  it('ignores unknown events', () => {
    const result = decode({ type: 'something-new', delta: 1 }, messageEnd, '[DONE]');
    assert.equal(result.thrown, undefined);
    assert.equal(result.parts.length, 1);
  });
});

function call(body: unknown, headers: Record<string, string> = {}): UpstreamCall {
  return jsonCall('https://api.cohere.com/v2/chat', body, headers);
}

describe('cohere request', () => {
  it('asks for a stream in the body and the Accept header', () => {
    const body = { model: 'command-a-03-2025', messages: [{ role: 'user', content: 'Hi' }] };
    const prepared = adapter.prepareStream(
      call({ ...body, stream: false }, { Authorization: 'Bearer k', Accept: 'application/json' }),
      llmInterface,
    );
    assert.deepEqual(JSON.parse(prepared.body), { ...body, stream: true });
    assert.deepEqual(prepared.headers, { Authorization: 'Bearer k', accept: 'text/event-stream' });
    assert.equal(prepared.url, 'https://api.cohere.com/v2/chat');
  });

  it('refuses a body that is not a JSON object', () => {
    assert.throws(
      () => adapter.prepareStream(call('[]'), llmInterface),
      (error: unknown) => ServiceError.isInstance(error) && error.code === ErrorCode.BadRequest,
    );
  });

  it('matches connectors whose URL is the v2 chat endpoint', () => {
    assert.equal(
      adapter.matches({ protocol: 'http', url: 'https://api.cohere.com/v2/chat' }),
      true,
    );
    assert.equal(
      adapter.matches({ protocol: 'http', url: 'https://api.cohere.com/v1/chat' }),
      false,
    );
    assert.equal(
      adapter.matches({ protocol: 'http', url: 'https://api.openai.com/v1/chat/completions' }),
      false,
    );
  });
});
