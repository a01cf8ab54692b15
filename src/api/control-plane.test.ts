import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { TestNode } from '../../test/helpers/test-node.ts';
import {
  assertOpenSearchError,
  openAiConnector,
  startControlPlaneNode,
} from './control-plane.fixtures.ts';

interface Blueprint {
  method: string;
  path: string;
  body: Record<string, unknown>;
}

const blueprints: Blueprint[] = JSON.parse(
  readFileSync(new URL('../../test/helpers/blueprints.json', import.meta.url), 'utf8'),
);

describe('control plane', () => {
  let node: TestNode;
  before(async () => {
    node = await startControlPlaneNode();
  });
  after(async () => node.close());

  it('answers GET / with name, version and node id', async () => {
    const { status, body } = await node.call('GET', '/');
    assert.equal(status, 200);
    assert.equal(body.name, node.node.membership.self.name);
    assert.equal(body.cluster_name, 'sluice');
    assert.equal(body.version, '0.1.0');
    assert.equal(body.node_id, node.node.nodeId);
  });

  it('accepts every blueprint of blueprints.md verbatim', async () => {
    // The documentation's ids (e.g. "nMopmY8B8aiZvtEZLu9B") stand for ids returned by the steps
    // before; they are swapped for the ids this node returned, everything else is verbatim.
    let lastConnectorId = '';
    let lastGroupId = '';
    for (const blueprint of blueprints) {
      const isControlPlane =
        blueprint.path.includes('_create') ||
        blueprint.path.includes('_register') ||
        blueprint.path.includes('_cluster/settings');
      if (!isControlPlane || blueprint.path.includes('/agents/')) continue;
      const path = blueprint.path.startsWith('/') ? blueprint.path : `/${blueprint.path}`;
      const body: any = { ...blueprint.body };
      if (typeof body.connector_id === 'string') body.connector_id = lastConnectorId;
      if (typeof body.model_group_id === 'string') body.model_group_id = lastGroupId;
      const response = await node.call(blueprint.method, path, body);
      assert.equal(
        response.status,
        200,
        `${blueprint.method} ${path}: ${JSON.stringify(response.body)}`,
      );
      lastConnectorId = response.body.connector_id ?? lastConnectorId;
      lastGroupId = response.body.model_group_id ?? lastGroupId;
    }
    const reset = await node.call('PUT', '/_cluster/settings', {
      persistent: { 'plugins.ml_commons.trusted_connector_endpoints_regex': null },
    });
    assert.equal(reset.status, 200);
  });

  it('creates, reads (masked), updates, searches and deletes a connector', async () => {
    const created = await node.call('POST', '/_plugins/_ml/connectors/_create', openAiConnector);
    assert.equal(created.status, 200);
    const id = created.body.connector_id;
    assert.match(id, /^[A-Za-z0-9_-]{20}$/);

    const read = await node.call('GET', `/_plugins/_ml/connectors/${id}`);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.credential, { openAI_key: '*****' });
    assert.equal(read.body.parameters.temperature, '0.5');
    assert.equal(read.body.actions[0].action_type, 'PREDICT');
    assert.ok(!JSON.stringify(read.body).includes('sk-test-secret-value'));

    const updated = await node.call('PUT', `/_plugins/_ml/connectors/${id}`, {
      description: 'updated',
      parameters: { model: 'gpt-4o' },
    });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.result, 'updated');
    const reread = await node.call('GET', `/_plugins/_ml/connectors/${id}`);
    assert.equal(reread.body.description, 'updated');
    assert.deepEqual(reread.body.parameters, {
      endpoint: 'api.openai.com',
      model: 'gpt-4o',
      temperature: '0.5',
    });

    const found = await node.call('POST', '/_plugins/_ml/connectors/_search', {
      query: { term: { _id: id } },
    });
    assert.equal(found.status, 200);
    const searched = await node.call('POST', '/_plugins/_ml/connectors/_search', {
      query: { match: { description: 'updated' } },
      size: 5,
    });
    assert.equal(searched.body.hits.total.value, 1);
    assert.equal(searched.body.hits.hits[0]._id, id);
    assert.deepEqual(searched.body.hits.hits[0]._source.credential, { openAI_key: '*****' });

    const deleted = await node.call('DELETE', `/_plugins/_ml/connectors/${id}`);
    assert.equal(deleted.body.result, 'deleted');
    const gone = await node.call('GET', `/_plugins/_ml/connectors/${id}`);
    assert.equal(gone.status, 404);
    assertOpenSearchError(gone.body, 404, /Failed to find connector/);
  });

  it('stores credentials encrypted, never in plain text', async () => {
    const created = await node.call('POST', '/_plugins/_ml/connectors/_create', openAiConnector);
    const stored = await node.node.store.getConnector(created.body.connector_id);
    const value = stored?.document.credential?.['openAI_key'] ?? '';
    assert.match(value, /^v1:/);
    assert.ok(!value.includes('sk-test'));
  });

  it('refuses to delete a connector that a model uses', async () => {
    const created = await node.call('POST', '/_plugins/_ml/connectors/_create', openAiConnector);
    const connectorId = created.body.connector_id;
    const model = await node.call('POST', '/_plugins/_ml/models/_register', {
      name: 'uses the connector',
      function_name: 'remote',
      connector_id: connectorId,
    });
    assert.equal(model.status, 200);
    const refused = await node.call('DELETE', `/_plugins/_ml/connectors/${connectorId}`);
    assert.equal(refused.status, 409);
    assertOpenSearchError(refused.body, 409, /still using this connector/);
    assert.ok(refused.body.error.reason.includes(model.body.model_id));
    assert.equal((await node.call('GET', `/_plugins/_ml/connectors/${connectorId}`)).status, 200);
    assert.equal(
      (await node.call('DELETE', `/_plugins/_ml/models/${model.body.model_id}`)).status,
      200,
    );
    assert.equal(
      (await node.call('DELETE', `/_plugins/_ml/connectors/${connectorId}`)).status,
      200,
    );
  });

  it('registers, deploys, updates, undeploys and deletes a model, with tasks', async () => {
    const group = await node.call('POST', '/_plugins/_ml/model_groups/_register', {
      name: 'chat models',
      description: 'for the test',
    });
    assert.equal(group.status, 200);
    assert.equal(group.body.status, 'CREATED');
    const registered = await node.call('POST', '/_plugins/_ml/models/_register', {
      name: 'chat',
      function_name: 'remote',
      model_group_id: group.body.model_group_id,
      connector: openAiConnector,
    });
    assert.equal(registered.status, 200);
    assert.equal(registered.body.status, 'CREATED');
    const modelId = registered.body.model_id;
    const task = await node.call('GET', `/_plugins/_ml/tasks/${registered.body.task_id}`);
    assert.equal(task.body.task_type, 'REGISTER_MODEL');
    assert.equal(task.body.state, 'COMPLETED');
    assert.equal(task.body.model_id, modelId);

    const model = await node.call('GET', `/_plugins/_ml/models/${modelId}`);
    assert.equal(model.body.model_state, 'REGISTERED');
    assert.equal(model.body.algorithm, 'REMOTE');
    assert.equal(model.body.model_version, '1');
    assert.deepEqual(model.body.connector.credential, { openAI_key: '*****' });

    const deployed = await node.call('POST', `/_plugins/_ml/models/${modelId}/_deploy`);
    assert.equal(deployed.body.status, 'COMPLETED');
    assert.equal(
      (await node.call('GET', `/_plugins/_ml/tasks/${deployed.body.task_id}`)).body.task_type,
      'DEPLOY_MODEL',
    );
    assert.equal(
      (await node.call('GET', `/_plugins/_ml/models/${modelId}`)).body.model_state,
      'DEPLOYED',
    );

    const refusedDelete = await node.call('DELETE', `/_plugins/_ml/models/${modelId}`);
    assert.equal(refusedDelete.status, 400);

    const updated = await node.call('PUT', `/_plugins/_ml/models/${modelId}`, {
      rate_limiter: { limit: '4', unit: 'MINUTES' },
      is_enabled: false,
    });
    assert.equal(updated.status, 200);
    const after = await node.call('GET', `/_plugins/_ml/models/${modelId}`);
    assert.deepEqual(after.body.rate_limiter, { limit: '4', unit: 'MINUTES' });
    assert.equal(after.body.is_enabled, false);

    const undeployed = await node.call('POST', `/_plugins/_ml/models/${modelId}/_undeploy`);
    assert.deepEqual(undeployed.body, {
      [node.node.nodeId]: { stats: { [modelId]: 'undeployed' } },
    });
    assert.equal(
      (await node.call('GET', `/_plugins/_ml/models/${modelId}`)).body.model_state,
      'UNDEPLOYED',
    );

    const second = await node.call('POST', '/_plugins/_ml/models/_register?deploy=true', {
      name: 'chat v2',
      function_name: 'remote',
      model_group_id: group.body.model_group_id,
      connector: openAiConnector,
    });
    assert.equal(
      (await node.call('GET', `/_plugins/_ml/models/${second.body.model_id}`)).body.model_version,
      '2',
    );
    assert.equal(
      (await node.call('GET', `/_plugins/_ml/models/${second.body.model_id}`)).body.model_state,
      'DEPLOYED',
    );

    const search = await node.call('POST', '/_plugins/_ml/models/_search', {
      query: { bool: { must: [{ term: { model_group_id: group.body.model_group_id } }] } },
      sort: [{ model_version: { order: 'desc' } }],
    });
    assert.equal(search.body.hits.total.value, 2);
    assert.equal(search.body.hits.hits[0]._id, second.body.model_id);

    const groupDelete = await node.call(
      'DELETE',
      `/_plugins/_ml/model_groups/${group.body.model_group_id}`,
    );
    assert.equal(groupDelete.status, 409);
    assert.equal((await node.call('DELETE', `/_plugins/_ml/models/${modelId}`)).status, 200);
    assert.equal((await node.call('GET', `/_plugins/_ml/models/${modelId}`)).status, 404);
  });

  it('lists nodes with roles, liveness and deployed models, and deploys to given node ids', async () => {
    const registered = await node.call('POST', '/_plugins/_ml/models/_register', {
      name: 'placed model',
      function_name: 'remote',
      connector: openAiConnector,
    });
    const modelId = registered.body.model_id;
    const unknown = await node.call('POST', `/_plugins/_ml/models/${modelId}/_deploy`, {
      node_ids: ['no-such-node'],
    });
    assert.equal(unknown.status, 400);
    assertOpenSearchError(unknown.body, 400, /not live ML nodes/);
    const deployed = await node.call('POST', `/_plugins/_ml/models/${modelId}/_deploy`, {
      node_ids: [node.node.nodeId],
    });
    assert.equal(deployed.status, 200);
    const model = await node.call('GET', `/_plugins/_ml/models/${modelId}`);
    assert.equal(model.body.model_state, 'DEPLOYED');
    assert.deepEqual(model.body.planning_worker_nodes, [node.node.nodeId]);
    assert.equal(model.body.current_worker_node_count, 1);

    const nodes = await node.call('GET', '/_nodes');
    assert.equal(nodes.status, 200);
    assert.equal(nodes.body._nodes.total, 1);
    const self = nodes.body.nodes[node.node.nodeId];
    assert.deepEqual(self.roles, ['coordinator', 'ml']);
    assert.equal(self.live, true);
    assert.equal(self.active_streams, 0);
    assert.ok(self.deployed_models.includes(modelId));
    assert.equal(typeof self.last_seen, 'number');
  });

  it('updates, reads and searches model groups', async () => {
    const group = await node.call('POST', '/_plugins/_ml/model_groups/_register', {
      name: 'group to edit',
    });
    const id = group.body.model_group_id;
    assert.equal(
      (await node.call('PUT', `/_plugins/_ml/model_groups/${id}`, { description: 'edited' }))
        .status,
      200,
    );
    assert.equal(
      (await node.call('GET', `/_plugins/_ml/model_groups/${id}`)).body.description,
      'edited',
    );
    const duplicate = await node.call('POST', '/_plugins/_ml/model_groups/_register', {
      name: 'GROUP TO EDIT',
    });
    assert.equal(duplicate.status, 400);
    const search = await node.call('GET', '/_plugins/_ml/model_groups/_search');
    assert.ok(search.body.hits.total.value >= 1);
    assert.equal((await node.call('DELETE', `/_plugins/_ml/model_groups/${id}`)).status, 200);
  });

  it('stores settings in flat or nested form, and refuses unknown keys', async () => {
    const put = await node.call('PUT', '/_cluster/settings', {
      persistent: { plugins: { ml_commons: { stream_enabled: false } } },
      transient: { 'plugins.ml_commons.model_auto_deploy.enable': 'false' },
    });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body.persistent, { plugins: { ml_commons: { stream_enabled: 'false' } } });
    assert.equal(node.node.services.settings.current().streamEnabled, false);
    assert.equal(node.node.services.settings.current().modelAutoDeploy, false);
    const flat = await node.call('GET', '/_cluster/settings?flat_settings=true');
    assert.equal(flat.body.persistent['plugins.ml_commons.stream_enabled'], 'false');
    const reset = await node.call('PUT', '/_cluster/settings', {
      persistent: { 'plugins.ml_commons.stream_enabled': null },
      transient: { 'plugins.ml_commons.model_auto_deploy.enable': null },
    });
    assert.equal(reset.status, 200);
    assert.equal(node.node.services.settings.current().streamEnabled, true);

    const unknown = await node.call('PUT', '/_cluster/settings', {
      persistent: { 'plugins.ml_commons.no_such_setting': true },
    });
    assert.equal(unknown.status, 400);
    assertOpenSearchError(unknown.body, 400, /not recognized/);
    const wrongType = await node.call('PUT', '/_cluster/settings', {
      persistent: { 'plugins.ml_commons.stream_enabled': 'yes' },
    });
    assert.equal(wrongType.status, 400);
    const defaults = await node.call(
      'GET',
      '/_cluster/settings?include_defaults=true&flat_settings=true',
    );
    assert.equal(defaults.body.defaults['plugins.ml_commons.stream_enabled'], 'true');
  });
});
