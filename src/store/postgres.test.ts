import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  type EmbeddedPostgres,
  startEmbeddedPostgres,
} from '../../test/helpers/embedded-postgres.ts';
import { ServiceError } from '../domain/errors.ts';
import { openStore } from './open-store.ts';
import { openPostgresStore, type PostgresStoreOptions } from './postgres.ts';
import { applyMigrations, migrations } from './postgres-migrations.ts';
import { storeContract } from './store.contract.ts';
import {
  assertGroupsSharingANameRenamed,
  connectorDocument,
  groupsSharingAName,
  modelGroupDocument,
  register,
  rejectsWithServiceError,
} from './store.contract-fixtures.ts';
import type { Store } from './store.ts';

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

storeContract('PostgreSQL', async () => {
  const database = await postgres().createDatabase();
  const store = await openPostgresStore({
    connectionString: postgres().connectionString(database),
  });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await postgres().dropDatabase(database);
    },
  };
});

interface TestDatabase {
  connectionString: string;
  open(options?: Partial<PostgresStoreOptions>): Promise<Store>;
  query<R extends pg.QueryResultRow>(text: string): Promise<R[]>;
}

describe('PostgreSQL store', () => {
  /** Runs `body` on a fresh database; its stores are closed and the database dropped after. */
  async function withDatabase(body: (database: TestDatabase) => Promise<void>): Promise<void> {
    const name = await postgres().createDatabase();
    const connectionString = postgres().connectionString(name);
    const stores: Store[] = [];
    try {
      await body({
        connectionString,
        async open(options: Partial<PostgresStoreOptions> = {}): Promise<Store> {
          const store = await openPostgresStore({ connectionString, ...options });
          stores.push(store);
          return store;
        },
        async query<R extends pg.QueryResultRow>(text: string): Promise<R[]> {
          const client = new pg.Client({ connectionString });
          await client.connect();
          try {
            return (await client.query<R>(text)).rows;
          } finally {
            await client.end();
          }
        },
      });
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await postgres().dropDatabase(name);
    }
  }

  it('applies each migration once, however often the database is opened', () =>
    withDatabase(async (database) => {
      for (let open = 0; open < 3; open += 1) await (await database.open()).close();
      const applied = await database.query('SELECT version, name FROM schema_migrations');
      assert.deepEqual(
        applied,
        migrations.map(({ version, name }) => ({ version, name })),
      );
    }));

  it('lets several nodes open a new database at once (migrations do not race)', () =>
    withDatabase(async (database) => {
      const stores = await Promise.all(Array.from({ length: 6 }, () => database.open()));
      const applied = await database.query('SELECT version FROM schema_migrations');
      assert.equal(applied.length, migrations.length);
      await stores[0]?.createConnector('c1', connectorDocument());
      assert.notEqual(await stores[5]?.getConnector('c1'), undefined);
    }));

  it('numbers migrations 1, 2, 3, … without gaps', () => {
    assert.deepEqual(
      migrations.map((migration) => migration.version),
      migrations.map((_, index) => index + 1),
    );
  });

  it('applies only the migrations a database lacks, in a transaction each', () =>
    withDatabase(async (database) => {
      const client = new pg.Client({ connectionString: database.connectionString });
      await client.connect();
      try {
        await applyMigrations(client);
        const next = migrations.length + 1;
        const added = [
          ...migrations,
          { version: next, name: 'add a column', sql: 'ALTER TABLE meta ADD COLUMN note text' },
        ];
        await applyMigrations(client, added);
        await applyMigrations(client, added);
        const broken = [
          ...added,
          {
            version: next + 1,
            name: 'broken',
            sql: 'CREATE TABLE half (x int); SELECT nonsense()',
          },
        ];
        await assert.rejects(applyMigrations(client, broken), /migration \d+ \(broken\).*nonsense/);
        const half = await client.query("SELECT 1 FROM pg_tables WHERE tablename = 'half'");
        assert.equal(half.rows.length, 0, 'a failed migration leaves nothing behind');
        const versions = await client.query('SELECT version FROM schema_migrations ORDER BY 1');
        assert.deepEqual(
          versions.rows.map((row) => row.version),
          [...migrations.map((migration) => migration.version), next],
        );
        const locks = await client.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'");
        assert.equal(locks.rows.length, 0, 'the migration lock is released after a failure');
      } finally {
        await client.end();
      }
    }));

  it('makes group names unique, renaming groups that already shared one', () =>
    withDatabase(async (database) => {
      const client = new pg.Client({ connectionString: database.connectionString });
      await client.connect();
      try {
        await applyMigrations(
          client,
          migrations.filter((migration) => migration.version === 1),
        );
        // What two concurrent creations could leave behind before names were an index.
        for (const [id, name] of groupsSharingAName) {
          await client.query(
            'INSERT INTO model_groups (id, version, document, name_key) VALUES ($1, 1, $2, $3)',
            [id, JSON.stringify(modelGroupDocument({ name })), JSON.stringify(name.toLowerCase())],
          );
        }
      } finally {
        await client.end();
      }
      const store = await database.open();
      await assertGroupsSharingANameRenamed(store);
    }));

  it('refuses a database written by a newer schema', () =>
    withDatabase(async (database) => {
      await (await database.open()).close();
      await database.query("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')");
      await assert.rejects(database.open(), (error: unknown) => {
        assert.ok(ServiceError.isInstance(error));
        assert.match(error.message, /Cannot open the PostgreSQL store at .*schema version 999/);
        assert.equal(error.retryable, false);
        return true;
      });
    }));

  it('gives registrations from two nodes in one group distinct versions', () =>
    withDatabase(async (database) => {
      const [first, second] = [await database.open(), await database.open()];
      await first.createModelGroup('g1', modelGroupDocument());
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          register(index % 2 === 0 ? first : second, `m${index}`, { model_group_id: 'g1' }),
        ),
      );
      assert.deepEqual(
        results.map((result) => Number(result.modelVersion)).sort((left, right) => left - right),
        Array.from({ length: 20 }, (_, index) => index + 1),
      );
      assert.equal((await second.getModelGroup('g1'))?.document.latest_version, 20);
    }));

  it('never lets a connector be deleted under a concurrent registration', () =>
    withDatabase(async (database) => {
      const [first, second] = [await database.open(), await database.open()];
      for (let round = 0; round < 10; round += 1) {
        const connectorId = `c${round}`;
        await first.createConnector(connectorId, connectorDocument());
        const [registered, deleted] = await Promise.allSettled([
          register(first, `m${round}`, { connector_id: connectorId }),
          second.deleteConnector(connectorId),
        ]);
        const connector = await first.getConnector(connectorId);
        const model = await first.getModel(`m${round}`);
        if (registered.status === 'fulfilled') {
          assert.notEqual(connector, undefined, 'a registered model keeps its connector');
          assert.deepEqual(deleted.status === 'fulfilled' && deleted.value.outcome, 'in_use');
        } else {
          assert.equal(model, undefined);
          assert.deepEqual(deleted.status === 'fulfilled' && deleted.value, { outcome: 'deleted' });
        }
      }
    }));

  it('refuses NUL in plain-text values with bad_request', () =>
    withDatabase(async (database) => {
      const store = await database.open();
      await rejectsWithServiceError(store.setMeta('key', 'a\u0000b'), 'bad_request');
      await rejectsWithServiceError(
        store.createConnector('a\u0000b', connectorDocument()),
        'bad_request',
      );
      assert.equal(await store.getMeta('a\u0000b'), undefined);
      await store.setMeta('key', 'still works');
      assert.equal(await store.getMeta('key'), 'still works');
    }));

  it('stores documents as json: readable with the json operators', () =>
    withDatabase(async (database) => {
      const store = await database.open();
      await store.createConnector('c1', connectorDocument({ name: 'readable' }));
      const rows = await database.query("SELECT document->>'name' AS name FROM connectors");
      assert.deepEqual(rows, [{ name: 'readable' }]);
    }));

  it('is what openStore opens for a postgres:// URL', () =>
    withDatabase(async (database) => {
      const store = await openStore({
        databaseUrl: database.connectionString.replace(/^postgresql:/, 'postgres:'),
        sqlitePath: '/nonexistent/never/used.db',
      });
      try {
        await store.setMeta('k', 'v');
        assert.deepEqual(await database.query('SELECT key, value FROM meta'), [
          { key: 'k', value: 'v' },
        ]);
      } finally {
        await store.close();
      }
    }));
});
