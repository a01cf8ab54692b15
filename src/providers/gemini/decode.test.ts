import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { UpstreamCall } from '../../domain/provider.ts';
import { decodeChunks, providerContract } from '../provider.contract.ts';
import { jsonCall } from '../shared/test-support.ts';
import { adapter } from './index.ts';

const llmInterface = 'gemini/v1beta/generatecontent';
const answer =
  'Café Sprüngli on Bahnhofstrasse is a Zürich classic — try the Luxemburgerli with a cappuccino ☕. Enjoy! 🚀';

providerContract('gemini', {
  adapter,
  llmInterface,
  fixtures: 'gemini',
  cases: [
    {
      fixture: 'text',
      text: answer,
      toolCalls: [],
      finishReason: 'stop',
      usage: { input_tokens: 11, output_tokens: 29, total_tokens: 40 },
    },
    {
      // Gemini sends whole calls without ids (ids are made up) and says STOP when calling tools.
      fixture: 'tool-call',
      text: '',
      toolCalls: [
        {
          index: 0,
          id: 'call_0',
          name: 'get_weather',
          arguments: '{"location":"Paris, France","unit":"celsius"}',
        },
        {
          index: 1,
          id: 'call_1',
          name: 'get_weather',
          arguments: '{"location":"Zürich, Switzerland","unit":"celsius"}',
        },
      ],
      finishReason: 'tool_calls',
      // candidatesTokenCount 38 + thoughtsTokenCount 77.
      usage: { input_tokens: 96, output_tokens: 115, total_tokens: 211 },
    },
    {
      fixture: 'usage',
      text: answer,
      toolCalls: [],
      finishReason: 'stop',
      usage: { input_tokens: 1893, output_tokens: 441, total_tokens: 2334 },
    },
    {
      fixture: 'error-mid-stream',
      text: 'Café Sprüngli on Bahnhofstrasse is',
      error: /^Error from remote service: The model is overloaded\. Please try again later\.$/,
    },
  ],
});

function decode(...chunks: unknown[]) {
  const body = chunks
    .map((chunk) => `data: ${typeof chunk === 'string' ? chunk : JSON.stringify(chunk)}\r\n\r\n`)
    .join('');
  return decodeChunks(adapter, llmInterface, [Buffer.from(body)]);
}

function candidate(parts: unknown[], finishReason?: string) {
  return {
    candidates: [
      { content: { role: 'model', parts }, index: 0, ...(finishReason ? { finishReason } : {}) },
    ],
  };
}

describe('gemini decoder', () => {
  it('reports thought parts as reasoning', () => {
    const result = decode(
      candidate([{ text: 'Let me think.', thought: true }]),
      candidate([{ text: 'Hi' }], 'STOP'),
    );
    assert.deepEqual(result.parts, [
      { type: 'reasoning-delta', text: 'Let me think.' },
      { type: 'text-delta', text: 'Hi' },
      { type: 'finish', finishReason: { unified: 'stop', raw: 'STOP' } },
    ]);
  });

  it('keeps ids Gemini sends and numbers calls across chunks', () => {
    const result = decode(
      candidate([{ functionCall: { id: 'abc', name: 'a', args: { x: 1 } } }]),
      candidate([{ functionCall: { name: 'b' } }], 'STOP'),
    );
    assert.deepEqual(result.parts.slice(0, 2), [
      { type: 'tool-call-delta', index: 0, id: 'abc', name: 'a', argumentsDelta: '{"x":1}' },
      { type: 'tool-call-delta', index: 1, id: 'call_1', name: 'b', argumentsDelta: '{}' },
    ]);
  });

  it('maps finish reasons, keeping the raw value', () => {
    const cases: [string, string][] = [
      ['MAX_TOKENS', 'length'],
      ['SAFETY', 'content_filter'],
      ['RECITATION', 'content_filter'],
      ['MALFORMED_FUNCTION_CALL', 'error'],
      ['FINISH_REASON_UNSPECIFIED', 'other'],
    ];
    for (const [raw, unified] of cases) {
      const result = decode(candidate([], raw));
      assert.deepEqual(result.parts, [{ type: 'finish', finishReason: { unified, raw } }]);
    }
  });

  it('finishes a prompt blocked before any candidate', () => {
    const result = decode({
      promptFeedback: { blockReason: 'SAFETY' },
      usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 },
    });
    assert.deepEqual(result.parts, [
      {
        type: 'finish',
        finishReason: { unified: 'content_filter', raw: 'SAFETY' },
        usage: { input_tokens: 8, output_tokens: 0, total_tokens: 8 },
      },
    ]);
  });

  it('maps error objects to their status', () => {
    const cases: [unknown, number][] = [
      [{ code: 429, message: 'Quota', status: 'RESOURCE_EXHAUSTED' }, 429],
      [{ code: 503, message: 'Overloaded', status: 'UNAVAILABLE' }, 503],
      [{ code: 400, message: 'Bad', status: 'INVALID_ARGUMENT' }, 400],
      [{ code: 500, message: 'Internal', status: 'INTERNAL' }, 502],
    ];
    for (const [error, status] of cases) {
      const result = decode(candidate([{ text: 'a' }]), { error });
      const message = (error as { message: string }).message;
      assert.deepEqual(result.parts.at(-1), {
        type: 'error',
        message: `Error from remote service: ${message}`,
        status,
      });
    }
  });

  it('throws when the body ends before any finishReason', () => {
    const result = decode(candidate([{ text: 'Hi' }]));
    assert.ok(ServiceError.isInstance(result.thrown));
    assert.equal(result.thrown.code, ErrorCode.UpstreamProtocol);
    assert.ok(!result.parts.some((part) => part.type === 'finish'));
  });

  it('refuses chunks without the expected shape', () => {
    for (const chunk of [
      'not json',
      { candidates: {} },
      { candidates: [{ content: { parts: {} } }] },
      candidate([{ functionCall: { args: {} } }]),
      { usageMetadata: 3 },
    ]) {
      const result = decode(chunk);
      assert.ok(ServiceError.isInstance(result.thrown), JSON.stringify(chunk));
      assert.match(result.thrown.message, /^Malformed event from the remote service: /);
    }
  });
});

function call(url: string, body: unknown = { contents: [] }): UpstreamCall {
  return jsonCall(url, body, { 'x-goog-api-key': 'k' });
}

const models = 'https://generativelanguage.googleapis.com/v1beta/models';

describe('gemini request', () => {
  it('switches to streamGenerateContent with alt=sse, keeping the rest of the query', () => {
    const cases: [string, string][] = [
      [
        `${models}/gemini-2.0-flash:generateContent`,
        `${models}/gemini-2.0-flash:streamGenerateContent?alt=sse`,
      ],
      [
        `${models}/gemini-2.0-flash:generateContent?key=AIza%2Bx`,
        `${models}/gemini-2.0-flash:streamGenerateContent?key=AIza%2Bx&alt=sse`,
      ],
      [
        `${models}/gemini-2.0-flash:streamGenerateContent?alt=json&key=k`,
        `${models}/gemini-2.0-flash:streamGenerateContent?key=k&alt=sse`,
      ],
      [
        `${models}/gemini-2.0-flash%3AgenerateContent`,
        `${models}/gemini-2.0-flash%3AstreamGenerateContent?alt=sse`,
      ],
    ];
    for (const [input, expected] of cases) {
      assert.equal(adapter.prepareStream(call(input), llmInterface).url, expected);
    }
  });

  it('asks for an event stream and leaves the body alone', () => {
    const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] });
    const prepared = adapter.prepareStream(call(`${models}/m:generateContent`, body), llmInterface);
    assert.equal(prepared.body, body);
    assert.deepEqual(prepared.headers, { 'x-goog-api-key': 'k', accept: 'text/event-stream' });
  });

  it('refuses more than one candidate and URLs that are not generateContent', () => {
    const isBadRequest = (error: unknown) =>
      ServiceError.isInstance(error) && error.code === ErrorCode.BadRequest;
    assert.throws(
      () =>
        adapter.prepareStream(
          call(`${models}/m:generateContent`, {
            contents: [],
            generationConfig: { candidateCount: 2 },
          }),
          llmInterface,
        ),
      isBadRequest,
    );
    assert.throws(
      () => adapter.prepareStream(call(`${models}/m:countTokens`), llmInterface),
      isBadRequest,
    );
  });

  it('matches connectors whose URL is a generateContent method', () => {
    assert.equal(
      adapter.matches({ protocol: 'http', url: `${models}/m:generateContent?key=k` }),
      true,
    );
    assert.equal(
      adapter.matches({ protocol: 'http', url: `${models}/m:streamGenerateContent` }),
      true,
    );
    assert.equal(adapter.matches({ protocol: 'http', url: `${models}/m:embedContent` }), false);
  });
});
