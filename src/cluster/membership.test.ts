import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { openSqliteStore } from '../store/sqlite.ts';
import type { NodeRecord, Store } from '../store/store.ts';
import { Membership, type SelfDescription } from './membership.ts';

const stores: Store[] = [];
after(async () => {
  for (const store of stores) await store.close();
});

function record(id: string, roles: NodeRecord['roles'], leaseMs: number): NodeRecord {
  const now = Date.now();
  return {
    id,
    name: id,
    roles,
    httpAddress: undefined,
    flightAddress: `127.0.0.1:${id.length}`,
    startedAt: now,
    lastSeen: now,
    leaseExpiresAt: now + leaseMs,
    activeStreams: 0,
  };
}

async function membershipOf(self: SelfDescription, others: NodeRecord[]): Promise<Membership> {
  const store = await openSqliteStore({ path: ':memory:' });
  stores.push(store);
  for (const node of others) await store.heartbeatNode(node);
  const membership = new Membership({ store, self, logger: pino({ level: 'silent' }) });
  await membership.tick();
  return membership;
}

const selfAs = (roles: SelfDescription['roles']): SelfDescription => ({
  id: 'self',
  name: 'self',
  roles,
  httpAddress: undefined,
  flightAddress: undefined,
});

describe('Membership.liveMlNodes', () => {
  it('lists live ML nodes only, this node first when it is one', async () => {
    const others = [
      record('ml-a', ['ml'], 60_000),
      record('coordinator-b', ['coordinator'], 60_000),
      record('ml-expired', ['ml'], -1),
    ];
    const coordinator = await membershipOf(selfAs(['coordinator']), others);
    assert.deepEqual(
      coordinator.liveMlNodes().map((node) => node.id),
      ['ml-a'],
    );
    const both = await membershipOf(selfAs(['coordinator', 'ml']), others);
    assert.deepEqual(
      both.liveMlNodes().map((node) => node.id),
      ['self', 'ml-a'],
    );
  });

  it('drops a node the moment its lease passes, between heartbeats', async () => {
    const membership = await membershipOf(selfAs(['coordinator']), [
      record('ml-short', ['ml'], 150),
      record('ml-long', ['ml'], 60_000),
    ]);
    assert.deepEqual(
      membership.liveMlNodes().map((node) => node.id),
      ['ml-short', 'ml-long'],
    );
    await sleep(200);
    assert.deepEqual(
      membership.liveMlNodes().map((node) => node.id),
      ['ml-long'],
    );
  });

  it('hands out a copy that callers may change', async () => {
    const membership = await membershipOf(selfAs(['coordinator']), [
      record('ml-a', ['ml'], 60_000),
    ]);
    membership.liveMlNodes().pop();
    assert.equal(membership.liveMlNodes().length, 1);
  });
});
