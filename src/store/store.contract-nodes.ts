/**
 * Store contract scenarios for cluster nodes: heartbeats insert or replace one record per node,
 * listings keep the order of first heartbeat and include expired leases, removal is by id.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { rejectsWithServiceError, type Scenario } from './store.contract-fixtures.ts';
import type { NodeRecord } from './store.ts';

/** Epoch milliseconds well past 2^32, as real clocks give. */
const now = 1_760_000_000_123;

function nodeRecord(overrides: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id: 'node-a',
    name: 'node a',
    roles: ['coordinator', 'ml'],
    httpAddress: 'http://127.0.0.1:9200',
    flightAddress: '127.0.0.1:8815',
    startedAt: now - 60_000,
    lastSeen: now,
    leaseExpiresAt: now + 5_000,
    activeStreams: 0,
    ...overrides,
  };
}

export function nodeScenarios(test: Scenario): void {
  describe('nodes', () => {
    test('a heartbeat inserts the node, the next one replaces it', async (store) => {
      assert.deepEqual(await store.listNodes(), []);
      await store.heartbeatNode(nodeRecord());
      assert.deepEqual(await store.listNodes(), [nodeRecord()]);
      const later = nodeRecord({
        name: 'renamed',
        roles: ['ml'],
        httpAddress: 'http://10.0.0.2:9200',
        flightAddress: '10.0.0.2:8815',
        lastSeen: now + 1_000,
        leaseExpiresAt: now + 6_000,
        activeStreams: 12,
      });
      await store.heartbeatNode(later);
      assert.deepEqual(await store.listNodes(), [later], 'still one record, every field replaced');
    });

    test('list is in order of first heartbeat and includes expired leases', async (store) => {
      await store.heartbeatNode(nodeRecord({ id: 'zeta' }));
      await store.heartbeatNode(nodeRecord({ id: 'alpha', leaseExpiresAt: 1, lastSeen: 0 }));
      await store.heartbeatNode(nodeRecord({ id: 'mid' }));
      await store.heartbeatNode(nodeRecord({ id: 'zeta', lastSeen: now + 1 }));
      const listed = await store.listNodes();
      assert.deepEqual(
        listed.map((node) => [node.id, node.lastSeen]),
        [
          ['zeta', now + 1],
          ['alpha', 0],
          ['mid', now],
        ],
      );
    });

    test('remove deletes one node and reports unknown ids', async (store) => {
      await store.heartbeatNode(nodeRecord({ id: 'a' }));
      await store.heartbeatNode(nodeRecord({ id: 'b' }));
      assert.equal(await store.removeNode('a'), true);
      assert.equal(await store.removeNode('a'), false);
      assert.equal(await store.removeNode('unknown'), false);
      assert.deepEqual(
        (await store.listNodes()).map((node) => node.id),
        ['b'],
      );
      await store.heartbeatNode(nodeRecord({ id: 'a' }));
      assert.deepEqual(
        (await store.listNodes()).map((node) => node.id),
        ['b', 'a'],
        'a node that comes back is listed as new',
      );
    });

    test('roles and addresses round-trip exactly', async (store) => {
      const nodes = [
        nodeRecord({ id: 'both', roles: ['coordinator', 'ml'] }),
        nodeRecord({ id: 'reversed', roles: ['ml', 'coordinator'] }),
        nodeRecord({ id: 'coordinator', roles: ['coordinator'], flightAddress: undefined }),
        nodeRecord({ id: 'none', roles: [], name: 'nœud 🚀 "q"' }),
        nodeRecord({
          id: 'ipv6',
          roles: ['ml'],
          httpAddress: 'http://[::1]:9200',
          flightAddress: '[::1]:8815',
        }),
        nodeRecord({ id: 'empty', httpAddress: '', flightAddress: '', activeStreams: 2 ** 31 }),
      ];
      for (const node of nodes) await store.heartbeatNode(node);
      assert.deepEqual(await store.listNodes(), nodes);
    });

    test('undefined addresses round-trip as undefined, also after being set', async (store) => {
      const bare = nodeRecord({ httpAddress: undefined, flightAddress: undefined });
      await store.heartbeatNode(bare);
      const [listed] = await store.listNodes();
      assert.deepEqual(listed, bare);
      assert.ok(listed && 'httpAddress' in listed && 'flightAddress' in listed, 'keys present');
      await store.heartbeatNode(nodeRecord());
      await store.heartbeatNode(bare);
      assert.deepEqual(await store.listNodes(), [bare], 'a later heartbeat clears them');
    });

    test('a record with a non-integer time or an unknown role is refused', async (store) => {
      await rejectsWithServiceError(
        store.heartbeatNode(nodeRecord({ lastSeen: 1.5 })),
        'bad_request',
      );
      await rejectsWithServiceError(
        store.heartbeatNode(nodeRecord({ activeStreams: -1 })),
        'bad_request',
      );
      const role = 'master' as NodeRecord['roles'][number];
      await rejectsWithServiceError(
        store.heartbeatNode(nodeRecord({ roles: [role] })),
        'bad_request',
      );
      assert.deepEqual(await store.listNodes(), []);
    });
  });
}
