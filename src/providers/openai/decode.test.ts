import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { summarizeParts } from '../../../test/mock-provider/expected.ts';
import { readStreamFixture } from '../../../test/mock-provider/fixtures.ts';
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { UpstreamCall } from '../../domain/provider.ts';
import type { StreamPart } from '../../domain/stream-part.ts';
import { decodeChunks, providerContract } from '../provider.contract.ts';
import { assertMockExpectations, assertProtocolError, jsonCall } from '../shared/test-support.ts';
import { adapter } from './index.ts';

const llmInterface = 'openai/v1/chat/completions';
const answer =
  'Café Sprüngli on Bahnhofstrasse is a Zürich classic — try the Luxemburgerli with a cappuccino ☕. Enjoy! 🚀';

providerContract('openai', {
  adapter,
  llmInterface,
  fixtures: 'openai',
  cases: [
    { fixture: 'text', text: answer, toolCalls: [], finishReason: 'stop' },
    {
      fixture: 'tool-call',
      text: '',
      toolCalls: [
        {
          index: 0,
          id: 'call_OJ1pXq8kHqZ0b7mWvY3nT2sR',
          name: 'get_weather',
          arguments: '{"location":"Paris, France","unit":"celsius"}',
        },
        {
          index: 1,
          id: 'call_9Zk2VfLr4cQeHs7dUa1wBx6N',
          name: 'get_weather',
          arguments: '{"location":"Zürich, Switzerland","unit":"celsius"}',
        },
      ],
      finishReason: 'tool_calls',
    },
    {
      fixture: 'usage',
      text: answer,
      finishReason: 'stop',
      usage: { input_tokens: 19, output_tokens: 27, total_tokens: 46 },
    },
    {
      fixture: 'error-mid-stream',
      text: 'Café Sprüngli on Bahnhofstrasse is a Zürich',
      error:
        /^Error from remote service: The server had an error while processing your request\. Sorry about that!$/,
    },
  ],
});

/** Decodes SSE `data:` payloads (one event each) through the real framing. */
function decodeData(...data: string[]) {
  const body = data.map((item) => `data: ${item}\n\n`).join('');
  return decodeChunks(adapter, llmInterface, [Buffer.from(body)]);
}

const chunk = (delta: object, finishReason: string | null = null, extra: object = {}) =>
  JSON.stringify({
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, finish_reason: finishReason }],
    ...extra,
  });

function finishOf(parts: StreamPart[]) {
  const last = parts.at(-1);
  assert.equal(last?.type, 'finish');
  return last?.type === 'finish' ? last : assert.fail('no finish part');
}

describe('openai decoder', () => {
  test('agrees with the mock expectations on every fixture', () => {
    assertMockExpectations(adapter, llmInterface, 'openai');
  });

  test('emits no usage when the provider reported none, and keeps the raw finish reason', () => {
    const { parts } = decodeChunks(adapter, llmInterface, readStreamFixture('openai', 'text'));
    assert.deepEqual(finishOf(parts), {
      type: 'finish',
      finishReason: { unified: 'stop', raw: 'stop' },
    });
    assert.ok(parts.every((part) => part.type !== 'text-delta' || part.text !== ''));
  });

  test('keeps usage from a chunk that also carries choices', () => {
    const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
    const { parts, thrown } = decodeData(
      chunk({ content: 'Hi' }),
      chunk({ content: '!' }, 'length', { usage }),
      '[DONE]',
    );
    assert.equal(thrown, undefined);
    assert.deepEqual(parts, [
      { type: 'text-delta', text: 'Hi' },
      { type: 'text-delta', text: '!' },
      {
        type: 'finish',
        finishReason: { unified: 'length', raw: 'length' },
        usage: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
      },
    ]);
  });

  test('takes the last usage reported and adds up a missing total', () => {
    const { parts } = decodeData(
      chunk({ content: 'a' }, null, { usage: { prompt_tokens: 3, completion_tokens: 1 } }),
      chunk({}, 'stop', { usage: { prompt_tokens: 3, completion_tokens: 2 } }),
      '[DONE]',
    );
    assert.deepEqual(finishOf(parts).usage, { input_tokens: 3, output_tokens: 2, total_tokens: 5 });
  });

  test('emits reasoning apart from the text, once even when vLLM sends both names', () => {
    const { parts } = decodeData(
      chunk({ reasoning_content: 'Think', reasoning: 'Think' }),
      chunk({ reasoning: ' more' }),
      chunk({ content: 'Answer', reasoning_content: null }),
      chunk({}, 'stop'),
      '[DONE]',
    );
    assert.deepEqual(parts.slice(0, -1), [
      { type: 'reasoning-delta', text: 'Think' },
      { type: 'reasoning-delta', text: ' more' },
      { type: 'text-delta', text: 'Answer' },
    ]);
  });

  test('keeps interleaved parallel tool calls apart, with id and name only on the first fragment', () => {
    const call = (index: number, fields: object) => chunk({ tool_calls: [{ index, ...fields }] });
    const { parts } = decodeData(
      call(0, { id: 'a', type: 'function', function: { name: 'f', arguments: '' } }),
      call(1, { id: 'b', type: 'function', function: { name: 'g', arguments: '{"y"' } }),
      call(0, { function: { arguments: '{"x":1}' } }),
      // Some compatible servers repeat id and name on every fragment.
      call(1, { id: 'b', function: { name: 'g', arguments: ':2}' } }),
      call(1, { function: { arguments: '' } }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    );
    assert.deepEqual(parts, [
      { type: 'tool-call-delta', index: 0, id: 'a', name: 'f', argumentsDelta: '' },
      { type: 'tool-call-delta', index: 1, id: 'b', name: 'g', argumentsDelta: '{"y"' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '{"x":1}' },
      { type: 'tool-call-delta', index: 1, argumentsDelta: ':2}' },
      { type: 'finish', finishReason: { unified: 'tool_calls', raw: 'tool_calls' } },
    ]);
  });

  test('separates calls that omit their index or reuse one for a new id', () => {
    const { parts } = decodeData(
      chunk({ tool_calls: [{ id: 'a', function: { name: 'f', arguments: '{}' } }] }),
      chunk({ tool_calls: [{ id: 'b', function: { name: 'g', arguments: '{' } }] }),
      chunk({ tool_calls: [{ function: { arguments: '}' } }] }),
      chunk({ tool_calls: [{ index: 0, id: 'c', function: { name: 'h', arguments: '{}' } }] }),
      chunk({ tool_calls: [{ index: 0, id: 'd', function: { name: 'h', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'),
      '[DONE]',
    );
    assert.deepEqual(
      parts.filter((part) => part.type === 'tool-call-delta').map((part) => [part.index, part.id]),
      [
        [0, 'a'],
        [1, 'b'],
        [1, undefined],
        [2, 'c'],
        [3, 'd'],
      ],
    );
  });

  test('reads the deprecated function_call delta as a tool call', () => {
    const { parts } = decodeData(
      chunk({ function_call: { name: 'f', arguments: '' } }),
      chunk({ function_call: { arguments: '{}' } }),
      chunk({}, 'function_call'),
      '[DONE]',
    );
    assert.deepEqual(parts, [
      { type: 'tool-call-delta', index: 0, name: 'f', argumentsDelta: '' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '{}' },
      { type: 'finish', finishReason: { unified: 'tool_calls', raw: 'function_call' } },
    ]);
  });

  test('passes a refusal on as text, and maps content_filter', () => {
    const { parts } = decodeData(
      chunk({ content: null, refusal: "I can't help" }),
      chunk({}, 'content_filter'),
      '[DONE]',
    );
    assert.deepEqual(parts, [
      { type: 'text-delta', text: "I can't help" },
      { type: 'finish', finishReason: { unified: 'content_filter', raw: 'content_filter' } },
    ]);
  });

  test('ignores Azure filter chunks without choices or delta, and empty events', () => {
    const { parts, thrown } = decodeData(
      JSON.stringify({ choices: [], prompt_filter_results: [{ prompt_index: 0 }] }),
      '',
      JSON.stringify({ choices: [{ index: 0, content_filter_results: {} }] }),
      chunk({ content: 'ok' }, 'stop'),
      '[DONE]',
    );
    assert.equal(thrown, undefined);
    assert.deepEqual(summarizeParts(parts).text, 'ok');
    assert.equal(finishOf(parts).finishReason.unified, 'stop');
  });

  test('maps in-stream errors to an error part with a sensible status', () => {
    const cases: [string, RegExp, number][] = [
      [
        '{"error":{"message":"Rate limit reached","type":"tokens","code":"rate_limit_exceeded"}}',
        /^Error from remote service: Rate limit reached$/,
        429,
      ],
      ['{"error":{"message":"busy","type":"server_overloaded"}}', /: busy$/, 503],
      ['{"error":{"message":"boom","type":"server_error","code":null}}', /: boom$/, 502],
      ['{"object":"error","message":"bad","type":"BadRequestError","code":400}', /: bad$/, 502],
      ['{"error":{"code":429}}', /: unknown error$/, 429],
      ['{"error":"plain words"}', /: plain words$/, 502],
    ];
    for (const [data, message, status] of cases) {
      const { parts, thrown } = decodeData(chunk({ content: 'a' }), data, '[DONE]');
      assert.equal(thrown, undefined);
      const last = parts.at(-1);
      assert.equal(last?.type, 'error', data);
      if (last?.type === 'error') {
        assert.match(last.message, message);
        assert.equal(last.status, status, data);
      }
      assert.equal(parts.length, 2, 'nothing after the error');
    }
  });

  test('reports an `event: error` as the provider error, whatever its data', () => {
    const cases: [string, string][] = [
      ['upstream exploded', 'upstream exploded'],
      ['{"message":"flat"}', 'flat'],
      ['{"error":{"message":"nested"}}', 'nested'],
    ];
    for (const [data, message] of cases) {
      const body = `data: ${chunk({ content: 'a' })}\n\nevent: error\ndata: ${data}\n\n`;
      const { parts } = decodeChunks(adapter, llmInterface, [Buffer.from(body)]);
      assert.deepEqual(parts.at(-1), {
        type: 'error',
        message: `Error from remote service: ${message}`,
        status: 502,
      });
    }
  });

  test('throws when the stream ends without [DONE], even after finish_reason and usage', () => {
    const usage = { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 };
    const { parts, thrown } = decodeData(chunk({ content: 'a' }), chunk({}, 'stop', { usage }));
    assertProtocolError(thrown, /ended the stream before data: \[DONE\]/);
    assert.ok(parts.every((part) => part.type !== 'finish'));
  });

  test('throws on malformed events instead of skipping them', () => {
    const cases: [string, RegExp][] = [
      [
        '{"choices":[{"delta":{"content":"a"',
        /^Malformed event from the remote service: invalid JSON/,
      ],
      ['[1,2]', /the event is not an object/],
      ['"text"', /the event is not an object/],
      ['{"choices":{}}', /"choices" is not an array/],
      ['{"choices":[1]}', /choices\[0\] is not an object/],
      [chunk({ content: 5 }), /"content" is not a string/],
      [chunk({ tool_calls: [{ index: '0' }] }), /"index" is not a number/],
      [chunk({}, null, { usage: { prompt_tokens: '3' } }), /"prompt_tokens" is not a number/],
    ];
    for (const [data, pattern] of cases) {
      assertProtocolError(decodeData(chunk({ content: 'a' }), data, '[DONE]').thrown, pattern);
    }
  });

  test('ignores anything after [DONE] and emits exactly one finish', () => {
    const decoder = adapter.createDecoder(llmInterface);
    const parts: StreamPart[] = [];
    const emit = (part: StreamPart) => parts.push(part);
    for (const data of [
      chunk({ content: 'a' }, 'stop'),
      '[DONE]',
      chunk({ content: 'b' }),
      '[DONE]',
    ]) {
      decoder.decode({ framing: 'sse', event: undefined, data, id: undefined }, emit);
    }
    decoder.end(emit);
    assert.deepEqual(parts, [
      { type: 'text-delta', text: 'a' },
      { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' } },
    ]);
  });
});

describe('openai prepareStream', () => {
  const call = (body: unknown, headers: Record<string, string> = {}): UpstreamCall =>
    jsonCall('https://api.openai.com/v1/chat/completions', body, {
      'content-type': 'application/json',
      authorization: 'Bearer k',
      ...headers,
    });

  test('asks for a stream with usage, keeping the caller stream_options and headers', () => {
    const prepared = adapter.prepareStream(
      call(
        { model: 'gpt-4.1', stream: false, stream_options: { include_obfuscation: false }, n: 1 },
        { Accept: 'application/json' },
      ),
      llmInterface,
    );
    assert.deepEqual(JSON.parse(prepared.body), {
      model: 'gpt-4.1',
      stream: true,
      stream_options: { include_obfuscation: false, include_usage: true },
      n: 1,
    });
    assert.deepEqual(prepared.headers, {
      'content-type': 'application/json',
      authorization: 'Bearer k',
      accept: 'text/event-stream',
    });
    assert.equal(prepared.url, 'https://api.openai.com/v1/chat/completions');
    assert.equal(prepared.method, 'POST');
  });

  test('overrides include_usage: false and a stream_options that is not an object', () => {
    for (const streamOptions of [{ include_usage: false }, null, 'yes']) {
      const prepared = adapter.prepareStream(
        call({ model: 'm', stream_options: streamOptions }),
        llmInterface,
      );
      assert.deepEqual(JSON.parse(prepared.body).stream_options, { include_usage: true });
    }
  });

  test('refuses n > 1 and bodies that are not JSON objects', () => {
    const isBadRequest = (pattern: RegExp) => (error: unknown) =>
      ServiceError.isInstance(error) &&
      error.code === ErrorCode.BadRequest &&
      pattern.test(error.message);
    assert.throws(
      () => adapter.prepareStream(call({ model: 'm', n: 2 }), llmInterface),
      isBadRequest(/^n > 1 is not supported for streaming: the request asks for 2 choices/),
    );
    for (const body of ['', 'not json', '[1]', 'null', '"text"']) {
      assert.throws(
        () => adapter.prepareStream(call(body), llmInterface),
        isBadRequest(/must be a JSON object to stream from openai\/v1\/chat\/completions/),
        body,
      );
    }
  });

  test('matches http connectors whose path ends in /chat/completions', () => {
    const http = (url: string) => adapter.matches({ protocol: 'http', url });
    assert.ok(http('https://api.openai.com/v1/chat/completions'));
    assert.ok(
      http(
        'https://x.openai.azure.com/openai/deployments/gpt4/chat/completions?api-version=2024-10-21',
      ),
    );
    assert.ok(http('https://api.deepseek.com/chat/completions'));
    assert.ok(http('http://vllm:8000/v1/chat/completions/'));
    assert.ok(http('http://localhost:11434/v1/chat/completions'));
    assert.ok(!http('https://api.anthropic.com/v1/messages'));
    assert.ok(!http('http://localhost:11434/api/chat'));
    assert.ok(!http('/v1/chat/completions'));
    assert.ok(!http('https://example.com/v1/chat/completions-proxy'));
    assert.ok(
      !adapter.matches({ protocol: 'aws_sigv4', url: 'https://example.com/v1/chat/completions' }),
    );
  });
});
