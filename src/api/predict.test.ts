import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { capturingLogger, startTestNode, type TestNode } from '../../test/helpers/test-node.ts';
import { type MockProvider, startMockProvider } from '../../test/mock-provider/server.ts';

const secret = 'sk-live-secret-0123456789';

function openAiConnector(url: string, extra: Record<string, unknown> = {}) {
  return {
    name: 'OpenAI on the mock',
    protocol: 'http',
    parameters: { model: 'gpt-4.1' },
    credential: { openAI_key: secret },
    actions: [
      {
        action_type: 'predict',
        method: 'POST',
        url,
        headers: { Authorization: 'Bearer ${credential.openAI_key}' },
        request_body: '{ "model": "${parameters.model}", "messages": ${parameters.messages} }',
      },
    ],
    ...extra,
  };
}

const messages = [{ role: 'user', content: 'Say "hi"\nplease' }];

describe('_predict', () => {
  let node: TestNode;
  let mock: MockProvider;
  const { logger, lines } = capturingLogger();

  before(async () => {
    mock = await startMockProvider();
    node = await startTestNode({ logger });
    await node.allowLoopback();
  });
  after(async () => {
    await node.close();
    await mock.close();
  });
  beforeEach(() => mock.reset());

  async function register(connector: Record<string, unknown>, model: Record<string, unknown> = {}) {
    const response = await node.call('POST', '/_plugins/_ml/models/_register?deploy=true', {
      name: `model ${Math.random()}`,
      function_name: 'remote',
      connector,
      ...model,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.model_id as string;
  }

  it('calls an OpenAI-format provider with the templated payload and decrypted key', async () => {
    const modelId = await register(openAiConnector(mock.urlFor('openai')));
    const response = await node.call('POST', `/_plugins/_ml/models/${modelId}/_predict`, {
      parameters: { messages },
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const [result] = response.body.inference_results;
    assert.equal(result.status_code, 200);
    assert.equal(result.output[0].name, 'response');
    assert.equal(result.output[0].dataAsMap.object, 'chat.completion');
    const [request] = mock.requests;
    assert.equal(request?.headers.authorization, `Bearer ${secret}`);
    assert.deepEqual(request?.body, { model: 'gpt-4.1', messages });
    assert.equal((request?.body as { stream?: boolean } | undefined)?.stream, undefined);
  });

  it('applies response_filter as a definite JSONPath', async () => {
    const modelId = await register(
      openAiConnector(mock.urlFor('openai'), {
        parameters: { model: 'gpt-4.1', response_filter: '$.choices[0].message.content' },
      }),
    );
    const response = await node.call('POST', `/_plugins/_ml/models/${modelId}/_predict`, {
      parameters: { messages },
    });
    assert.equal(response.status, 200);
    assert.equal(typeof response.body.inference_results[0].output[0].dataAsMap.response, 'string');
  });

  it('signs Bedrock Converse calls with SigV4', async () => {
    const modelId = await register({
      name: 'Bedrock on the mock',
      protocol: 'aws_sigv4',
      credential: {
        access_key: 'AKIDEXAMPLE',
        secret_key: 'bedrock-secret-key-123',
        session_token: 'session-token-abc',
      },
      parameters: {
        region: 'us-east-1',
        service_name: 'bedrock',
        model: 'us.anthropic.claude-3-7-sonnet-20250219-v1:0',
        response_filter: '$.output.message.content[0].text',
      },
      actions: [
        {
          action_type: 'predict',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          url: `${mock.url}/model/\${parameters.model}/converse`,
          request_body:
            '{"messages":[{"role":"user","content":[{"text":"${parameters.inputs}"}]}]}',
        },
      ],
    });
    const response = await node.call('POST', `/_plugins/_ml/models/${modelId}/_predict`, {
      parameters: { inputs: 'Line1\nLine2 "quoted"' },
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(typeof response.body.inference_results[0].output[0].dataAsMap.response, 'string');
    const [request] = mock.requests;
    assert.match(
      String(request?.headers.authorization),
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=[^,]*host[^,]*x-amz-date/,
    );
    assert.equal(request?.headers['x-amz-security-token'], 'session-token-abc');
    assert.equal(request?.modelId, 'us.anthropic.claude-3-7-sonnet-20250219-v1:0');
    assert.deepEqual(request?.body, {
      messages: [{ role: 'user', content: [{ text: 'Line1\nLine2 "quoted"' }] }],
    });
  });

  it('returns the provider status and body for provider errors, without secrets', async () => {
    mock.setScenario('openai', { status: 401 });
    const modelId = await register(openAiConnector(mock.urlFor('openai')));
    const response = await node.call('POST', `/_plugins/_ml/models/${modelId}/_predict`, {
      parameters: { messages },
    });
    assert.equal(response.status, 401);
    assert.match(response.body.error.reason, /^Error from remote service: /);
    assert.ok(!JSON.stringify(response.body).includes(secret));
    assert.doesNotMatch(response.body.error.reason, /\n\s+at /, 'no stack trace');
  });

  it('retries 5xx as client_config says', async () => {
    mock.setScenario('openai', { failFirstAttempts: 2, status: 503 });
    const modelId = await register(
      openAiConnector(mock.urlFor('openai'), {
        client_config: { max_retry_times: 2, retry_backoff_millis: 1 },
      }),
    );
    const response = await node.call('POST', `/_plugins/_ml/models/${modelId}/_predict`, {
      parameters: { messages },
    });
    assert.equal(response.status, 200);
    assert.equal(mock.requests.length, 3);
  });

  it('refuses a missing placeholder with ml-commons message, before calling out', async () => {
    const modelId = await register(openAiConnector(mock.urlFor('openai')));
    const response = await node.call('POST', `/_plugins/_ml/models/${modelId}/_predict`, {
      parameters: {},
    });
    assert.equal(response.status, 400);
    assert.equal(
      response.body.error.reason,
      'Some parameter placeholder not filled in payload: messages',
    );
    assert.equal(mock.requests.length, 0);
  });

  it('gates on model state: disabled 403, rate limit 429, undeployed without auto-deploy 400', async () => {
    const disabled = await register(openAiConnector(mock.urlFor('openai')), { is_enabled: false });
    const refused = await node.call('POST', `/_plugins/_ml/models/${disabled}/_predict`, {
      parameters: { messages },
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.reason, 'Model is disabled.');

    const limited = await register(openAiConnector(mock.urlFor('openai')), {
      rate_limiter: { limit: '1', unit: 'MINUTES' },
    });
    assert.equal(
      (
        await node.call('POST', `/_plugins/_ml/models/${limited}/_predict`, {
          parameters: { messages },
        })
      ).status,
      200,
    );
    const throttled = await node.call('POST', `/_plugins/_ml/models/${limited}/_predict`, {
      parameters: { messages },
    });
    assert.equal(throttled.status, 429);
    assert.equal(throttled.body.error.reason, 'Request is throttled at model level.');

    const registered = await node.call('POST', '/_plugins/_ml/models/_register', {
      name: 'not deployed',
      function_name: 'remote',
      connector: openAiConnector(mock.urlFor('openai')),
    });
    await node.call('PUT', '/_cluster/settings', {
      transient: { 'plugins.ml_commons.model_auto_deploy.enable': false },
    });
    const notReady = await node.call(
      'POST',
      `/_plugins/_ml/models/${registered.body.model_id}/_predict`,
      { parameters: { messages } },
    );
    assert.equal(notReady.status, 400);
    await node.call('PUT', '/_cluster/settings', {
      transient: { 'plugins.ml_commons.model_auto_deploy.enable': null },
    });
    const autoDeployed = await node.call(
      'POST',
      `/_plugins/_ml/models/${registered.body.model_id}/_predict`,
      { parameters: { messages } },
    );
    assert.equal(autoDeployed.status, 200);
    const model = await node.call('GET', `/_plugins/_ml/models/${registered.body.model_id}`);
    assert.equal(model.body.model_state, 'DEPLOYED');
  });

  it('sees a model update at once, although admissions are cached', async () => {
    const modelId = await register(openAiConnector(mock.urlFor('openai')));
    const predict = () =>
      node.call('POST', `/_plugins/_ml/models/${modelId}/_predict`, { parameters: { messages } });
    assert.equal((await predict()).status, 200);
    await node.call('PUT', `/_plugins/_ml/models/${modelId}`, { is_enabled: false });
    assert.equal((await predict()).status, 403);
    await node.call('PUT', `/_plugins/_ml/models/${modelId}`, { is_enabled: true });
    assert.equal((await predict()).status, 200);
  });

  it('re-checks the endpoint guard on every call', async () => {
    const modelId = await register(openAiConnector(mock.urlFor('openai')));
    await node.call('PUT', '/_cluster/settings', {
      persistent: { 'plugins.ml_commons.connector.private_ip_enabled': false },
    });
    const refused = await node.call('POST', `/_plugins/_ml/models/${modelId}/_predict`, {
      parameters: { messages },
    });
    assert.equal(refused.status, 400);
    assert.equal(mock.requests.length, 0);
    await node.allowLoopback();
  });

  it('never writes credentials to the logs', () => {
    assert.ok(lines.length > 0);
    const everything = lines.join('\n');
    assert.ok(!everything.includes(secret));
    assert.ok(!everything.includes('bedrock-secret-key-123'));
  });
});
