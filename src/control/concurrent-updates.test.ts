/**
 * Concurrent writes through the control-plane services on a real node (SQLite): nothing a
 * request wrote is lost to another one, and a burst of first predicts deploys a model once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestNode, type TestNode } from '../../test/helpers/test-node.ts';
import { openAiConnector as connector } from '../api/control-plane.fixtures.ts';

describe('control-plane services under concurrent writes', () => {
  let node: TestNode;
  before(async () => {
    node = await startTestNode();
  });
  after(async () => node.close());

  async function registerModel(): Promise<string> {
    const { status, body } = await node.call('POST', '/_plugins/_ml/models/_register', {
      name: `model ${Math.random()}`,
      function_name: 'remote',
      connector,
    });
    assert.equal(status, 200, JSON.stringify(body));
    return body.model_id;
  }

  it('a burst of auto-deploys deploys the model once, and every one succeeds', async () => {
    const modelId = await registerModel();
    const { models } = node.node.services;
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, () => models.autoDeploy(modelId)),
    );
    assert.deepEqual(
      results.filter((result) => result.status === 'rejected'),
      [],
    );
    const stored = await node.node.store.getModel(modelId);
    assert.equal(stored?.document.model_state, 'DEPLOYED');
    assert.equal(stored?.version, 2, 'one write');
  });

  it('concurrent updates of different fields of one model keep every field', async () => {
    const modelId = await registerModel();
    const path = `/_plugins/_ml/models/${modelId}`;
    const updates = [
      { description: 'described' },
      { rate_limiter: { limit: '4', unit: 'MINUTES' } },
      { is_enabled: false },
      { interface: { input: '{"type":"object"}' } },
    ];
    const responses = await Promise.all(updates.map((update) => node.call('PUT', path, update)));
    for (const response of responses) assert.equal(response.status, 200);
    const versions = responses.map((response) => response.body._version).sort();
    assert.deepEqual(versions, [2, 3, 4, 5], 'each update got a version of its own');
    const stored = await node.node.store.getModel(modelId);
    assert.equal(stored?.document.description, 'described');
    assert.deepEqual(stored?.document.rate_limiter, { limit: '4', unit: 'MINUTES' });
    assert.equal(stored?.document.is_enabled, false);
    assert.deepEqual(stored?.document.interface, { input: '{"type":"object"}' });
  });

  it('concurrent connector updates keep every field', async () => {
    const created = await node.call('POST', '/_plugins/_ml/connectors/_create', connector);
    assert.equal(created.status, 200);
    const path = `/_plugins/_ml/connectors/${created.body.connector_id}`;
    const responses = await Promise.all([
      node.call('PUT', path, { description: 'described' }),
      node.call('PUT', path, { parameters: { endpoint: 'api.openai.com', model: 'gpt-4o' } }),
    ]);
    for (const response of responses) assert.equal(response.status, 200);
    const stored = await node.node.store.getConnector(created.body.connector_id);
    assert.equal(stored?.document.description, 'described');
    assert.equal(stored?.document.parameters?.['model'], 'gpt-4o');
  });

  it('an object schema is stored as its text', async () => {
    const modelId = await registerModel();
    const schema = { type: 'object', required: ['parameters'] };
    const response = await node.call('PUT', `/_plugins/_ml/models/${modelId}`, {
      interface: { input: schema },
    });
    assert.equal(response.status, 200);
    const stored = await node.node.store.getModel(modelId);
    assert.equal(stored?.document.interface?.['input'], JSON.stringify(schema));
  });
});
