/**
 * A real cluster: embedded PostgreSQL, one coordinator-only node and two ML-only nodes as separate
 * processes on loopback, a mock OpenAI-format provider. Streams flow coordinator → Arrow Flight →
 * ML node → provider; an ML node killed mid-stream becomes one error event; it rejoins on restart.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../helpers/embedded-postgres.ts';
import { type ProcessNode, startProcessNode } from '../helpers/process-node.ts';
import { contentOf, postStream } from '../helpers/sse-client.ts';
import { expectedSummary } from '../mock-provider/expected.ts';
import { type MockProvider, startMockProvider } from '../mock-provider/server.ts';

async function json(
  url: string,
  method = 'GET',
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

/** Polls until `check` passes (bounded), so tests wait for heartbeats without fixed sleeps. */
async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  check: (value: T) => boolean,
): Promise<T> {
  let last: T | undefined;
  for (let attempt = 0; attempt < 150; attempt += 1) {
    last = await probe();
    if (check(last)) return last;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

describe('a three-node cluster on PostgreSQL', () => {
  let postgres: EmbeddedPostgres;
  let mock: MockProvider;
  let root: string;
  let databaseUrl: string;
  const nodes: Record<'coordinator' | 'ml1' | 'ml2', ProcessNode | undefined> = {
    coordinator: undefined,
    ml1: undefined,
    ml2: undefined,
  };
  const environment = () => ({
    SLUICE_DATABASE_URL: databaseUrl,
    SLUICE_CLUSTER_SECRET: 'cluster secret for the e2e test',
    SLUICE_MASTER_KEY: 'master key for the e2e test',
    SLUICE_DEMO_MODEL: 'false',
    SLUICE_HEARTBEAT_MS: '200',
    SLUICE_LEASE_MS: '1000',
    SLUICE_LOG_LEVEL: 'warn',
  });
  const startMl = (name: 'ml1' | 'ml2') =>
    startProcessNode(
      [
        '--http-port',
        '0',
        '--flight-port',
        '0',
        '--node-roles',
        'ml',
        '--node-name',
        name,
        '--data-dir',
        join(root, name),
      ],
      environment(),
    );
  const coordinatorUrl = () => nodes.coordinator?.baseUrl ?? '';
  const liveNodes = async () => {
    const response = await json(`${coordinatorUrl()}/_nodes`);
    return Object.entries(response.body.nodes as Record<string, any>).filter(
      ([, node]) => node.live,
    );
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sluice-cluster-'));
    postgres = await startEmbeddedPostgres();
    databaseUrl = postgres.connectionString(await postgres.createDatabase());
    mock = await startMockProvider();
    nodes.coordinator = await startProcessNode(
      [
        '--http-port',
        '0',
        '--node-roles',
        'coordinator',
        '--node-name',
        'coordinator',
        '--data-dir',
        join(root, 'coordinator'),
      ],
      environment(),
    );
    [nodes.ml1, nodes.ml2] = await Promise.all([startMl('ml1'), startMl('ml2')]);
  });

  after(async () => {
    await Promise.all(Object.values(nodes).map((node) => node?.stop()));
    await mock?.close();
    await postgres?.close();
    await rm(root, { recursive: true, force: true });
  });

  let modelId: string;

  it('lists every node with roles, addresses and liveness', async () => {
    const live = await eventually('three live nodes', liveNodes, (list) => list.length === 3);
    const byName = Object.fromEntries(live.map(([, node]) => [node.name, node]));
    assert.deepEqual(byName.coordinator.roles, ['coordinator']);
    assert.equal(byName.coordinator.flight_address, null);
    assert.deepEqual(byName.ml1.roles, ['ml']);
    assert.match(byName.ml1.flight_address, /^127\.0\.0\.1:\d+$/);
    assert.equal(byName.ml2.flight_address, nodes.ml2?.flightAddress);
  });

  it('spreads settings changes to every node', async () => {
    const put = await json(`${coordinatorUrl()}/_cluster/settings`, 'PUT', {
      persistent: {
        'plugins.ml_commons.connector.private_ip_enabled': true,
        'plugins.ml_commons.trusted_connector_endpoints_regex': [
          '^http://127\\.0\\.0\\.1:\\d+/.*$',
        ],
      },
    });
    assert.equal(put.status, 200);
    for (const node of [nodes.ml1, nodes.ml2]) {
      await eventually(
        'the setting on an ML node',
        () => json(`${node?.baseUrl}/_cluster/settings?flat_settings=true`),
        (response) =>
          response.body.persistent['plugins.ml_commons.connector.private_ip_enabled'] === 'true',
      );
    }
  });

  it('streams through the coordinator and an ML node over Arrow Flight', async () => {
    const registered = await json(
      `${coordinatorUrl()}/_plugins/_ml/models/_register?deploy=true`,
      'POST',
      {
        name: 'clustered',
        function_name: 'remote',
        connector: {
          name: 'mock openai',
          protocol: 'http',
          actions: [
            {
              action_type: 'predict',
              method: 'POST',
              url: mock.urlFor('openai'),
              request_body: '{ "model": "gpt-4.1", "messages": ${parameters.messages} }',
            },
          ],
        },
      },
    );
    assert.equal(registered.status, 200, JSON.stringify(registered.body));
    modelId = registered.body.model_id;
    const model = await json(`${coordinatorUrl()}/_plugins/_ml/models/${modelId}`);
    assert.equal(model.body.model_state, 'DEPLOYED');
    assert.equal(model.body.current_worker_node_count, 2);

    const parameters = { messages: [{ role: 'user', content: 'Hello' }] };
    const result = await postStream(
      coordinatorUrl(),
      `/_plugins/_ml/models/${modelId}/_predict/stream`,
      { parameters },
    );
    assert.equal(result.status, 200, result.raw);
    const expected = expectedSummary('openai', 'text');
    const { text, last } = contentOf(result.events);
    assert.equal(text, expected.text);
    assert.equal(last.inference_results[0].output[0].dataAsMap.is_last, true);
    assert.deepEqual(last.inference_results[0].output[0].dataAsMap.usage, expected.usage);

    const predict = await json(
      `${coordinatorUrl()}/_plugins/_ml/models/${modelId}/_predict`,
      'POST',
      { parameters },
    );
    assert.equal(predict.status, 200, JSON.stringify(predict.body));
    assert.equal(predict.body.inference_results[0].output[0].dataAsMap.object, 'chat.completion');
  });

  it('uses both ML nodes for concurrent streams', async () => {
    mock.setScenario('openai', { delayBetweenEventsMs: 150 });
    const parameters = { messages: [{ role: 'user', content: 'Hello' }] };
    const streams = Array.from({ length: 4 }, () =>
      postStream(coordinatorUrl(), `/_plugins/_ml/models/${modelId}/_predict/stream`, {
        parameters,
      }),
    );
    const busy = await eventually(
      'both ML nodes busy',
      liveNodes,
      (list) =>
        list.filter(([, node]) => node.roles.includes('ml') && node.active_streams > 0).length ===
        2,
    );
    assert.equal(busy.length, 3);
    for (const result of await Promise.all(streams)) {
      assert.equal(
        contentOf(result.events).last.inference_results[0].output[0].dataAsMap.is_last,
        true,
      );
    }
    mock.reset();
  });

  it('cancels the ML node and its provider request when the client leaves the coordinator', async () => {
    mock.setScenario('openai', { delayBetweenEventsMs: 200 });
    try {
      const outgoing = request(
        new URL(`/_plugins/_ml/models/${modelId}/_predict/stream`, coordinatorUrl()),
        { method: 'POST', headers: { 'content-type': 'application/json' } },
      );
      outgoing.on('error', () => {});
      outgoing.end(JSON.stringify({ parameters: { messages: [{ role: 'user', content: 'Hi' }] } }));
      const [response] = await once(outgoing, 'response');
      await once(response, 'data');
      outgoing.destroy();
      // Coordinator → Flight cancel → ML node → provider request closed.
      const closed = await mock.waitForClose();
      assert.equal(closed.end, 'client-closed');
      assert.ok(closed.eventsSent < 5, `the provider kept streaming: ${closed.eventsSent} events`);
    } finally {
      mock.reset();
    }
  });

  it('splits a model rate limit across its ML nodes (ml-commons formula)', async () => {
    // limit 2 per minute on 2 nodes: each node's bucket holds max(2 / 2, 1) = 1 token.
    const registered = await json(
      `${coordinatorUrl()}/_plugins/_ml/models/_register?deploy=true`,
      'POST',
      {
        name: 'rate limited',
        function_name: 'remote',
        rate_limiter: { limit: '2', unit: 'MINUTES' },
        connector: {
          name: 'mock openai',
          protocol: 'http',
          actions: [
            {
              action_type: 'predict',
              method: 'POST',
              url: mock.urlFor('openai'),
              request_body: '{ "model": "gpt-4.1", "messages": ${parameters.messages} }',
            },
          ],
        },
      },
    );
    const limitedId = registered.body.model_id;
    const parameters = { messages: [{ role: 'user', content: 'Hello' }] };
    // Streams of the test before may still show in heartbeats; with both nodes idle the router
    // alternates between them (ties in turn), so requests go A, B, A.
    await eventually('idle ML nodes', liveNodes, (list) =>
      list.every(([, node]) => node.active_streams === 0),
    );
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const response = await json(
        `${coordinatorUrl()}/_plugins/_ml/models/${limitedId}/_predict`,
        'POST',
        { parameters },
      );
      statuses.push(response.status);
      if (response.status === 429) {
        assert.equal(response.body.error.reason, 'Request is throttled at model level.');
      }
    }
    assert.deepEqual(statuses, [200, 200, 429]);
  });

  it('turns an ML node killed mid-stream into one error event, then fails over', async () => {
    mock.setScenario('openai', { delayBetweenEventsMs: 300 });
    const parameters = { messages: [{ role: 'user', content: 'Hello' }] };
    // Heartbeats lag: first see every ML node idle, so the busy one is the one serving this stream.
    await eventually('idle ML nodes', liveNodes, (list) =>
      list.every(([, node]) => node.active_streams === 0),
    );
    const pending = postStream(
      coordinatorUrl(),
      `/_plugins/_ml/models/${modelId}/_predict/stream`,
      { parameters },
    );
    const live = await eventually('a busy ML node', liveNodes, (list) =>
      list.some(([, node]) => node.roles.includes('ml') && node.active_streams > 0),
    );
    const busyName = live.find(
      ([, node]) => node.roles.includes('ml') && node.active_streams > 0,
    )?.[1].name as 'ml1' | 'ml2';
    await nodes[busyName]?.stop('SIGKILL');
    const result = await pending;
    assert.equal(result.status, 200);
    const lastEvent = result.events.at(-1);
    assert.match(
      String(lastEvent.error),
      new RegExp(`ML node ${busyName} was lost mid-stream`),
      result.raw.slice(-600),
    );
    assert.ok(!result.raw.includes('"is_last":true'));

    mock.reset();
    const next = await postStream(
      coordinatorUrl(),
      `/_plugins/_ml/models/${modelId}/_predict/stream`,
      { parameters },
    );
    assert.equal(
      contentOf(next.events).last.inference_results[0].output[0].dataAsMap.is_last,
      true,
    );

    const model = await eventually(
      'the dead node to leave the model',
      () => json(`${coordinatorUrl()}/_plugins/_ml/models/${modelId}`),
      (response) => response.body.current_worker_node_count === 1,
    );
    assert.equal(model.body.model_state, 'DEPLOYED');

    nodes[busyName] = await startMl(busyName);
    await eventually('the restarted node to rejoin', liveNodes, (list) => list.length === 3);
  });

  it('shows PARTIALLY_DEPLOYED and UNDEPLOYED as planned nodes die, and routes only to planned nodes', async () => {
    const ml1Id = nodes.ml1?.nodeId ?? '';
    const deployed = await json(
      `${coordinatorUrl()}/_plugins/_ml/models/${modelId}/_deploy`,
      'POST',
      {
        node_ids: [ml1Id, nodes.ml2?.nodeId],
      },
    );
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    await nodes.ml2?.stop('SIGKILL');
    const partial = await eventually(
      'PARTIALLY_DEPLOYED',
      () => json(`${coordinatorUrl()}/_plugins/_ml/models/${modelId}`),
      (response) => response.body.model_state === 'PARTIALLY_DEPLOYED',
    );
    assert.equal(partial.body.current_worker_node_count, 1);
    const parameters = { messages: [{ role: 'user', content: 'Hello' }] };
    const served = await postStream(
      coordinatorUrl(),
      `/_plugins/_ml/models/${modelId}/_predict/stream`,
      { parameters },
    );
    assert.equal(
      contentOf(served.events).last.inference_results[0].output[0].dataAsMap.is_last,
      true,
    );

    await nodes.ml1?.stop('SIGKILL');
    await eventually(
      'UNDEPLOYED',
      () => json(`${coordinatorUrl()}/_plugins/_ml/models/${modelId}`),
      (response) => response.body.model_state === 'UNDEPLOYED',
    );
    const refused = await postStream(
      coordinatorUrl(),
      `/_plugins/_ml/models/${modelId}/_predict/stream`,
      { parameters },
    );
    assert.equal(refused.status, 503);
    assert.match(JSON.parse(refused.raw).error.reason, /No live ML node serves model/);
  });
});
