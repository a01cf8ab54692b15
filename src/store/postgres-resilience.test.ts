/**
 * How the PostgreSQL store behaves when the database fails: restarts, killed and silently broken
 * connections, servers that never answer, bad credentials. This file stops and starts its own
 * server, so it does not share one with postgres.test.ts.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  type EmbeddedPostgres,
  startEmbeddedPostgres,
} from '../../test/helpers/embedded-postgres.ts';
import { ServiceError } from '../domain/errors.ts';
import { openPostgresStore } from './postgres.ts';
import {
  connectorDocument,
  modelDocument,
  modelGroupDocument,
  register,
  rejectsWithServiceError,
  taskDocument,
} from './store.contract-fixtures.ts';

// One server for the whole file; every test gets a database of its own.
let server: EmbeddedPostgres | undefined;
before(async () => {
  server = await startEmbeddedPostgres();
});
after(async () => {
  await server?.close();
});

function postgres(): EmbeddedPostgres {
  assert.ok(server, 'the embedded PostgreSQL server did not start');
  return server;
}

describe('PostgreSQL store failures', () => {
  /** Asserts a retryable 503 ServiceError that does not contain `secret`. */
  function assertUnavailable(error: unknown, secret: string, pattern: RegExp): true {
    assert.ok(ServiceError.isInstance(error), `expected a ServiceError, got ${String(error)}`);
    assert.equal(error.retryable, true, error.message);
    assert.equal(error.status, 503);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes(secret), `the message leaks the password: ${error.message}`);
    return true;
  }

  it('survives a PostgreSQL restart: calls fail fast and retryably meanwhile, then work', async () => {
    const database = await postgres().createDatabase();
    const connectionErrors: Error[] = [];
    const store = await openPostgresStore({
      connectionString: postgres().connectionString(database),
      connectTimeoutMilliseconds: 2_000,
      onConnectionError: (error) => connectionErrors.push(error),
    });
    const password = new URL(postgres().connectionString()).password;
    try {
      await store.createConnector('c1', connectorDocument());
      // Several idle pooled connections, so the restart has some to break.
      await Promise.all(Array.from({ length: 4 }, () => store.listConnectors()));

      await postgres().stop();
      for (const call of [
        () => store.getConnector('c1'),
        () => store.registerModel('m1', modelDocument(), 't1', taskDocument()),
        () =>
          store.heartbeatNode({
            id: 'n1',
            name: 'n1',
            roles: ['ml'],
            httpAddress: undefined,
            flightAddress: undefined,
            startedAt: 1,
            lastSeen: 1,
            leaseExpiresAt: 2,
            activeStreams: 0,
          }),
      ]) {
        const started = performance.now();
        await assert.rejects(call(), (error) =>
          assertUnavailable(error, password, /PostgreSQL store is unavailable/),
        );
        assert.ok(performance.now() - started < 2_500, 'bounded by the connect timeout');
      }
      assert.ok(connectionErrors.length > 0, 'idle connections reported their end');

      await postgres().start();
      assert.equal((await store.getConnector('c1'))?.document.name, connectorDocument().name);
      await store.registerModel('m1', modelDocument(), 't1', taskDocument());
      assert.equal((await store.listModels()).length, 1);
    } finally {
      await postgres().start();
      await store.close();
      await postgres().dropDatabase(database);
    }
  });

  it('survives its idle connections being killed by the server', async () => {
    const database = await postgres().createDatabase();
    const connectionErrors: Error[] = [];
    const store = await openPostgresStore({
      connectionString: postgres().connectionString(database),
      onConnectionError: (error) => connectionErrors.push(error),
    });
    try {
      await Promise.all(Array.from({ length: 3 }, () => store.listConnectors()));
      const admin = new pg.Client({ connectionString: postgres().connectionString(database) });
      await admin.connect();
      const { rowCount: killed } = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = 'sluice' AND datname = $1`,
        [database],
      );
      await admin.end();
      assert.ok(killed !== null && killed > 0);
      // Each idle connection reports its end through the pool, which must not crash us.
      await waitFor(() => connectionErrors.length >= killed);
      await store.createConnector('c1', connectorDocument());
      assert.notEqual(await store.getConnector('c1'), undefined);
    } finally {
      await store.close();
      await postgres().dropDatabase(database);
    }
  });

  it('retries repeatable calls and transactions on connections found broken', async () => {
    const database = await postgres().createDatabase();
    const proxy = await startBreakableProxy(postgres().port);
    const url = new URL(postgres().connectionString(database));
    url.port = String(proxy.port);
    const store = await openPostgresStore({ connectionString: url.toString(), poolSize: 4 });
    try {
      await store.createModelGroup('g1', modelGroupDocument());
      for (const call of [
        () => store.listModelGroups(),
        () => store.setMeta('k', 'v'),
        () => register(store, 'm1', { model_group_id: 'g1' }),
      ]) {
        await Promise.all(Array.from({ length: 4 }, () => store.listConnectors()));
        assert.equal(proxy.breakAll(), 4, 'four pooled connections');
        await call();
      }
      assert.equal((await store.getModelGroup('g1'))?.document.latest_version, 1);
      proxy.breakAll();
      await rejectsWithServiceError(store.createTask('t2', taskDocument()), 'internal');
    } finally {
      await store.close();
      await proxy.close();
      await postgres().dropDatabase(database);
    }
  });

  it('fails within the connect timeout on a server that never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    assert.ok(address !== null && typeof address === 'object');
    const started = performance.now();
    try {
      await assert.rejects(
        openPostgresStore({
          connectionString: `postgresql://sluice:hunter2-secret@127.0.0.1:${address.port}/sluice`,
          connectTimeoutMilliseconds: 300,
        }),
        (error) => assertUnavailable(error, 'hunter2-secret', /Cannot open the PostgreSQL store/),
      );
      assert.ok(performance.now() - started < 2_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('explains a refused connection without the password', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const address = closed.address();
    assert.ok(address !== null && typeof address === 'object');
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(
      openPostgresStore({
        connectionString: `postgres://sluice:p%40ss-secret@127.0.0.1:${address.port}/sluice`,
      }),
      (error) => {
        assertUnavailable(error, 'p@ss-secret', /connection refused|ECONNREFUSED/);
        assert.ok(!(error as Error).message.includes('p%40ss-secret'));
        assert.match((error as Error).message, /postgres:\/\/sluice:\*\*\*@127\.0\.0\.1/);
        return true;
      },
    );
  });

  it('explains wrong credentials without the password, as not retryable', async () => {
    const url = new URL(postgres().connectionString());
    url.password = 'wrong-secret-password';
    await assert.rejects(openPostgresStore({ connectionString: url.toString() }), (error) => {
      assert.ok(ServiceError.isInstance(error));
      assert.equal(error.retryable, false);
      assert.match(error.message, /password authentication failed/);
      assert.ok(!error.message.includes('wrong-secret-password'), error.message);
      return true;
    });
  });

  it('explains a connection string that is not a PostgreSQL URL', async () => {
    for (const connectionString of ['not a url :secret@', 'mysql://user:secret@host/db']) {
      await assert.rejects(openPostgresStore({ connectionString }), (error) => {
        assert.ok(ServiceError.isInstance(error));
        assert.match(error.message, /PostgreSQL connection string/);
        assert.ok(!error.message.includes('secret'), error.message);
        return true;
      });
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMilliseconds = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMilliseconds;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A TCP proxy to `targetPort` whose `breakAll()` breaks every open connection the way a NAT
 * timeout or a failover does: silently. The client notices only when it next sends something,
 * and then sees its connection closed.
 */
async function startBreakableProxy(targetPort: number) {
  const pairs = new Set<{ client: Socket; upstream: Socket; broken: boolean }>();
  const proxy = createServer((client) => {
    const pair = { client, upstream: connect(targetPort, '127.0.0.1'), broken: false };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      if (!pair.broken) client.destroy();
      pair.upstream.destroy();
    };
    client.on('data', (data) => (pair.broken ? client.destroy() : pair.upstream.write(data)));
    pair.upstream.on('data', (data) => client.write(data));
    pair.upstream.on('close', end);
    pair.upstream.on('error', end);
    client.on('close', end);
    client.on('error', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  assert.ok(address !== null && typeof address === 'object');
  return {
    port: address.port,
    /** Breaks every open connection; returns how many. */
    breakAll(): number {
      const count = pairs.size;
      for (const pair of pairs) {
        pair.broken = true;
        pair.upstream.destroy();
      }
      return count;
    },
    async close(): Promise<void> {
      for (const pair of pairs) pair.client.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}
