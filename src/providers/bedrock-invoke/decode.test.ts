import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { StreamPart } from '../../domain/stream-part.ts';
import { providerContract } from '../provider.contract.ts';
import {
  jsonCall as call,
  decodeFrames,
  eventFrame,
  exceptionFrame,
  type TestFrame,
} from '../shared/test-support.ts';
import { adapter } from './index.ts';

const llmInterface = 'bedrock/invoke/claude';
const answer =
  'Café Sprüngli on Bahnhofstrasse is a Zürich classic — try the Luxemburgerli with a cappuccino ☕. Enjoy! 🚀';

providerContract('bedrock-invoke', {
  adapter,
  llmInterface,
  fixtures: 'bedrock-invoke',
  cases: [
    {
      fixture: 'text',
      text: answer,
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
      // input_tokens 12 + cache_read_input_tokens 1864.
      fixture: 'usage',
      text: answer,
      toolCalls: [],
      finishReason: 'stop',
      usage: { input_tokens: 1876, output_tokens: 32, total_tokens: 1908 },
    },
    {
      fixture: 'error-mid-stream',
      text: 'Café Sprüngli on Bahnhofstrasse is a Zürich classic — try the Luxemburgerli',
      error:
        /^Error from remote service: Model stream error: the model returned an overloaded_error while streaming\.$/,
    },
  ],
});

/** A `chunk` frame wrapping one Anthropic event, base64 as Bedrock sends it. */
function chunk(anthropicEvent: unknown): TestFrame {
  const bytes = Buffer.from(JSON.stringify(anthropicEvent)).toString('base64');
  return eventFrame('chunk', { bytes });
}

function exception(exceptionType: string, message: string): TestFrame {
  return exceptionFrame(exceptionType, { message });
}

function decode(frames: TestFrame[]) {
  return decodeFrames(adapter, llmInterface, frames);
}

const messageStart = chunk({
  type: 'message_start',
  message: { role: 'assistant', usage: { input_tokens: 10, output_tokens: 1 } },
});
const messageStop = chunk({ type: 'message_stop' });

describe('bedrock-invoke decoder', () => {
  it('reports thinking as reasoning, apart from the answer', () => {
    const result = decode([
      messageStart,
      chunk({
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'thinking', thinking: '' },
      }),
      chunk({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'thinking_delta', thinking: 'Hmm.' },
      }),
      chunk({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'signature_delta', signature: 'x' },
      }),
      chunk({ type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }),
      chunk({ type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Hi' } }),
      chunk({
        type: 'message_delta',
        delta: { stop_reason: 'end_turn' },
        usage: { output_tokens: 4 },
      }),
      messageStop,
    ]);
    assert.equal(result.thrown, undefined);
    assert.deepEqual(result.parts, [
      { type: 'reasoning-delta', text: 'Hmm.' },
      { type: 'text-delta', text: 'Hi' },
      {
        type: 'finish',
        finishReason: { unified: 'stop', raw: 'end_turn' },
        usage: { input_tokens: 10, output_tokens: 4, total_tokens: 14 },
      },
    ]);
  });

  it('falls back to the invocation metrics when the events carry no usage', () => {
    const result = decode([
      chunk({ type: 'message_start', message: { role: 'assistant' } }),
      chunk({ type: 'message_delta', delta: { stop_reason: 'max_tokens' } }),
      chunk({
        type: 'message_stop',
        'amazon-bedrock-invocationMetrics': {
          inputTokenCount: 7,
          outputTokenCount: 3,
          cacheReadInputTokenCount: 100,
        },
      }),
    ]);
    assert.deepEqual(result.parts, [
      {
        type: 'finish',
        finishReason: { unified: 'length', raw: 'max_tokens' },
        usage: { input_tokens: 107, output_tokens: 3, total_tokens: 110 },
      },
    ]);
  });

  it('maps each exception type to its status', () => {
    const cases: [string, string, number][] = [
      ['throttlingException', 'Rate exceeded', 429],
      ['serviceUnavailableException', 'Bedrock is unavailable', 503],
      ['validationException', 'max_tokens: Field required', 400],
      ['internalServerException', 'Internal failure', 502],
      ['modelStreamErrorException', 'Too many requests, please wait', 429],
    ];
    for (const [name, message, status] of cases) {
      const result = decode([messageStart, exception(name, message)]);
      assert.deepEqual(result.parts, [
        { type: 'error', message: `Error from remote service: ${message}`, status },
      ]);
    }
  });

  it('maps an Anthropic error event inside a chunk', () => {
    const cases: [string, number][] = [
      ['overloaded_error', 503],
      ['rate_limit_error', 429],
      ['invalid_request_error', 400],
      ['api_error', 502],
    ];
    for (const [type, status] of cases) {
      const result = decode([
        messageStart,
        chunk({ type: 'error', error: { type, message: `${type} happened` } }),
      ]);
      const expected: StreamPart = {
        type: 'error',
        message: `Error from remote service: ${type} happened`,
        status,
      };
      assert.deepEqual(result.parts, [expected]);
    }
  });

  it('throws when the body ends before message_stop', () => {
    const result = decode([
      messageStart,
      chunk({
        type: 'message_delta',
        delta: { stop_reason: 'end_turn' },
        usage: { output_tokens: 2 },
      }),
    ]);
    assert.ok(ServiceError.isInstance(result.thrown));
    assert.equal(result.thrown.code, ErrorCode.UpstreamProtocol);
    assert.deepEqual(result.parts, []);
  });

  it('refuses chunks that are not base64 JSON events', () => {
    for (const payload of [
      '{"bytes": 1}',
      JSON.stringify({ bytes: 'bm90IGpzb24=' }),
      '{"bytes":',
    ]) {
      const result = decode([
        { headers: { ':message-type': 'event', ':event-type': 'chunk' }, payload },
      ]);
      assert.ok(ServiceError.isInstance(result.thrown), payload);
      assert.match(result.thrown.message, /^Malformed event from the remote service: /);
    }
  });

  it('refuses tool input for a block that started no tool call', () => {
    const result = decode([
      chunk({
        type: 'content_block_delta',
        index: 3,
        delta: { type: 'input_json_delta', partial_json: '{}' },
      }),
    ]);
    assert.ok(ServiceError.isInstance(result.thrown));
    assert.equal(result.thrown.code, ErrorCode.UpstreamProtocol);
  });

  it('ignores ping and unknown events', () => {
    const result = decode([
      chunk({ type: 'ping' }),
      chunk({ type: 'something_new', data: 1 }),
      { headers: { ':message-type': 'event', ':event-type': 'other' }, payload: 'x' },
      messageStop,
    ]);
    assert.equal(result.thrown, undefined);
    assert.deepEqual(result.parts, [
      { type: 'finish', finishReason: { unified: 'other', raw: undefined } },
    ]);
  });
});

const baseUrl = 'https://bedrock-runtime.us-east-1.amazonaws.com/model';

describe('bedrock-invoke request', () => {
  const body = { max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] };

  it('switches /invoke to /invoke-with-response-stream, keeping the model id and the query', () => {
    const cases: [string, string][] = [
      [
        `${baseUrl}/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke`,
        `${baseUrl}/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke-with-response-stream`,
      ],
      [
        `${baseUrl}/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke?x=1`,
        `${baseUrl}/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke-with-response-stream?x=1`,
      ],
      [`${baseUrl}/m:0/invoke-with-response-stream`, `${baseUrl}/m:0/invoke-with-response-stream`],
    ];
    for (const [input, expected] of cases) {
      assert.equal(adapter.prepareStream(call(input, body), llmInterface).url, expected);
    }
    assert.throws(
      () => adapter.prepareStream(call(`${baseUrl}/m/converse`, body), llmInterface),
      (error: unknown) => ServiceError.isInstance(error) && error.code === ErrorCode.BadRequest,
    );
  });

  it('adds anthropic_version when absent and never adds stream', () => {
    const prepared = adapter.prepareStream(call(`${baseUrl}/m/invoke`, body), llmInterface);
    assert.deepEqual(JSON.parse(prepared.body), {
      anthropic_version: 'bedrock-2023-05-31',
      ...body,
    });
    assert.deepEqual(prepared.headers, {
      'content-type': 'application/json',
      accept: 'application/vnd.amazon.eventstream',
    });
  });

  it('keeps a body that already names its version byte for byte', () => {
    const text = JSON.stringify({
      anthropic_version: 'bedrock-2023-05-31',
      ...body,
      system: 'Be brief.',
    });
    assert.equal(adapter.prepareStream(call(`${baseUrl}/m/invoke`, text), llmInterface).body, text);
  });

  it('drops a stream key, which Bedrock refuses', () => {
    const prepared = adapter.prepareStream(
      call(`${baseUrl}/m/invoke`, {
        anthropic_version: 'bedrock-2023-05-31',
        ...body,
        stream: true,
      }),
      llmInterface,
    );
    assert.deepEqual(JSON.parse(prepared.body), {
      anthropic_version: 'bedrock-2023-05-31',
      ...body,
    });
  });

  it('matches SigV4 connectors whose URL is an InvokeModel endpoint', () => {
    assert.equal(adapter.matches({ protocol: 'aws_sigv4', url: `${baseUrl}/m:0/invoke` }), true);
    assert.equal(
      adapter.matches({ protocol: 'aws_sigv4', url: `${baseUrl}/m:0/invoke-with-response-stream` }),
      true,
    );
    assert.equal(adapter.matches({ protocol: 'http', url: `${baseUrl}/m:0/invoke` }), false);
    assert.equal(adapter.matches({ protocol: 'aws_sigv4', url: `${baseUrl}/m:0/converse` }), false);
  });
});
