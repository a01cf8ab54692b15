import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runFailingNode, startProcessNode } from '../helpers/process-node.ts';

const connector = {
  name: 'persisted',
  protocol: 'http',
  parameters: { model: 'gpt-4o-mini' },
  credential: { openAI_key: 'sk-persisted-secret' },
  actions: [
    {
      action_type: 'predict',
      method: 'POST',
      url: 'https://api.openai.com/v1/chat/completions',
      headers: { Authorization: 'Bearer ${credential.openAI_key}' },
      request_body: '{ "model": "${parameters.model}", "messages": ${parameters.messages} }',
    },
  ],
};

async function json(url: string, init?: RequestInit): Promise<any> {
  const response = await fetch(url, {
    ...init,
    headers: { 'content-type': 'application/json', ...init?.headers },
  });
  return { status: response.status, body: await response.json() };
}

describe('a real process restart', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sluice-restart-'));
  });
  after(async () => rm(dataDir, { recursive: true, force: true }));

  it('keeps connectors, models, settings and the node id, with a generated key file', async () => {
    const first = await startProcessNode(['--http-port', '0', '--data-dir', dataDir]);
    let connectorId: string;
    let modelId: string;
    try {
      assert.match(first.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      const created = await json(`${first.baseUrl}/_plugins/_ml/connectors/_create`, {
        method: 'POST',
        body: JSON.stringify(connector),
      });
      assert.equal(created.status, 200);
      connectorId = created.body.connector_id;
      const model = await json(`${first.baseUrl}/_plugins/_ml/models/_register?deploy=true`, {
        method: 'POST',
        body: JSON.stringify({
          name: 'persisted model',
          function_name: 'remote',
          connector_id: connectorId,
        }),
      });
      modelId = model.body.model_id;
      const settings = await json(`${first.baseUrl}/_cluster/settings`, {
        method: 'PUT',
        body: JSON.stringify({ persistent: { 'plugins.ml_commons.stream_enabled': false } }),
      });
      assert.equal(settings.status, 200);
    } finally {
      assert.equal(await first.stop('SIGTERM'), 0);
    }
    assert.ok(!first.output().includes('sk-persisted-secret'));

    const second = await startProcessNode(['--http-port', '0', '--data-dir', dataDir]);
    try {
      assert.equal(second.nodeId, first.nodeId);
      const connectorView = await json(`${second.baseUrl}/_plugins/_ml/connectors/${connectorId}`);
      assert.equal(connectorView.status, 200);
      assert.deepEqual(connectorView.body.credential, { openAI_key: '*****' });
      const modelView = await json(`${second.baseUrl}/_plugins/_ml/models/${modelId}`);
      assert.equal(modelView.body.model_state, 'DEPLOYED');
      const settings = await json(`${second.baseUrl}/_cluster/settings?flat_settings=true`);
      assert.equal(settings.body.persistent['plugins.ml_commons.stream_enabled'], 'false');
    } finally {
      await second.stop();
    }
  });

  it('refuses to start with a master key that does not match the data', async () => {
    const { code, output } = await runFailingNode(['--http-port', '0', '--data-dir', dataDir], {
      SLUICE_MASTER_KEY: 'a different master key entirely',
    });
    assert.equal(code, 1);
    assert.match(output, /master key does not match/);
  });

  it('refuses an invalid configuration with a clear message', async () => {
    const { code, output } = await runFailingNode(['--http-port', 'eighty']);
    assert.equal(code, 2);
    assert.match(output, /SLUICE_HTTP_PORT must be an integer/);
  });
});
