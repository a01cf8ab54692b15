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

const llmInterface = 'ollama/api/chat';
const answer =
  'Café Sprüngli on Bahnhofstrasse is a Zürich classic — try the Luxemburgerli with a cappuccino ☕. Enjoy! 🚀';

providerContract('ollama', {
  adapter,
  llmInterface,
  fixtures: 'ollama',
  cases: [
    {
      fixture: 'text',
      text: answer,
      toolCalls: [],
      finishReason: 'stop',
      usage: { input_tokens: 34, output_tokens: 28, total_tokens: 62 },
    },
    {
      // Ollama says `stop` while calling tools; the finish is unified to tool_calls.
      fixture: 'tool-call',
      text: '',
      toolCalls: [
        {
          index: 0,
          id: 'call_k3v9x2mq',
          name: 'get_weather',
          arguments: '{"location":"Paris, France","unit":"celsius"}',
        },
        {
          index: 1,
          id: 'call_7tq1zr8w',
          name: 'get_weather',
          arguments: '{"location":"Zürich, Switzerland","unit":"celsius"}',
        },
      ],
      finishReason: 'tool_calls',
      usage: { input_tokens: 212, output_tokens: 61, total_tokens: 273 },
    },
    {
      fixture: 'usage',
      text: answer,
      toolCalls: [],
      finishReason: 'stop',
      usage: { input_tokens: 27, output_tokens: 58, total_tokens: 85 },
    },
    {
      fixture: 'error-mid-stream',
      text: 'Café Sprüngli on Bahnhofstrasse is a',
      error:
        /^Error from remote service: an error was encountered while running the model: unexpected EOF$/,
    },
  ],
});

/** Decodes NDJSON lines (objects are serialised, strings sent as they are). */
function decodeLines(...lines: (object | string)[]) {
  const body = lines.map((line) => `${typeof line === 'string' ? line : JSON.stringify(line)}\n`);
  return decodeChunks(adapter, llmInterface, [Buffer.from(body.join(''))]);
}

const content = (text: string, extra: object = {}) => ({
  model: 'qwen3:8b',
  message: { role: 'assistant', content: text, ...extra },
  done: false,
});
const done = (extra: object = {}) => ({
  model: 'qwen3:8b',
  message: { role: 'assistant', content: '' },
  done: true,
  done_reason: 'stop',
  prompt_eval_count: 4,
  eval_count: 6,
  ...extra,
});

describe('ollama decoder', () => {
  test('agrees with the mock expectations on every fixture', () => {
    assertMockExpectations(adapter, llmInterface, 'ollama');
  });

  test('keeps thinking out of the text', () => {
    const { parts } = decodeChunks(adapter, llmInterface, readStreamFixture('ollama', 'usage'));
    const summary = summarizeParts(parts);
    assert.equal(summary.reasoning, 'Okay, the user wants a café in Zürich.');
    assert.equal(summary.text, answer);
    assert.ok(
      parts.every((part) => !('text' in part) || part.text !== ''),
      'no empty deltas',
    );
  });

  test('emits each whole tool call once, with a generated id when Ollama sends none', () => {
    const weather = { name: 'get_weather', arguments: { location: 'Bern' } };
    const { parts } = decodeLines(
      content('', { tool_calls: [{ function: weather }, { function: { name: 'now' } }] }),
      content('', { tool_calls: [{ function: { name: 'raw', arguments: '{"a":1}' } }] }),
      done(),
    );
    assert.deepEqual(parts, [
      {
        type: 'tool-call-delta',
        index: 0,
        id: 'call_0',
        name: 'get_weather',
        argumentsDelta: '{"location":"Bern"}',
      },
      { type: 'tool-call-delta', index: 1, id: 'call_1', name: 'now', argumentsDelta: '{}' },
      { type: 'tool-call-delta', index: 2, id: 'call_2', name: 'raw', argumentsDelta: '{"a":1}' },
      {
        type: 'finish',
        finishReason: { unified: 'tool_calls', raw: 'stop' },
        usage: { input_tokens: 4, output_tokens: 6, total_tokens: 10 },
      },
    ]);
  });

  test('maps done_reason and tolerates missing counts', () => {
    const length = decodeLines(content('a'), done({ done_reason: 'length' }));
    assert.deepEqual(length.parts.at(-1), {
      type: 'finish',
      finishReason: { unified: 'length', raw: 'length' },
      usage: { input_tokens: 4, output_tokens: 6, total_tokens: 10 },
    });
    const cached = decodeLines(content('a'), done({ prompt_eval_count: undefined }));
    assert.deepEqual(cached.parts.at(-1)?.type === 'finish' && cached.parts.at(-1), {
      type: 'finish',
      finishReason: { unified: 'stop', raw: 'stop' },
      usage: { input_tokens: 0, output_tokens: 6, total_tokens: 6 },
    });
    const bare = decodeLines({ done: true, done_reason: 'load' });
    assert.deepEqual(bare.parts, [
      { type: 'finish', finishReason: { unified: 'other', raw: 'load' } },
    ]);
  });

  test('takes the text that arrives on the done line', () => {
    const { parts } = decodeLines(content('a'), { ...done(), message: { content: 'b' } });
    assert.equal(summarizeParts(parts).text, 'ab');
  });

  test('maps an error line to an error part', () => {
    const { parts, thrown } = decodeLines(content('a'), { error: 'model crashed' }, done());
    assert.equal(thrown, undefined);
    assert.deepEqual(parts, [
      { type: 'text-delta', text: 'a' },
      { type: 'error', message: 'Error from remote service: model crashed', status: 502 },
    ]);
  });

  test('throws when the stream ends without the done line', () => {
    const { parts, thrown } = decodeLines(content('a'), content('b'));
    assertProtocolError(thrown, /ended the stream before the line with "done": true/);
    assert.ok(parts.every((part) => part.type !== 'finish'));
  });

  test('throws on malformed lines instead of skipping them', () => {
    const cases: [object | string, RegExp][] = [
      ['{"message":{"content":"a"', /invalid JSON/],
      ['[1]', /the line is not an object/],
      [{ message: 'text', done: false }, /"message" is not an object/],
      [content('a', { content: 5 }), /"content" is not a string/],
      [content('', { tool_calls: {} }), /"tool_calls" is not an array/],
      [content('', { tool_calls: [{ name: 'f' }] }), /"function" is missing/],
      [content('', { tool_calls: [{ function: { arguments: {} } }] }), /has no function name/],
      [content('', { tool_calls: [{ function: { name: 'f', arguments: 3 } }] }), /"arguments"/],
      [{ done: 'yes' }, /"done" is not a boolean/],
      [done({ eval_count: '6' }), /"eval_count" is not a number/],
    ];
    for (const [line, pattern] of cases) {
      const { thrown } = decodeLines(content('a'), line, done());
      assertProtocolError(
        thrown,
        new RegExp(`^Malformed event from the remote service: .*${pattern.source}`),
      );
    }
  });

  test('ignores anything after the done line', () => {
    const decoder = adapter.createDecoder(llmInterface);
    const parts: StreamPart[] = [];
    const emit = (part: StreamPart) => parts.push(part);
    for (const line of [done(), content('late'), { error: 'late' }, done()]) {
      decoder.decode({ framing: 'ndjson', line: JSON.stringify(line) }, emit);
    }
    decoder.end(emit);
    assert.equal(parts.length, 1);
    assert.equal(parts[0]?.type, 'finish');
  });
});

describe('ollama prepareStream', () => {
  const call = (body: string): UpstreamCall => ({
    method: 'POST',
    url: 'http://localhost:11434/api/chat',
    headers: { 'content-type': 'application/json' },
    body,
  });

  test('sets stream: true and leaves the rest of the call alone', () => {
    const prepared = adapter.prepareStream(
      call('{"model":"llama3.2","stream":false,"messages":[]}'),
      llmInterface,
    );
    assert.deepEqual(prepared, {
      ...call('{"model":"llama3.2","stream":true,"messages":[]}'),
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

  test('matches connectors whose path ends in /api/chat', () => {
    const http = (url: string) => adapter.matches({ protocol: 'http', url });
    assert.ok(http('http://localhost:11434/api/chat'));
    assert.ok(http('https://ollama.internal/api/chat/'));
    assert.ok(!http('http://localhost:11434/v1/chat/completions'));
    assert.ok(!http('http://localhost:11434/api/generate'));
  });
});
