import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { contentOf, postStream } from '../../test/helpers/sse-client.ts';
import { startTestNode, type TestNode } from '../../test/helpers/test-node.ts';
import { expectedSummary } from '../../test/mock-provider/expected.ts';
import type { MockProviderName } from '../../test/mock-provider/fixtures.ts';
import { type MockProvider, startMockProvider } from '../../test/mock-provider/server.ts';

const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
const bedrockModel = 'us.anthropic.claude-3-7-sonnet-20250219-v1:0';

function connectorFor(mock: MockProvider, provider: MockProviderName): Record<string, unknown> {
  const action = (url: string, requestBody: string, headers: Record<string, string> = {}) => [
    { action_type: 'predict', method: 'POST', url, headers, request_body: requestBody },
  ];
  const http = (url: string, body: string, headers?: Record<string, string>) => ({
    name: `${provider} on the mock`,
    protocol: 'http',
    credential: { key: 'provider-key-0123456789' },
    actions: action(url, body, headers),
  });
  const aws = (url: string, body: string) => ({
    name: `${provider} on the mock`,
    protocol: 'aws_sigv4',
    credential: { access_key: 'AKIDEXAMPLE', secret_key: 'aws-secret-0123456789' },
    parameters: { region: 'us-east-1', service_name: 'bedrock' },
    actions: action(url, body, { 'content-type': 'application/json' }),
  });
  const url = mock.urlFor(provider, {
    modelId: provider === 'gemini' ? 'gemini-2.5-flash' : bedrockModel,
    streaming: false,
  });
  switch (provider) {
    case 'openai':
      return http(url, '{ "model": "gpt-4.1", "messages": ${parameters.messages} }', {
        Authorization: 'Bearer ${credential.key}',
      });
    case 'anthropic':
      return http(
        url,
        '{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":${parameters.messages}}',
        {
          'x-api-key': '${credential.key}',
        },
      );
    case 'bedrock-converse':
      return aws(
        url,
        '{"messages":[{"role":"user","content":[{"type":"text","text":"${parameters.inputs}"}]}],"inferenceConfig":{"maxTokens":512}}',
      );
    case 'bedrock-invoke':
      return aws(
        url,
        '{"anthropic_version":"bedrock-2023-05-31","max_tokens":512,"messages":${parameters.messages}}',
      );
    case 'cohere':
      return http(url, '{"model":"command-a-03-2025","messages":${parameters.messages}}', {
        Authorization: 'Bearer ${credential.key}',
      });
    case 'gemini':
      return http(url, '{"contents":[{"role":"user","parts":[{"text":"${parameters.inputs}"}]}]}', {
        'x-goog-api-key': '${credential.key}',
      });
    case 'ollama':
      return http(url, '{"model":"llama3.2","messages":${parameters.messages}}');
  }
}

describe('_predict/stream', () => {
  let node: TestNode;
  let mock: MockProvider;
  let baseUrl: string;

  before(async () => {
    mock = await startMockProvider();
    node = await startTestNode();
    await node.allowLoopback();
    baseUrl = await node.node.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await node.close();
    await mock.close();
  });
  beforeEach(() => mock.reset());

  async function register(
    connector: Record<string, unknown>,
    model: Record<string, unknown> = {},
  ): Promise<string> {
    const response = await node.call('POST', '/_plugins/_ml/models/_register?deploy=true', {
      name: `model ${Math.random()}`,
      function_name: 'remote',
      connector,
      ...model,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.model_id;
  }

  const stream = (
    modelId: string,
    parameters: Record<string, unknown> = { messages, inputs: 'Hello' },
  ) => postStream(baseUrl, `/_plugins/_ml/models/${modelId}/_predict/stream`, { parameters });

  const providers: MockProviderName[] = [
    'openai',
    'anthropic',
    'bedrock-converse',
    'bedrock-invoke',
    'cohere',
    'gemini',
    'ollama',
  ];
  for (const provider of providers) {
    it(`streams ${provider} end to end, inferring the interface, with usage and finish reason`, async () => {
      const modelId = await register(connectorFor(mock, provider));
      const result = await stream(modelId);
      assert.equal(result.status, 200, result.raw);
      assert.equal(result.headers['content-type'], 'text/event-stream; charset=utf-8');
      assert.equal(result.headers['cache-control'], 'no-cache, no-transform');
      assert.equal(result.headers['x-accel-buffering'], 'no');
      assert.equal(result.headers['content-encoding'], undefined);
      const expected = expectedSummary(provider, 'text');
      const { text, last } = contentOf(result.events);
      assert.equal(text, expected.text);
      const final = last.inference_results[0].output[0].dataAsMap;
      assert.equal(final.is_last, true);
      assert.equal(final.content, '');
      assert.equal(final.finish_reason, expected.finishReason?.unified);
      if (expected.usage !== undefined) assert.deepEqual(final.usage, expected.usage);
      // Every event but the last is a content event with is_last false, in the exact format.
      for (const event of result.events.slice(0, -1)) {
        assert.equal(event.inference_results[0].output[0].dataAsMap.is_last, false);
      }
      assert.match(
        result.raw,
        /^data: \{"inference_results":\[\{"output":\[\{"name":"response","dataAsMap":\{"content":/,
      );
      assert.equal(mock.requests.length, 1);
    });
  }

  it('asks OpenAI for stream and usage, and reports parallel tool calls apart from content', async () => {
    const modelId = await register(connectorFor(mock, 'openai'));
    mock.setScenario('openai', { fixture: 'tool-call' });
    const result = await stream(modelId);
    assert.equal(result.status, 200);
    const sent = mock.requests[0]?.body as any;
    assert.equal(sent.stream, true);
    assert.deepEqual(sent.stream_options, { include_usage: true });
    const calls = new Map<number, { id?: string; name?: string; arguments: string }>();
    for (const event of result.events) {
      const data = event.inference_results[0].output[0].dataAsMap;
      for (const call of data.tool_calls ?? []) {
        assert.equal(data.content, '');
        const entry = calls.get(call.index) ?? { arguments: '' };
        if (call.id !== undefined) entry.id = call.id;
        if (call.name !== undefined) entry.name = call.name;
        entry.arguments += call.arguments;
        calls.set(call.index, entry);
      }
    }
    const expected = expectedSummary('openai', 'tool-call');
    assert.equal(calls.size, expected.toolCalls.length);
    for (const [index, call] of [...calls.entries()].sort(([a], [b]) => a - b)) {
      assert.equal(call.name, expected.toolCalls[index]?.name);
      assert.equal(call.arguments, expected.toolCalls[index]?.arguments);
    }
    const final = contentOf(result.events).last.inference_results[0].output[0].dataAsMap;
    assert.equal(final.is_last, true);
    assert.equal(final.finish_reason, 'tool_calls');
  });

  it('lets an explicit _llm_interface win and refuses unknown ones', async () => {
    const modelId = await register(connectorFor(mock, 'openai'));
    const explicit = await stream(modelId, {
      messages,
      _llm_interface: 'openai/v1/chat/completions',
    });
    assert.equal(explicit.status, 200);
    const unknown = await stream(modelId, { messages, _llm_interface: 'acme/v9/chat' });
    assert.equal(unknown.status, 400);
    assert.match(JSON.parse(unknown.raw).error.reason, /Unsupported LLM interface: acme\/v9\/chat/);
  });

  describe('errors before the first byte are HTTP errors with a JSON body', () => {
    it('unknown model 404', async () => {
      const result = await stream('no-such-model');
      assert.equal(result.status, 404);
      assert.equal(result.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(JSON.parse(result.raw).error.reason, 'Failed to find model');
    });

    it('streaming disabled 400 with the ml-commons message', async () => {
      const modelId = await register(connectorFor(mock, 'openai'));
      await node.call('PUT', '/_cluster/settings', {
        transient: { 'plugins.ml_commons.stream_enabled': false },
      });
      try {
        const result = await stream(modelId);
        assert.equal(result.status, 400);
        assert.equal(
          JSON.parse(result.raw).error.reason,
          'Streaming is currently disabled. To enable it, update the setting "plugins.ml_commons.stream_enabled" to true.',
        );
      } finally {
        await node.call('PUT', '/_cluster/settings', {
          transient: { 'plugins.ml_commons.stream_enabled': null },
        });
      }
    });

    it('disabled model 403, throttled 429', async () => {
      const disabled = await register(connectorFor(mock, 'openai'), { is_enabled: false });
      assert.equal((await stream(disabled)).status, 403);
      const limited = await register(connectorFor(mock, 'openai'), {
        rate_limiter: { limit: '1', unit: 'HOURS' },
      });
      assert.equal((await stream(limited)).status, 200);
      const throttled = await stream(limited);
      assert.equal(throttled.status, 429);
      assert.equal(JSON.parse(throttled.raw).error.reason, 'Request is throttled at model level.');
    });

    it('a request refused for its own mistake takes no rate-limit token', async () => {
      const limited = await register(connectorFor(mock, 'openai'), {
        rate_limiter: { limit: '1', unit: 'HOURS' },
      });
      const unknownInterface = await stream(limited, { messages, _llm_interface: 'acme/v9' });
      assert.equal(unknownInterface.status, 400);
      const missingParameter = await stream(limited, { prompt: 'no messages' });
      assert.equal(missingParameter.status, 400);
      assert.equal((await stream(limited)).status, 200, 'the one token was still there');
      assert.equal((await stream(limited)).status, 429);
    });

    it('the provider status and message for upstream 4xx/5xx', async () => {
      const modelId = await register(connectorFor(mock, 'anthropic'));
      mock.setScenario('anthropic', { status: 529 });
      const result = await stream(modelId);
      assert.equal(result.status, 529);
      assert.match(
        JSON.parse(result.raw).error.reason,
        /^Error from remote service: .*overloaded/i,
      );
    });

    it('n > 1 is refused with 400 and nothing is sent upstream', async () => {
      const modelId = await register({
        ...connectorFor(mock, 'openai'),
        parameters: { n: 2 },
        actions: [
          {
            action_type: 'predict',
            method: 'POST',
            url: mock.urlFor('openai'),
            request_body:
              '{ "model": "gpt-4.1", "n": ${parameters.n}, "messages": ${parameters.messages} }',
          },
        ],
      });
      const result = await stream(modelId);
      assert.equal(result.status, 400);
      assert.match(JSON.parse(result.raw).error.reason, /n > 1/);
      assert.equal(mock.requests.length, 0);
    });

    it('client_config retries apply before the first byte', async () => {
      const modelId = await register({
        ...connectorFor(mock, 'openai'),
        client_config: { max_retry_times: 2, retry_backoff_millis: 1 },
      });
      mock.setScenario('openai', { failFirstAttempts: 2, status: 503 });
      const result = await stream(modelId);
      assert.equal(result.status, 200);
      assert.equal(mock.requests.length, 3);
    });
  });

  describe('failures after the first byte are one error event, then the end', () => {
    const cases: Array<[string, MockProviderName, Record<string, unknown>, RegExp]> = [
      // Paced, so the events before the reset are read before it (a reset may drop unread data).
      [
        'an upstream reset',
        'openai',
        { resetAfterEvents: 3, delayBetweenEventsMs: 20 },
        /remote side closed the connection|connection to the remote service was lost/,
      ],
      ['a malformed event', 'openai', { malformedEventAfter: 3 }, /Malformed event/],
      [
        'a truncated event-stream frame',
        'bedrock-converse',
        { truncateLastFrame: true },
        /runcated/,
      ],
      [
        'a provider error event (Anthropic)',
        'anthropic',
        { fixture: 'error-mid-stream' },
        /^Error from remote service: /,
      ],
      [
        'a provider exception frame (Bedrock)',
        'bedrock-converse',
        { fixture: 'error-mid-stream' },
        /^Error from remote service: /,
      ],
      [
        'a stream that ends early',
        'ollama',
        { truncateLastFrame: true },
        /ended the stream before it was complete|Malformed|runcated/,
      ],
    ];
    for (const [title, provider, scenario, message] of cases) {
      it(title, async () => {
        const modelId = await register({
          ...connectorFor(mock, provider),
          client_config: { max_retry_times: 3, retry_backoff_millis: 1 },
        });
        mock.setScenario(provider, scenario);
        const result = await stream(modelId);
        assert.equal(result.status, 200);
        const last = result.events.at(-1);
        assert.deepEqual(Object.keys(last), ['error']);
        assert.match(last.error, message);
        assert.ok(result.raw.endsWith(`data: {"error": ${JSON.stringify(last.error)}}\n\n`));
        assert.equal(result.events.filter((event) => 'error' in event).length, 1);
        assert.ok(
          !result.raw.includes('"is_last":true'),
          'a failure never looks like a normal end',
        );
        assert.equal(mock.requests.length, 1, 'no retry after the first byte');
      });
    }

    it('an idle upstream hits the read timeout', async () => {
      const modelId = await register({
        ...connectorFor(mock, 'openai'),
        client_config: { read_timeout: 1 },
      });
      mock.setScenario('openai', { hangAfterEvents: 2 });
      const result = await stream(modelId);
      assert.equal(result.status, 200);
      assert.match(result.events.at(-1).error, /read timeout/);
      assert.equal((await mock.waitForClose()).end, 'client-closed');
    });

    it('a stream longer than total_timeout ends with an error event', async () => {
      const modelId = await register({
        ...connectorFor(mock, 'openai'),
        client_config: { total_timeout: 1 },
      });
      mock.setScenario('openai', { delayBetweenEventsMs: 150 });
      const result = await stream(modelId);
      assert.equal(result.status, 200);
      assert.match(result.events.at(-1).error, /total time/);
      assert.ok(result.events.length > 2, 'events before the deadline were delivered');
      assert.equal((await mock.waitForClose()).end, 'client-closed');
    });

    it('an upstream silent before its first event hits the first-token timeout as an HTTP 504', async () => {
      const modelId = await register({
        ...connectorFor(mock, 'openai'),
        client_config: { first_token_timeout: 1 },
      });
      mock.setScenario('openai', { hangAfterEvents: 0 });
      const result = await stream(modelId);
      assert.equal(result.status, 504);
      assert.match(JSON.parse(result.raw).error.reason, /first token/);
    });
  });
});
