import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeRecord } from '../store/store.ts';
import { NodeRouter } from './router.ts';

function node(id: string, activeStreams: number): NodeRecord {
  return {
    id,
    name: id,
    roles: ['ml'],
    httpAddress: undefined,
    flightAddress: `127.0.0.1:${id.length}`,
    startedAt: 0,
    lastSeen: 0,
    leaseExpiresAt: Number.MAX_SAFE_INTEGER,
    activeStreams,
  };
}

describe('NodeRouter', () => {
  it('prefers the node with the fewest active streams and keeps the rest as fallbacks', () => {
    const router = new NodeRouter();
    const order = router.order([node('a', 3), node('b', 1), node('c', 2)]);
    assert.deepEqual(
      order.map((item) => item.id),
      ['b', 'c', 'a'],
    );
  });

  it('takes tied nodes in turn', () => {
    const router = new NodeRouter();
    const nodes = [node('a', 0), node('b', 0), node('c', 5)];
    const firsts = Array.from({ length: 4 }, () => router.order(nodes)[0]?.id);
    assert.deepEqual(firsts, ['a', 'b', 'a', 'b']);
  });

  it('counts streams it sent since the last heartbeat, and forgets them when they end', () => {
    const router = new NodeRouter();
    const nodes = [node('a', 0), node('b', 0)];
    const release = router.track('a');
    router.track('a');
    assert.equal(router.order(nodes)[0]?.id, 'b');
    assert.equal(router.order(nodes)[0]?.id, 'b');
    release();
    release();
    const another = router.track('b');
    another();
    assert.deepEqual(router.order(nodes).map((item) => item.id).length, 2);
  });
});
