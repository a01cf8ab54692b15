import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { contentOf, postStream } from '../../test/helpers/sse-client.ts';
import { startTestNode, type TestNode } from '../../test/helpers/test-node.ts';
import { demoModelId } from './demo-model.ts';

describe('the keyless demo model', () => {
  let node: TestNode;
  let baseUrl: string;
  before(async () => {
    node = await startTestNode({ demoModel: true });
    baseUrl = await node.node.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => node.close());

  it('streams through the full path with usage, under the well-known id', async () => {
    const result = await postStream(
      baseUrl,
      `/_plugins/_ml/models/${demoModelId}/_predict/stream`,
      {
        parameters: { messages: [{ role: 'user', content: 'What is Sluice?' }] },
      },
    );
    assert.equal(result.status, 200, result.raw);
    const { text, last } = contentOf(result.events);
    assert.match(text, /^Hello from Sluice!/);
    assert.match(text, /You asked: "What is Sluice\?"/);
    const final = last.inference_results[0].output[0].dataAsMap;
    assert.equal(final.is_last, true);
    assert.equal(final.finish_reason, 'stop');
    assert.equal(final.usage.input_tokens, 3);
    assert.ok(result.events.length > 10, 'token by token');
  });

  it('answers non-streaming predict too, and is visible as a deployed model', async () => {
    const response = await node.call('POST', `/_plugins/_ml/models/${demoModelId}/_predict`, {
      parameters: { messages: [{ role: 'user', content: 'Hi' }] },
    });
    assert.equal(response.status, 200);
    assert.match(
      response.body.inference_results[0].output[0].dataAsMap.choices[0].message.content,
      /Sluice/,
    );
    const model = await node.call('GET', `/_plugins/_ml/models/${demoModelId}`);
    assert.equal(model.body.model_state, 'DEPLOYED');
  });

  it('does not open the endpoint guard for anything else on loopback', async () => {
    const refused = await node.call('POST', '/_plugins/_ml/connectors/_create', {
      name: 'sneaky',
      protocol: 'http',
      actions: [
        { action_type: 'predict', method: 'POST', url: 'http://127.0.0.1:1/v1/chat/completions' },
      ],
    });
    assert.equal(refused.status, 400);
  });
});
