import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import { providerContract } from '../provider.contract.ts';
import {
  jsonCall as call,
  decodeFrames,
  eventFrame as event,
  exceptionFrame as exception,
  type TestFrame,
} from '../shared/test-support.ts';
import { adapter } from './index.ts';

const llmInterface = 'bedrock/converse/claude';
const answer =
  'Café Sprüngli on Bahnhofstrasse is a Zürich classic — try the Luxemburgerli with a cappuccino ☕. Enjoy! 🚀';

providerContract('bedrock-converse', {
  adapter,
  llmInterface,
  fixtures: 'bedrock-converse',
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
          id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q',
          name: 'get_weather',
          arguments: '{"location": "Paris, France", "unit": "celsius"}',
        },
        {
          index: 1,
          id: 'tooluse_3Xb8QmTnR2yWcV5pLk9sHd',
          name: 'get_weather',
          arguments: '{"location": "Zürich, Switzerland", "unit": "celsius"}',
        },
      ],
      finishReason: 'tool_calls',
      usage: { input_tokens: 598, output_tokens: 121, total_tokens: 719 },
    },
    {
      // inputTokens 12 + cacheReadInputTokens 1864; totalTokens as Bedrock reports it.
      fixture: 'usage',
      text: answer,
      toolCalls: [],
      finishReason: 'stop',
      usage: { input_tokens: 1876, output_tokens: 32, total_tokens: 1908 },
    },
    {
      fixture: 'error-mid-stream',
      text: 'Café Sprüngli on Bahnhofstrasse is a Zürich classic —',
      error: /^Error from remote service: Too many tokens, please wait before trying again\.$/,
    },
  ],
});

function decode(frames: TestFrame[]) {
  return decodeFrames(adapter, llmInterface, frames);
}

const stop = event('messageStop', { stopReason: 'end_turn' });
const metadata = event('metadata', {
  usage: { inputTokens: 5, outputTokens: 7, totalTokens: 12 },
  metrics: { latencyMs: 10 },
});

describe('bedrock-converse decoder', () => {
  it('maps each exception type to its status', () => {
    const cases: [string, string, number][] = [
      ['throttlingException', 'Too many tokens', 429],
      ['serviceUnavailableException', 'Service is unavailable', 503],
      ['validationException', 'The model returned a validation error', 400],
      ['internalServerException', 'Internal failure', 502],
      ['modelStreamErrorException', 'Rate exceeded', 429],
      ['modelTimeoutException', 'Model timed out', 502],
    ];
    for (const [name, message, status] of cases) {
      const result = decode([
        event('messageStart', { role: 'assistant' }),
        exception(name, { message }),
      ]);
      assert.equal(result.thrown, undefined);
      assert.deepEqual(result.parts, [
        { type: 'error', message: `Error from remote service: ${message}`, status },
      ]);
    }
  });

  it('reads the model status of a model stream error', () => {
    const result = decode([
      exception('modelStreamErrorException', {
        message: 'Model stream error',
        originalMessage: 'Overloaded',
        originalStatusCode: 529,
      }),
    ]);
    assert.deepEqual(result.parts, [
      { type: 'error', message: 'Error from remote service: Model stream error', status: 503 },
    ]);
  });

  it('reports an exception whose payload is unreadable under its type name', () => {
    const result = decode([exception('internalServerException', 'not json')]);
    assert.deepEqual(result.parts, [
      { type: 'error', message: 'Error from remote service: internalServerException', status: 502 },
    ]);
  });

  it('maps error frames from their headers', () => {
    const result = decode([
      {
        headers: {
          ':message-type': 'error',
          ':error-code': 'ThrottlingException',
          ':error-message': 'Too many requests, please wait before trying again.',
        },
        payload: '',
      },
    ]);
    assert.deepEqual(result.parts, [
      {
        type: 'error',
        message: 'Error from remote service: Too many requests, please wait before trying again.',
        status: 429,
      },
    ]);
  });

  it('reports usage with cache tokens, and a total when Bedrock sends none', () => {
    const result = decode([
      stop,
      event('metadata', {
        usage: {
          inputTokens: 3,
          outputTokens: 4,
          cacheReadInputTokens: 10,
          cacheWriteInputTokens: 2,
        },
      }),
    ]);
    assert.deepEqual(result.parts, [
      {
        type: 'finish',
        finishReason: { unified: 'stop', raw: 'end_turn' },
        usage: { input_tokens: 15, output_tokens: 4, total_tokens: 19 },
      },
    ]);
  });

  it('finishes once both messageStop and metadata arrived, in either order', () => {
    const result = decode([metadata, event('messageStop', { stopReason: 'max_tokens' })]);
    assert.deepEqual(result.parts, [
      {
        type: 'finish',
        finishReason: { unified: 'length', raw: 'max_tokens' },
        usage: { input_tokens: 5, output_tokens: 7, total_tokens: 12 },
      },
    ]);
  });

  it('keeps unknown stop reasons raw', () => {
    const result = decode([event('messageStop', { stopReason: 'something_new' }), metadata]);
    const finish = result.parts.at(-1);
    assert.equal(finish?.type, 'finish');
    if (finish?.type === 'finish') {
      assert.deepEqual(finish.finishReason, { unified: 'other', raw: 'something_new' });
    }
  });

  it('throws when the body ends before messageStop or before metadata', () => {
    for (const frames of [
      [event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hi' } })],
      [stop],
    ]) {
      const result = decode(frames);
      assert.ok(ServiceError.isInstance(result.thrown));
      assert.equal(result.thrown.code, ErrorCode.UpstreamProtocol);
      assert.ok(!result.parts.some((part) => part.type === 'finish'));
    }
  });

  it('reports reasoning apart from the answer and skips empty deltas', () => {
    const result = decode([
      event('contentBlockDelta', {
        contentBlockIndex: 0,
        delta: { reasoningContent: { text: 'Think.' } },
      }),
      event('contentBlockDelta', {
        contentBlockIndex: 0,
        delta: { reasoningContent: { signature: 'abc' } },
      }),
      event('contentBlockDelta', { contentBlockIndex: 1, delta: { text: '' } }),
      event('contentBlockDelta', { contentBlockIndex: 1, delta: { text: 'Answer.' } }),
      stop,
      metadata,
    ]);
    assert.deepEqual(result.parts.slice(0, 2), [
      { type: 'reasoning-delta', text: 'Think.' },
      { type: 'text-delta', text: 'Answer.' },
    ]);
  });

  it('ignores unknown event types', () => {
    const result = decode([event('somethingNew', 'not even json'), stop, metadata]);
    assert.equal(result.thrown, undefined);
    assert.equal(result.parts.length, 1);
  });

  it('refuses tool input for a block that started no tool call', () => {
    const result = decode([
      event('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '{}' } } }),
    ]);
    assert.ok(ServiceError.isInstance(result.thrown));
    assert.match(result.thrown.message, /^Malformed event from the remote service: /);
  });

  it('refuses events without their required fields', () => {
    for (const frame of [
      event('messageStop', {}),
      event('metadata', { metrics: {} }),
      event('contentBlockDelta', { delta: { text: 'x' } }),
    ]) {
      const result = decode([frame]);
      assert.ok(ServiceError.isInstance(result.thrown), String(result.thrown));
      assert.equal(result.thrown.code, ErrorCode.UpstreamProtocol);
    }
  });
});

const baseUrl = 'https://bedrock-runtime.us-west-2.amazonaws.com/model';

describe('bedrock-converse request', () => {
  const body = { messages: [{ role: 'user', content: [{ text: 'Hi' }] }] };

  it('switches /converse to /converse-stream, keeping the model id and the query', () => {
    const cases: [string, string][] = [
      [
        `${baseUrl}/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse`,
        `${baseUrl}/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream`,
      ],
      [
        `${baseUrl}/us.anthropic.claude-3-7-sonnet-20250219-v1:0/converse?trace=1`,
        `${baseUrl}/us.anthropic.claude-3-7-sonnet-20250219-v1:0/converse-stream?trace=1`,
      ],
      [
        `${baseUrl}/amazon.nova-pro-v1:0/converse-stream`,
        `${baseUrl}/amazon.nova-pro-v1:0/converse-stream`,
      ],
    ];
    for (const [input, expected] of cases) {
      assert.equal(adapter.prepareStream(call(input, body), llmInterface).url, expected);
    }
  });

  it('refuses a URL that is not a Converse endpoint', () => {
    assert.throws(
      () => adapter.prepareStream(call(`${baseUrl}/m/invoke`, body), llmInterface),
      (error: unknown) => ServiceError.isInstance(error) && error.code === ErrorCode.BadRequest,
    );
  });

  it('asks for an event stream and sends JSON, replacing any other spelling', () => {
    const prepared = adapter.prepareStream(
      call(`${baseUrl}/m/converse`, body, {
        'Content-Type': 'text/plain',
        Accept: '*/*',
        'x-custom': '1',
      }),
      llmInterface,
    );
    assert.deepEqual(prepared.headers, {
      'x-custom': '1',
      'content-type': 'application/json',
      accept: 'application/vnd.amazon.eventstream',
    });
  });

  it('keeps inferenceConfig, system, toolConfig and the other request fields', () => {
    const request = {
      system: [{ text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ text: 'Weather?' }] }],
      inferenceConfig: { maxTokens: 512, temperature: 0.2, stopSequences: ['END'] },
      toolConfig: {
        tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object' } } } }],
      },
      guardrailConfig: { guardrailIdentifier: 'g1', guardrailVersion: '1' },
      additionalModelRequestFields: { top_k: 5 },
    };
    const text = JSON.stringify(request);
    const prepared = adapter.prepareStream(call(`${baseUrl}/m/converse`, text), llmInterface);
    // Nothing to strip: the body goes out byte for byte.
    assert.equal(prepared.body, text);
  });

  it('strips the ml-commons blueprint "type" key from text blocks', () => {
    const prepared = adapter.prepareStream(
      call(`${baseUrl}/m/converse`, {
        system: [{ type: 'text', text: 'Be brief.' }],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Line1\nLine2' }] },
          {
            role: 'user',
            content: [
              { toolResult: { toolUseId: 't1', content: [{ type: 'text', text: '18°C' }] } },
            ],
          },
        ],
        inferenceConfig: { maxTokens: 10 },
      }),
      llmInterface,
    );
    assert.deepEqual(JSON.parse(prepared.body), {
      system: [{ text: 'Be brief.' }],
      messages: [
        { role: 'user', content: [{ text: 'Line1\nLine2' }] },
        {
          role: 'user',
          content: [{ toolResult: { toolUseId: 't1', content: [{ text: '18°C' }] } }],
        },
      ],
      inferenceConfig: { maxTokens: 10 },
    });
  });

  it('refuses a body that is not a JSON object', () => {
    for (const text of ['{"messages":', '[1]']) {
      assert.throws(
        () => adapter.prepareStream(call(`${baseUrl}/m/converse`, text), llmInterface),
        (error: unknown) => ServiceError.isInstance(error) && error.code === ErrorCode.BadRequest,
      );
    }
  });

  it('matches SigV4 connectors whose URL is a Converse endpoint', () => {
    assert.equal(adapter.matches({ protocol: 'aws_sigv4', url: `${baseUrl}/m:0/converse` }), true);
    assert.equal(
      adapter.matches({ protocol: 'aws_sigv4', url: `${baseUrl}/m:0/converse-stream?x=1` }),
      true,
    );
    assert.equal(adapter.matches({ protocol: 'http', url: `${baseUrl}/m:0/converse` }), false);
    assert.equal(adapter.matches({ protocol: 'aws_sigv4', url: `${baseUrl}/m:0/invoke` }), false);
  });
});
