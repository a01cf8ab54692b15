/**
 * Proves the mock speaks each provider's real wire format: the official SDKs (OpenAI,
 * Anthropic, AWS Bedrock) decode what it serves. If a fixture drifts from the real format, the
 * SDK that production clients use rejects it here. Cohere, Gemini and Ollama have no SDK
 * installed; `wire-format.test.ts` parses their bytes with a spec parser instead.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { expectedSummary } from './expected.ts';
import { type MockProvider, startMockProvider } from './server.ts';

const answer =
  'Café Sprüngli on Bahnhofstrasse is a Zürich classic — try the Luxemburgerli with a cappuccino ☕. Enjoy! 🚀';
const paris = { location: 'Paris, France', unit: 'celsius' };
const zurich = { location: 'Zürich, Switzerland', unit: 'celsius' };

let mock: MockProvider;
before(async () => {
  mock = await startMockProvider();
});
after(async () => {
  await mock.close();
});

describe('openai@6 reads the OpenAI fixtures', () => {
  const client = (): OpenAI =>
    new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: 'test', maxRetries: 0 });
  const messages = [{ role: 'user' as const, content: 'Where should I have coffee in Zürich?' }];

  it('streams text, including multi-byte characters and an emoji', async () => {
    mock.setScenario('openai', { fixture: 'text' });
    const stream = await client().chat.completions.create({
      model: 'gpt-4.1',
      messages,
      stream: true,
    });
    let text = '';
    let finishReason: string | null | undefined;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      text += chunk.choices[0]?.delta.content ?? '';
      finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
    }
    assert.equal(text, answer);
    assert.equal(finishReason, 'stop');
    assert.equal(text, expectedSummary('openai', 'text').text);
    const sent = mock.requests.at(-1);
    assert.equal(sent?.path, '/v1/chat/completions');
    assert.equal((sent?.body as { stream?: unknown } | undefined)?.stream, true);
    assert.equal(sent?.headers.authorization, 'Bearer test');
  });

  it('streams two parallel tool calls with interleaved argument fragments', async () => {
    mock.setScenario('openai', { fixture: 'tool-call' });
    const stream = await client().chat.completions.create({
      model: 'gpt-4.1',
      messages,
      stream: true,
    });
    const calls = new Map<number, { id: string; name: string; arguments: string }>();
    let finishReason: string | null | undefined;
    for await (const chunk of stream) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        const call = calls.get(delta.index) ?? { id: '', name: '', arguments: '' };
        calls.set(delta.index, call);
        call.id ||= delta.id ?? '';
        call.name ||= delta.function?.name ?? '';
        call.arguments += delta.function?.arguments ?? '';
      }
      finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
    }
    assert.equal(finishReason, 'tool_calls');
    const ordered = [...calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call);
    assert.deepEqual(
      ordered.map((call) => [call.name, JSON.parse(call.arguments)]),
      [
        ['get_weather', paris],
        ['get_weather', zurich],
      ],
    );
    const expected = expectedSummary('openai', 'tool-call');
    assert.deepEqual(
      ordered.map((call) => call.id),
      expected.toolCalls.map((call) => call.id),
    );
  });

  it("assembles the interleaved calls with the SDK's own accumulator", async () => {
    mock.setScenario('openai', { fixture: 'tool-call' });
    const stream = client().chat.completions.stream({ model: 'gpt-4.1', messages });
    const completion = await stream.finalChatCompletion();
    const toolCalls = completion.choices[0]?.message.tool_calls ?? [];
    assert.deepEqual(
      toolCalls.map((call) =>
        call.type === 'function' ? JSON.parse(call.function.arguments) : null,
      ),
      [paris, zurich],
    );
  });

  it('reports usage in a final chunk with empty choices when include_usage is set', async () => {
    mock.setScenario('openai', { fixture: 'usage' });
    const stream = await client().chat.completions.create({
      model: 'gpt-4.1',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    assert.deepEqual(last?.choices, []);
    assert.equal(last?.usage?.prompt_tokens, 19);
    assert.equal(last?.usage?.completion_tokens, 27);
    assert.equal(last?.usage?.total_tokens, 46);
    assert.ok(chunks.slice(0, -1).every((chunk) => chunk.usage === null));
    const sent = mock.requests.at(-1)?.body as { stream_options?: { include_usage?: boolean } };
    assert.equal(sent.stream_options?.include_usage, true);
  });

  it('surfaces the in-stream error object as an APIError after the first tokens', async () => {
    mock.setScenario('openai', { fixture: 'error-mid-stream' });
    const stream = await client().chat.completions.create({
      model: 'gpt-4.1',
      messages,
      stream: true,
    });
    let text = '';
    await assert.rejects(
      async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      },
      (error: unknown) =>
        error instanceof OpenAI.APIError && /The server had an error/.test(error.message),
    );
    assert.equal(text, expectedSummary('openai', 'error-mid-stream').text);
    assert.ok(text.length > 0);
  });

  it('answers without streaming with the JSON completion', async () => {
    mock.setScenario('openai', { fixture: 'text' });
    const completion = await client().chat.completions.create({ model: 'gpt-4.1', messages });
    assert.equal(completion.choices[0]?.message.content, answer);
    assert.equal(completion.usage?.total_tokens, 46);
  });

  it('returns the real rate-limit error body, which the SDK types as RateLimitError', async () => {
    mock.setScenario('openai', { status: 429 });
    await assert.rejects(
      client().chat.completions.create({ model: 'gpt-4.1', messages, stream: true }),
      (error: unknown) =>
        error instanceof OpenAI.RateLimitError && error.code === 'rate_limit_exceeded',
    );
  });

  it('fails the first attempts so the SDK retry path succeeds on the third', async () => {
    mock.setScenario('openai', {
      fixture: 'text',
      failFirstAttempts: 2,
      status: 503,
      headers: { 'retry-after-ms': '1' },
    });
    const before = mock.requests.length;
    const retrying = new OpenAI({ baseURL: `${mock.url}/v1`, apiKey: 'test', maxRetries: 2 });
    const completion = await retrying.chat.completions.create({ model: 'gpt-4.1', messages });
    assert.equal(completion.choices[0]?.message.content, answer);
    assert.equal(mock.requests.length - before, 3);
  });
});

describe('@anthropic-ai/sdk@1 reads the Anthropic fixtures', () => {
  const client = (): Anthropic =>
    new Anthropic({ baseURL: mock.url, apiKey: 'test', maxRetries: 0 });
  const request = {
    model: 'claude-sonnet-4-6',
    max_tokens: 1024,
    messages: [{ role: 'user' as const, content: 'Where should I have coffee in Zürich?' }],
  };

  it('streams text through messages.stream() and ends with stop reason and usage', async () => {
    mock.setScenario('anthropic', { fixture: 'text' });
    const stream = client().messages.stream(request);
    let text = '';
    stream.on('text', (delta) => {
      text += delta;
    });
    const message = await stream.finalMessage();
    assert.equal(text, answer);
    assert.equal(message.stop_reason, 'end_turn');
    assert.equal(message.usage.input_tokens, 18);
    assert.equal(message.usage.output_tokens, 32);
    const sent = mock.requests.at(-1);
    assert.equal((sent?.body as { stream?: unknown } | undefined)?.stream, true);
    // This SDK release sends the key as a bearer token; older ones used x-api-key.
    assert.ok(
      sent?.headers.authorization === 'Bearer test' || sent?.headers['x-api-key'] === 'test',
    );
    assert.ok(sent?.headers['anthropic-version']);
  });

  it('streams thinking, text and two tool_use blocks with their JSON input', async () => {
    mock.setScenario('anthropic', { fixture: 'tool-call' });
    const message = await client().messages.stream(request).finalMessage();
    assert.equal(message.stop_reason, 'tool_use');
    assert.deepEqual(
      message.content.map((block) => block.type),
      ['thinking', 'text', 'tool_use', 'tool_use'],
    );
    const thinking = message.content[0];
    assert.equal(
      thinking?.type === 'thinking' ? thinking.thinking : '',
      expectedSummary('anthropic', 'tool-call').reasoning,
    );
    const tools = message.content.filter((block) => block.type === 'tool_use');
    assert.deepEqual(
      tools.map((block) => [block.name, block.input]),
      [
        ['get_weather', paris],
        ['get_weather', zurich],
      ],
    );
  });

  it('reports cache usage from message_start and message_delta', async () => {
    mock.setScenario('anthropic', { fixture: 'usage' });
    const message = await client().messages.stream(request).finalMessage();
    assert.equal(message.usage.cache_read_input_tokens, 1864);
    assert.equal(message.usage.input_tokens, 12);
    assert.equal(message.usage.output_tokens, 32);
  });

  it('surfaces `event: error` as an APIError carrying overloaded_error', async () => {
    mock.setScenario('anthropic', { fixture: 'error-mid-stream' });
    const stream = await client().messages.create({ ...request, stream: true });
    let text = '';
    await assert.rejects(
      async () => {
        for await (const event of stream) {
          if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
            text += event.delta.text;
          }
        }
      },
      (error: unknown) => error instanceof Anthropic.APIError && error.type === 'overloaded_error',
    );
    assert.equal(text, expectedSummary('anthropic', 'error-mid-stream').text);
  });

  it('returns the real authentication error body', async () => {
    mock.setScenario('anthropic', { status: 401 });
    await assert.rejects(
      client().messages.create(request),
      (error: unknown) =>
        error instanceof Anthropic.AuthenticationError && error.type === 'authentication_error',
    );
  });
});
