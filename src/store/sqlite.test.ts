import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ServiceError } from '../domain/errors.ts';
import { openSqliteStore } from './sqlite.ts';
import { applyMigrations, migrations } from './sqlite-migrations.ts';
import { storeContract } from './store.contract.ts';
import {
  connectorDocument,
  modelDocument,
  modelGroupDocument,
  taskDocument,
} from './store.contract-fixtures.ts';

storeContract('SQLite in memory', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  return { store, cleanup: () => store.close() };
});

// A file exercises what memory does not: WAL, the file lock, and the parent directories.
storeContract('SQLite file', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'sluice-store-'));
  const store = await openSqliteStore({ path: join(directory, 'nested', 'dir', 'sluice.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
});

/** Asserts that opening fails with a ServiceError whose message names the path and `reason`. */
async function assertOpenFails(path: string, reason: RegExp): Promise<void> {
  await assert.rejects(openSqliteStore({ path }), (error: unknown) => {
    assert.ok(ServiceError.isInstance(error));
    assert.ok(error.message.includes(`Cannot open the SQLite store at ${path}`), error.message);
    assert.match(error.message, reason);
    return true;
  });
}

describe('SQLite store', () => {
  let directory = '';
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sluice-sqlite-'));
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('keeps everything across close and reopen', async () => {
    const path = join(directory, 'persist.db');
    const first = await openSqliteStore({ path });
    await first.createConnector('c1', connectorDocument());
    await first.createModelGroup('g1', modelGroupDocument({ name: 'Group' }));
    await first.registerModel(
      'm1',
      modelDocument({ connector_id: 'c1', model_group_id: 'g1' }),
      't1',
      taskDocument(),
    );
    await first.updateConnector('c1', connectorDocument({ name: 'renamed' }));
    await first.updateSettings({
      persistent: { 'plugins.ml_commons.stream_enabled': false },
      transient: { 'test.transient': ['a', 'b'] },
    });
    await first.setMeta('node_id', 'node-1');
    await first.close();

    const second = await openSqliteStore({ path });
    try {
      const connector = await second.getConnector('c1');
      assert.equal(connector?.version, 2);
      assert.equal(connector?.document.name, 'renamed');
      assert.equal((await second.getModel('m1'))?.document.model_version, '1');
      assert.notEqual(await second.getTask('t1'), undefined);
      assert.equal(await second.modelGroupNameTaken('group'), true);
      assert.deepEqual(await second.getSettings(), {
        persistent: { 'plugins.ml_commons.stream_enabled': false },
        transient: { 'test.transient': ['a', 'b'] },
      });
      assert.equal(await second.getMeta('node_id'), 'node-1');
      assert.deepEqual(await second.deleteConnector('c1'), { outcome: 'in_use', modelIds: ['m1'] });
      const { modelVersion } = await second.registerModel(
        'm2',
        modelDocument({ model_group_id: 'g1' }),
        't2',
        taskDocument(),
      );
      assert.equal(modelVersion, '2', 'latest_version carries over');
    } finally {
      await second.close();
    }
  });

  it('opens a file in WAL mode with foreign keys enforced', async () => {
    const path = join(directory, 'pragmas.db');
    const store = await openSqliteStore({ path });
    await store.close();
    const raw = new Database(path);
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal', 'WAL persists in the file');
      raw.pragma('foreign_keys = ON');
      assert.throws(
        () =>
          raw
            .prepare(
              "INSERT INTO models (id, version, document, connector_id) VALUES ('m', 1, '{}', 'x')",
            )
            .run(),
        /FOREIGN KEY/,
      );
    } finally {
      raw.close();
    }
  });

  it('applies each migration once, however often the file is opened', async () => {
    const path = join(directory, 'migrations.db');
    for (let open = 0; open < 3; open += 1) await (await openSqliteStore({ path })).close();
    const raw = new Database(path, { readonly: true });
    try {
      const applied = raw
        .prepare('SELECT version, name FROM schema_migrations ORDER BY version')
        .all();
      assert.deepEqual(
        applied,
        migrations.map(({ version, name }) => ({ version, name })),
      );
    } finally {
      raw.close();
    }
  });

  it('upgrades a database made before the nodes table, keeping its rows', async () => {
    const path = join(directory, 'version-1.db');
    const raw = new Database(path);
    applyMigrations(
      raw,
      migrations.filter((migration) => migration.version === 1),
    );
    raw
      .prepare("INSERT INTO connectors (id, version, document) VALUES ('c1', 1, ?)")
      .run(JSON.stringify(connectorDocument()));
    raw.close();
    const store = await openSqliteStore({ path });
    try {
      assert.deepEqual((await store.getConnector('c1'))?.document, connectorDocument());
      await store.heartbeatNode({
        id: 'n1',
        name: 'n1',
        roles: ['ml'],
        httpAddress: undefined,
        flightAddress: '127.0.0.1:8815',
        startedAt: 1,
        lastSeen: 2,
        leaseExpiresAt: 3,
        activeStreams: 0,
      });
      assert.equal((await store.listNodes()).length, 1);
    } finally {
      await store.close();
    }
  });

  it('numbers migrations 1, 2, 3, … without gaps', () => {
    assert.deepEqual(
      migrations.map((migration) => migration.version),
      migrations.map((_, index) => index + 1),
    );
  });

  it('applies only the migrations a database lacks, in a transaction each', () => {
    const raw = new Database(':memory:');
    try {
      applyMigrations(raw);
      const next = migrations.length + 1;
      const added = [
        ...migrations,
        { version: next, name: 'add a column', sql: 'ALTER TABLE meta ADD COLUMN note TEXT' },
      ];
      applyMigrations(raw, added);
      applyMigrations(raw, added);
      const columns = raw.prepare<[], { name: string }>('PRAGMA table_info(meta)').all();
      assert.ok(columns.some((column) => column.name === 'note'));

      const broken = [
        ...added,
        { version: next + 1, name: 'broken', sql: 'CREATE TABLE half (x); SELECT nonsense()' },
      ];
      assert.throws(() => applyMigrations(raw, broken), /nonsense/);
      const tables = raw.prepare("SELECT name FROM sqlite_schema WHERE name = 'half'").all();
      assert.deepEqual(tables, [], 'a failed migration leaves nothing behind');
      const versions = raw.prepare('SELECT version FROM schema_migrations').pluck().all();
      assert.deepEqual(versions, [...migrations.map((migration) => migration.version), next]);
    } finally {
      raw.close();
    }
  });

  it('refuses a database written by a newer schema', async () => {
    const path = join(directory, 'newer.db');
    await (await openSqliteStore({ path })).close();
    const raw = new Database(path);
    raw.prepare("INSERT INTO schema_migrations VALUES (999, 'future', 'later')").run();
    raw.close();
    await assertOpenFails(path, /schema version 999/);
  });

  it('explains a corrupt file', async () => {
    const path = join(directory, 'corrupt.db');
    await writeFile(path, 'this is not a database, just some text '.repeat(200));
    await assertOpenFails(path, /not a database/);
  });

  it('explains a path it cannot create', async () => {
    const file = join(directory, 'plain-file');
    await writeFile(file, 'x');
    await assertOpenFails(join(file, 'sluice.db'), /EEXIST|ENOTDIR/);
    await assertOpenFails(directory, /directory|unable to open/i);
  });

  it('keeps NUL in meta values', async () => {
    // Documents with NUL and lone surrogates are a contract scenario; this part is SQLite's own
    // (PostgreSQL text cannot hold NUL).
    const store = await openSqliteStore({ path: ':memory:' });
    try {
      // Meta values are stored as plain text, not JSON: NUL survives, a lone surrogate would not
      // (UTF-8 cannot encode it), which is fine for node-level facts such as ids.
      await store.setMeta('nul', 'a\u0000b');
      assert.equal(await store.getMeta('nul'), 'a\u0000b');
    } finally {
      await store.close();
    }
  });
});
