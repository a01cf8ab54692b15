/**
 * The PostgreSQL `Store` itself, on an open pool whose schema is up to date (`postgres.ts`
 * opens it). See `postgres.ts` for the locking and outage behaviour.
 */
import type pg from 'pg';
import type { ConnectorDocument } from '../domain/connector.ts';
import { ErrorCode, notFound, ServiceError } from '../domain/errors.ts';
import type { ModelDocument, ModelGroupDocument, TaskDocument } from '../domain/model.ts';
import type { StoredSettings } from '../domain/settings.ts';
import { DocumentTable, isStorableText, type Queryable } from './postgres-document-table.ts';
import { isBrokenConnection, isStatementError, toServiceError } from './postgres-errors.ts';
import { deleteNode, selectNodes, upsertNode } from './postgres-nodes.ts';
import {
  type SettingRow,
  type SettingsChange,
  settingsFromRows,
  settingWrites,
} from './settings-rows.ts';
import type {
  DeleteConnectorResult,
  DeleteModelGroupResult,
  ModelGroupUpdateOutcome,
  NodeRecord,
  Store,
  Stored,
  UpdateOutcome,
} from './store.ts';
import { withoutUniqueColumn } from './unique-column.ts';

/** The key that makes group names unique regardless of case; JSON so that any name fits text. */
function groupNameKey(name: string): string {
  return JSON.stringify(name.toLowerCase());
}

export class PostgresStore implements Store {
  readonly #pool: pg.Pool;
  #closed = false;
  readonly #connectors = new DocumentTable<ConnectorDocument>({
    table: 'connectors',
    label: 'connector',
  });
  readonly #groups = new DocumentTable<ModelGroupDocument>({
    table: 'model_groups',
    label: 'model group',
    columns: { name_key: (group) => groupNameKey(group.name) },
    uniqueColumn: 'name_key',
  });
  readonly #models = new DocumentTable<ModelDocument>({
    table: 'models',
    label: 'model',
    columns: {
      connector_id: (model) => model.connector_id ?? null,
      model_group_id: (model) => model.model_group_id ?? null,
    },
  });
  readonly #tasks = new DocumentTable<TaskDocument>({ table: 'tasks', label: 'task' });

  /** How often a call may meet a broken pooled connection: at most every one in the pool. */
  readonly #staleRetries: number;

  constructor(pool: pg.Pool, poolSize: number) {
    this.#pool = pool;
    this.#staleRetries = poolSize;
  }

  createConnector(id: string, connector: ConnectorDocument): Promise<void> {
    return this.#run(async (db) => {
      await this.#connectors.insert(db, id, connector);
    });
  }

  getConnector(id: string): Promise<Stored<ConnectorDocument> | undefined> {
    return this.#runRepeatable((db) => this.#connectors.get(db, id));
  }

  updateConnector(
    id: string,
    connector: ConnectorDocument,
    expectedVersion?: number,
  ): Promise<UpdateOutcome> {
    return this.#run(async (db) =>
      withoutUniqueColumn(await this.#connectors.update(db, id, connector, expectedVersion)),
    );
  }

  deleteConnector(id: string): Promise<DeleteConnectorResult> {
    return this.#transaction((client) =>
      this.#deleteUnlessUsed(client, this.#connectors, 'connector_id', id),
    );
  }

  listConnectors(): Promise<Stored<ConnectorDocument>[]> {
    return this.#runRepeatable((db) => this.#connectors.list(db));
  }

  createModelGroup(id: string, group: ModelGroupDocument): Promise<'created' | 'name_taken'> {
    return this.#run(async (db) =>
      (await this.#groups.insert(db, id, group)) === 'taken' ? 'name_taken' : 'created',
    );
  }

  getModelGroup(id: string): Promise<Stored<ModelGroupDocument> | undefined> {
    return this.#runRepeatable((db) => this.#groups.get(db, id));
  }

  updateModelGroup(
    id: string,
    group: ModelGroupDocument,
    expectedVersion?: number,
  ): Promise<ModelGroupUpdateOutcome> {
    return this.#transaction(async (client) => {
      const stored = await this.#groups.get(client, id, 'update');
      if (stored === undefined) return 'not_found';
      // latest_version belongs to registerModel. A caller that read the group before a
      // concurrent registration would otherwise write the old number back, and the next model
      // registered in the group would reuse a version.
      const latest = Math.max(group.latest_version, stored.document.latest_version);
      const changed = { ...group, latest_version: latest };
      const outcome = await this.#groups.update(client, id, changed, expectedVersion, true);
      return outcome === 'taken' ? 'name_taken' : outcome;
    });
  }

  deleteModelGroup(id: string): Promise<DeleteModelGroupResult> {
    return this.#transaction((client) =>
      this.#deleteUnlessUsed(client, this.#groups, 'model_group_id', id),
    );
  }

  listModelGroups(): Promise<Stored<ModelGroupDocument>[]> {
    return this.#runRepeatable((db) => this.#groups.list(db));
  }

  modelGroupIdByName(name: string): Promise<string | undefined> {
    return this.#runRepeatable(async (db) => {
      const result = await db.query<{ id: string }>({
        name: 'model_groups-id-by-name',
        text: 'SELECT id FROM model_groups WHERE name_key = $1',
        values: [groupNameKey(name)],
      });
      return result.rows[0]?.id;
    });
  }

  registerModel(
    modelId: string,
    model: ModelDocument,
    taskId: string,
    task: TaskDocument,
  ): Promise<{ modelVersion: string }> {
    return this.#transaction(async (client) => {
      await this.#checkConnector(client, model);
      let modelVersion = '1';
      if (model.model_group_id !== undefined) {
        // The lock serialises registrations in this group until this one commits.
        const group = await this.#groups.get(client, model.model_group_id, 'update');
        if (group === undefined) throw notFound('Failed to find model group');
        const latest = group.document.latest_version + 1;
        const bumped = await this.#groups.update(client, group.id, {
          ...group.document,
          latest_version: latest,
        });
        // Under the row lock the group exists and keeps its name: anything else is a bug.
        if (bumped !== 'updated') throw new Error(`the group version bump answered ${bumped}`);
        modelVersion = String(latest);
      }
      await this.#models.insert(client, modelId, { ...model, model_version: modelVersion });
      await this.#tasks.insert(client, taskId, task);
      return { modelVersion };
    });
  }

  getModel(id: string): Promise<Stored<ModelDocument> | undefined> {
    return this.#runRepeatable((db) => this.#models.get(db, id));
  }

  updateModel(id: string, model: ModelDocument, expectedVersion?: number): Promise<UpdateOutcome> {
    return this.#transaction(async (client) => {
      if ((await this.#models.get(client, id, 'update')) === undefined) return 'not_found';
      await this.#checkConnector(client, model);
      if (
        model.model_group_id !== undefined &&
        (await this.#groups.get(client, model.model_group_id, 'share')) === undefined
      ) {
        throw notFound('Failed to find model group');
      }
      return withoutUniqueColumn(
        await this.#models.update(client, id, model, expectedVersion, true),
      );
    });
  }

  deleteModel(id: string): Promise<boolean> {
    return this.#run((db) => this.#models.delete(db, id));
  }

  listModels(): Promise<Stored<ModelDocument>[]> {
    return this.#runRepeatable((db) => this.#models.list(db));
  }

  createTask(id: string, task: TaskDocument): Promise<void> {
    return this.#run(async (db) => {
      await this.#tasks.insert(db, id, task);
    });
  }

  getTask(id: string): Promise<Stored<TaskDocument> | undefined> {
    return this.#runRepeatable((db) => this.#tasks.get(db, id));
  }

  updateTask(id: string, task: TaskDocument): Promise<boolean> {
    return this.#run(async (db) => (await this.#tasks.update(db, id, task)) === 'updated');
  }

  deleteTask(id: string): Promise<boolean> {
    return this.#run((db) => this.#tasks.delete(db, id));
  }

  getSettings(): Promise<StoredSettings> {
    return this.#runRepeatable((db) => readSettings(db));
  }

  async updateSettings(change: SettingsChange): Promise<StoredSettings> {
    const writes = settingWrites(change);
    return this.#transaction(async (client) => {
      for (const { scope, key, value } of writes) {
        if (value === null) {
          await client.query({
            name: 'settings-delete',
            text: 'DELETE FROM settings WHERE scope = $1 AND key = $2',
            values: [scope, key],
          });
        } else {
          await client.query({
            name: 'settings-upsert',
            text: `INSERT INTO settings (scope, key, value) VALUES ($1, $2, $3)
                   ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value`,
            values: [scope, key, value],
          });
        }
      }
      return readSettings(client);
    });
  }

  clearTransientSettings(): Promise<void> {
    return this.#runRepeatable(async (db) => {
      await db.query("DELETE FROM settings WHERE scope = 'transient'");
    });
  }

  heartbeatNode(node: NodeRecord): Promise<void> {
    return this.#runRepeatable((db) => upsertNode(db, node));
  }

  listNodes(): Promise<NodeRecord[]> {
    return this.#runRepeatable((db) => selectNodes(db));
  }

  removeNode(id: string): Promise<boolean> {
    return this.#run((db) => deleteNode(db, id));
  }

  getMeta(key: string): Promise<string | undefined> {
    if (!isStorableText(key)) return this.#runRepeatable(async () => undefined);
    return this.#runRepeatable(async (db) => {
      const result = await db.query<{ value: string }>({
        name: 'meta-select',
        text: 'SELECT value FROM meta WHERE key = $1',
        values: [key],
      });
      return result.rows[0]?.value;
    });
  }

  setMeta(key: string, value: string): Promise<void> {
    return this.#runRepeatable(async (db) => {
      await db.query({
        name: 'meta-upsert',
        text: `INSERT INTO meta (key, value) VALUES ($1, $2)
               ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        values: [key, value],
      });
    });
  }

  /** Idempotent, so shutdown paths and test cleanups need not track who closed first. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  /** One statement on any pooled connection, failures converted into ServiceErrors. */
  async #run<R>(work: (db: Queryable) => Promise<R>): Promise<R> {
    this.#checkOpen();
    try {
      return await work(this.#pool);
    } catch (error) {
      throw toServiceError(error);
    }
  }

  /**
   * Like #run, for work that may run twice with the same outcome (reads, upserts): a pooled
   * connection found broken (the server ended it) is dropped and the work runs again on another.
   */
  async #runRepeatable<R>(work: (db: Queryable) => Promise<R>): Promise<R> {
    this.#checkOpen();
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await work(this.#pool);
      } catch (error) {
        if (!isBrokenConnection(error) || attempt >= this.#staleRetries) {
          throw toServiceError(error);
        }
      }
    }
  }

  /**
   * Runs `work` in a READ COMMITTED transaction on one connection; its row locks make it
   * atomic against the other transactions here. The connection goes back to the pool only
   * when it is known to be healthy.
   */
  async #transaction<R>(work: (client: pg.PoolClient) => Promise<R>): Promise<R> {
    for (let attempt = 0; ; attempt += 1) {
      const outcome = await this.#attemptTransaction(work);
      if (outcome.done) return outcome.result;
      // BEGIN met a broken pooled connection: nothing ran, so another connection may try.
      if (attempt >= this.#staleRetries) throw toServiceError(outcome.error);
    }
  }

  async #attemptTransaction<R>(
    work: (client: pg.PoolClient) => Promise<R>,
  ): Promise<{ done: true; result: R } | { done: false; error: unknown }> {
    this.#checkOpen();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw toServiceError(error);
    }
    // A checked-out connection has no pool listener: its errors would otherwise be uncaught.
    let connectionError: Error | undefined;
    const onError = (error: Error): void => {
      connectionError = error;
    };
    client.on('error', onError);
    let healthy = true;
    try {
      try {
        await client.query('BEGIN');
      } catch (error) {
        if (!isBrokenConnection(error)) throw error;
        healthy = false;
        return { done: false, error };
      }
      const result = await work(client);
      await client.query('COMMIT');
      return { done: true, result };
    } catch (error) {
      healthy =
        connectionError === undefined &&
        (ServiceError.isInstance(error) || isStatementError(error));
      if (healthy) {
        try {
          await client.query('ROLLBACK');
        } catch {
          healthy = false;
        }
      }
      throw toServiceError(error);
    } finally {
      client.removeListener('error', onError);
      // true destroys the connection; the server rolls back whatever it had open.
      client.release(healthy ? undefined : true);
    }
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new ServiceError(ErrorCode.Internal, 'The PostgreSQL store is closed');
    }
  }

  /** Locks the referenced connector against deletion until commit. */
  async #checkConnector(client: pg.PoolClient, model: ModelDocument): Promise<void> {
    if (
      model.connector_id !== undefined &&
      (await this.#connectors.get(client, model.connector_id, 'share')) === undefined
    ) {
      throw notFound('Failed to find connector');
    }
  }

  async #deleteUnlessUsed<T>(
    client: pg.PoolClient,
    table: DocumentTable<T>,
    referenceColumn: 'connector_id' | 'model_group_id',
    id: string,
  ): Promise<DeleteConnectorResult> {
    // The lock waits for registrations holding the row, whose models the query below then sees.
    if ((await table.get(client, id, 'update')) === undefined) return { outcome: 'not_found' };
    const using = await client.query<{ id: string }>({
      name: `models-by-${referenceColumn}`,
      text: `SELECT id FROM models WHERE ${referenceColumn} = $1 ORDER BY seq`,
      values: [id],
    });
    const modelIds = using.rows.map((row) => row.id);
    if (modelIds.length > 0) return { outcome: 'in_use', modelIds };
    await table.delete(client, id);
    return { outcome: 'deleted' };
  }
}

async function readSettings(db: Queryable): Promise<StoredSettings> {
  // COLLATE "C" orders keys by code point, as SQLite does, whatever the database's collation.
  const result = await db.query<SettingRow>({
    name: 'settings-select',
    text: 'SELECT scope, key, value FROM settings ORDER BY scope, key COLLATE "C"',
  });
  return settingsFromRows(result.rows);
}
