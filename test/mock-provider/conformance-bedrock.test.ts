/**
 * The AWS SDK decodes the mock's event-stream frames (preludes, CRCs, headers) and maps its
 * exception frames and error responses to the SDK's own exception classes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelWithResponseStreamCommand,
  ModelStreamErrorException,
  ThrottlingException,
  type TokenUsage,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { expectedSummary } from './expected.ts';
import { type MockProvider, startMockProvider } from './server.ts';

const answer =
  'Café Sprüngli on Bahnhofstrasse is a Zürich classic — try the Luxemburgerli with a cappuccino ☕. Enjoy! 🚀';
const modelId = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const messages = [
  { role: 'user' as const, content: [{ text: 'Where should I have coffee in Zürich?' }] },
];

let mock: MockProvider;
let client: BedrockRuntimeClient;
before(async () => {
  mock = await startMockProvider();
  client = new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: mock.url,
    credentials: { accessKeyId: 'AKIDMOCKPROVIDER', secretAccessKey: 'mock-secret' },
    // The default handler speaks HTTP/2 for event streams; the mock is HTTP/1.1.
    requestHandler: new NodeHttpHandler(),
    maxAttempts: 1,
  });
});
after(async () => {
  client.destroy();
  await mock.close();
});

describe('@aws-sdk/client-bedrock-runtime reads ConverseStream from the mock', () => {
  async function converse(fixture: string) {
    mock.setScenario('bedrock-converse', { fixture });
    const response = await client.send(new ConverseStreamCommand({ modelId, messages }));
    assert.ok(response.stream);
    return response.stream;
  }

  it('decodes text, the stop reason and usage, over a SigV4-signed request', async () => {
    let text = '';
    let stopReason: string | undefined;
    let usage: TokenUsage | undefined;
    for await (const event of await converse('text')) {
      text += event.contentBlockDelta?.delta?.text ?? '';
      stopReason = event.messageStop?.stopReason ?? stopReason;
      usage = event.metadata?.usage ?? usage;
    }
    assert.equal(text, answer);
    assert.equal(stopReason, 'end_turn');
    assert.deepEqual({ ...usage }, { inputTokens: 18, outputTokens: 32, totalTokens: 50 });
    const sent = mock.requests.at(-1);
    assert.equal(
      sent?.path,
      '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream',
    );
    assert.equal(sent?.modelId, modelId);
    assert.match(
      String(sent?.headers.authorization),
      /^AWS4-HMAC-SHA256 Credential=AKIDMOCKPROVIDER\/\d{8}\/us-east-1\/bedrock\/aws4_request/,
    );
  });

  it('decodes tool-use blocks and their streamed JSON input', async () => {
    const calls = new Map<number, { name: string; input: string }>();
    let stopReason: string | undefined;
    for await (const event of await converse('tool-call')) {
      const start = event.contentBlockStart;
      if (start?.start?.toolUse && start.contentBlockIndex !== undefined) {
        calls.set(start.contentBlockIndex, { name: start.start.toolUse.name ?? '', input: '' });
      }
      const delta = event.contentBlockDelta;
      const call =
        delta?.contentBlockIndex === undefined ? undefined : calls.get(delta.contentBlockIndex);
      if (call && delta?.delta?.toolUse?.input) call.input += delta.delta.toolUse.input;
      stopReason = event.messageStop?.stopReason ?? stopReason;
    }
    assert.equal(stopReason, 'tool_use');
    assert.deepEqual(
      [...calls.values()].map((call) => [call.name, JSON.parse(call.input)]),
      expectedSummary('bedrock-converse', 'tool-call').toolCalls.map((call) => [
        call.name,
        call.input,
      ]),
    );
    assert.equal(calls.size, 2);
  });

  it('reports cache token usage in the metadata event', async () => {
    let usage: TokenUsage | undefined;
    for await (const event of await converse('usage')) usage = event.metadata?.usage ?? usage;
    assert.equal(usage?.cacheReadInputTokens, 1864);
    assert.equal(usage?.totalTokens, 1908);
  });

  it('raises the throttlingException frame as ThrottlingException after the first text', async () => {
    let text = '';
    await assert.rejects(
      async () => {
        for await (const event of await converse('error-mid-stream')) {
          text += event.contentBlockDelta?.delta?.text ?? '';
        }
      },
      (error: unknown) =>
        error instanceof ThrottlingException && /Too many tokens/.test(error.message),
    );
    assert.equal(text, expectedSummary('bedrock-converse', 'error-mid-stream').text);
    assert.ok(text.length > 0);
  });

  it('answers Converse without streaming', async () => {
    mock.setScenario('bedrock-converse', { fixture: 'text' });
    const response = await client.send(new ConverseCommand({ modelId, messages }));
    assert.equal(response.output?.message?.content?.[0]?.text, answer);
    assert.equal(response.stopReason, 'end_turn');
    assert.equal(response.usage?.totalTokens, 50);
    assert.equal(mock.requests.at(-1)?.path.endsWith('/converse'), true);
  });

  it('maps a 429 with x-amzn-errortype to ThrottlingException', async () => {
    mock.setScenario('bedrock-converse', { status: 429 });
    await assert.rejects(
      client.send(new ConverseStreamCommand({ modelId, messages })),
      (error: unknown) => error instanceof ThrottlingException,
    );
  });
});

describe('@aws-sdk/client-bedrock-runtime reads InvokeModelWithResponseStream from the mock', () => {
  const body = JSON.stringify({
    anthropic_version: 'bedrock-2023-05-31',
    max_tokens: 1024,
    messages: [{ role: 'user', content: 'Where should I have coffee in Zürich?' }],
  });

  async function invoke(fixture: string): Promise<Record<string, unknown>[]> {
    mock.setScenario('bedrock-invoke', { fixture });
    const response = await client.send(
      new InvokeModelWithResponseStreamCommand({ modelId, body, contentType: 'application/json' }),
    );
    assert.ok(response.body);
    const events: Record<string, unknown>[] = [];
    for await (const event of response.body) {
      assert.ok(event.chunk?.bytes, 'every event is a chunk with bytes');
      events.push(JSON.parse(Buffer.from(event.chunk.bytes).toString('utf8')));
    }
    return events;
  }

  function textOf(events: Record<string, unknown>[]): string {
    return events
      .map((event) => (event['delta'] as { text?: string } | undefined)?.text ?? '')
      .join('');
  }

  it('decodes base64 Anthropic events, ending with the invocation metrics', async () => {
    const events = await invoke('text');
    assert.equal(textOf(events), answer);
    assert.equal(events[0]?.['type'], 'message_start');
    const last = events.at(-1);
    assert.equal(last?.['type'], 'message_stop');
    assert.deepEqual(last?.['amazon-bedrock-invocationMetrics'], {
      inputTokenCount: 18,
      outputTokenCount: 32,
      invocationLatency: 1209,
      firstByteLatency: 412,
    });
    const sent = mock.requests.at(-1);
    assert.equal(sent?.path.endsWith('/invoke-with-response-stream'), true);
    assert.equal(
      (sent?.body as { anthropic_version?: string } | undefined)?.anthropic_version,
      'bedrock-2023-05-31',
    );
  });

  it('decodes tool_use events', async () => {
    const events = await invoke('tool-call');
    const starts = events.filter((event) => event['type'] === 'content_block_start');
    const tools = starts.map((event) => event['content_block'] as { type: string; name?: string });
    assert.deepEqual(
      tools.filter((block) => block.type === 'tool_use').map((block) => block.name),
      ['get_weather', 'get_weather'],
    );
    assert.equal(expectedSummary('bedrock-invoke', 'tool-call').toolCalls.length, 2);
  });

  it('raises the modelStreamErrorException frame with the original status', async () => {
    await assert.rejects(
      invoke('error-mid-stream'),
      (error: unknown) =>
        error instanceof ModelStreamErrorException && error.originalStatusCode === 529,
    );
  });
});
