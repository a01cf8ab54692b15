/**
 * A model's `interface.input` schema over real HTTP: a request it refuses gets ml-commons' 400
 * before any byte of a stream and before the provider is called; a valid one runs normally.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { contentOf, postStream } from '../../test/helpers/sse-client.ts';
import { startTestNode, type TestNode } from '../../test/helpers/test-node.ts';
import { type MockProvider, startMockProvider } from '../../test/mock-provider/server.ts';
import { assertOpenSearchError } from './control-plane.fixtures.ts';

const prefix =
  "Error validating input schema, if you think this is expected, please update your 'input' field in the 'interface' field for this model: ";

const messagesRequired = JSON.stringify({
  type: 'object',
  properties: {
    parameters: {
      type: 'object',
      properties: { messages: { type: 'array' } },
      required: ['messages'],
    },
  },
  required: ['parameters'],
});

const messages = [{ role: 'user', content: 'Hello' }];

describe('interface.input schema on _predict and _predict/stream', () => {
  let node: TestNode;
  let mock: MockProvider;
  let baseUrl: string;
  let modelId: string;

  before(async () => {
    mock = await startMockProvider();
    node = await startTestNode();
    await node.allowLoopback();
    baseUrl = await node.node.app.listen({ host: '127.0.0.1', port: 0 });
    const response = await node.call('POST', '/_plugins/_ml/models/_register?deploy=true', {
      name: 'chat with an input schema',
      function_name: 'remote',
      interface: { input: messagesRequired },
      connector: mockConnector(),
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    modelId = response.body.model_id;
  });
  after(async () => {
    await node.close();
    await mock.close();
  });
  beforeEach(() => mock.reset());

  /** An OpenAI chat connector on the mock, with a key the responses must never show. */
  function mockConnector() {
    return {
      name: 'OpenAI on the mock',
      protocol: 'http',
      credential: { key: 'provider-key-0123456789' },
      actions: [
        {
          action_type: 'predict',
          method: 'POST',
          url: mock.urlFor('openai'),
          headers: { Authorization: 'Bearer ${credential.key}' },
          request_body: '{ "model": "gpt-4.1", "messages": ${parameters.messages} }',
        },
      ],
    };
  }

  it('refuses a _predict without the required parameter, calling no provider', async () => {
    const response = await node.call('POST', `/_plugins/_ml/models/${modelId}/_predict`, {
      parameters: { prompt: 'Hello' },
    });
    assertOpenSearchError(response.body, 400);
    assert.equal(response.status, 400);
    assert.equal(response.body.error.type, 'status_exception');
    assert.equal(
      response.body.error.reason,
      `${prefix}Validation failed: [$.parameters: required property 'messages' not found]`,
    );
    assert.equal(mock.requests.length, 0);
  });

  it('refuses a _predict/stream with an HTTP 400 before the first byte, calling no provider', async () => {
    const result = await postStream(baseUrl, `/_plugins/_ml/models/${modelId}/_predict/stream`, {
      parameters: { messages: 'not a list' },
    });
    assert.equal(result.status, 400, result.raw);
    assert.match(String(result.headers['content-type']), /^application\/json/);
    const body = JSON.parse(result.raw);
    assertOpenSearchError(body, 400);
    assert.equal(
      body.error.reason,
      `${prefix}Validation failed: [$.parameters.messages: string found, array expected]`,
    );
    assert.equal(mock.requests.length, 0);
  });

  it('streams a valid request normally', async () => {
    const result = await postStream(baseUrl, `/_plugins/_ml/models/${modelId}/_predict/stream`, {
      parameters: { messages },
    });
    assert.equal(result.status, 200, result.raw);
    const { text, last } = contentOf(result.events);
    assert.ok(text.length > 0);
    assert.equal(last.inference_results[0].output[0].dataAsMap.is_last, true);
    assert.equal(mock.requests.length, 1);
    const [request] = mock.requests;
    assert.deepEqual((request?.body as { messages?: unknown } | undefined)?.messages, messages);
  });

  it('accepts messages given as JSON text, as ml-commons reads it back before validating', async () => {
    const response = await node.call('POST', `/_plugins/_ml/models/${modelId}/_predict`, {
      parameters: { messages: JSON.stringify(messages) },
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(mock.requests.length, 1);
  });

  it('follows an update of the interface at once', async () => {
    const update = (input: string) =>
      node.call('PUT', `/_plugins/_ml/models/${modelId}`, { interface: { input } });
    try {
      assert.equal((await update('{}')).status, 200);
      const free = await node.call('POST', `/_plugins/_ml/models/${modelId}/_predict`, {
        parameters: { messages, anything: 1 },
      });
      assert.equal(free.status, 200, JSON.stringify(free.body));
      assert.equal((await update('{"type":"strin"}')).status, 200);
      const broken = await node.call('POST', `/_plugins/_ml/models/${modelId}/_predict`, {
        parameters: { messages },
      });
      assert.equal(broken.status, 400);
      assert.ok(
        broken.body.error.reason.startsWith(`${prefix}the 'input' schema cannot be compiled`),
      );
      assert.equal(mock.requests.length, 1);
    } finally {
      await update(messagesRequired);
    }
  });

  it('a refused request neither auto-deploys the model nor takes a rate-limit token', async () => {
    const registered = await node.call('POST', '/_plugins/_ml/models/_register', {
      name: 'undeployed, limited, with an input schema',
      function_name: 'remote',
      interface: { input: messagesRequired },
      rate_limiter: { limit: '1', unit: 'MINUTES' },
      connector: mockConnector(),
    });
    assert.equal(registered.status, 200, JSON.stringify(registered.body));
    const limitedId = registered.body.model_id;
    const predict = (parameters: Record<string, unknown>) =>
      node.call('POST', `/_plugins/_ml/models/${limitedId}/_predict`, { parameters });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      assert.equal((await predict({ prompt: 'Hello' })).status, 400);
    }
    const stored = await node.node.store.getModel(limitedId);
    assert.equal(stored?.document.model_state, 'REGISTERED', 'not deployed by a refused request');
    const valid = await predict({ messages });
    assert.equal(valid.status, 200, 'the one token per minute is still there');
    assert.equal((await node.node.store.getModel(limitedId))?.document.model_state, 'DEPLOYED');
    assert.equal((await predict({ messages })).status, 429);
  });
});
