/**
 * The PostgreSQL `Store` itself, on an open pool whose schema is up to date (`postgres.ts`
 * opens it). See `postgres.ts` for the locking and outage behaviour.
 */
import type pg from 'pg';
import type { ConnectorDocument } from '../domain/connector.ts';
import { notFound } from '../domain/errors.ts';
import type { ModelDocument, ModelGroupDocument, TaskDocument } from '../domain/model.ts';
import type { StoredSettings } from '../domain/settings.ts';
import { DocumentTable, isStorableText, type Queryable } from './postgres-document-table.ts';
import { deleteNode, selectNodes, upsertNode } from './postgres-nodes.ts';
import { PostgresPool } from './postgres-pool.ts';
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
  readonly #pool: PostgresPool;
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

  constructor(pool: pg.Pool, poolSize: number) {
    this.#pool = new PostgresPool(pool, poolSize);
  }

  createConnector(id: string, connector: ConnectorDocument): Promise<void> {
    return this.#pool.run(async (db) => {
      await this.#connectors.insert(db, id, connector);
    });
  }

  getConnector(id: string): Promise<Stored<ConnectorDocument> | undefined> {
    return this.#pool.runRepeatable((db) => this.#connectors.get(db, id));
  }

  updateConnector(
    id: string,
    connector: ConnectorDocument,
    expectedVersion?: number,
  ): Promise<UpdateOutcome> {
    return this.#pool.run(async (db) =>
      withoutUniqueColumn(await this.#connectors.update(db, id, connector, expectedVersion)),
    );
  }

  deleteConnector(id: string): Promise<DeleteConnectorResult> {
    return this.#pool.transaction((client) =>
      this.#deleteUnlessUsed(client, this.#connectors, 'connector_id', id),
    );
  }

  listConnectors(): Promise<Stored<ConnectorDocument>[]> {
    return this.#pool.runRepeatable((db) => this.#connectors.list(db));
  }

  createModelGroup(id: string, group: ModelGroupDocument): Promise<'created' | 'name_taken'> {
    return this.#pool.run(async (db) =>
      (await this.#groups.insert(db, id, group)) === 'taken' ? 'name_taken' : 'created',
    );
  }

  getModelGroup(id: string): Promise<Stored<ModelGroupDocument> | undefined> {
    return this.#pool.runRepeatable((db) => this.#groups.get(db, id));
  }

  updateModelGroup(
    id: string,
    group: ModelGroupDocument,
    expectedVersion?: number,
  ): Promise<ModelGroupUpdateOutcome> {
    return this.#pool.transaction(async (client) => {
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
    return this.#pool.transaction((client) =>
      this.#deleteUnlessUsed(client, this.#groups, 'model_group_id', id),
    );
  }

  listModelGroups(): Promise<Stored<ModelGroupDocument>[]> {
    return this.#pool.runRepeatable((db) => this.#groups.list(db));
  }

  modelGroupIdByName(name: string): Promise<string | undefined> {
    return this.#pool.runRepeatable(async (db) => {
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
    return this.#pool.transaction(async (client) => {
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
    return this.#pool.runRepeatable((db) => this.#models.get(db, id));
  }

  updateModel(id: string, model: ModelDocument, expectedVersion?: number): Promise<UpdateOutcome> {
    return this.#pool.transaction(async (client) => {
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
    return this.#pool.run((db) => this.#models.delete(db, id));
  }

  listModels(): Promise<Stored<ModelDocument>[]> {
    return this.#pool.runRepeatable((db) => this.#models.list(db));
  }

  createTask(id: string, task: TaskDocument): Promise<void> {
    return this.#pool.run(async (db) => {
      await this.#tasks.insert(db, id, task);
    });
  }

  getTask(id: string): Promise<Stored<TaskDocument> | undefined> {
    return this.#pool.runRepeatable((db) => this.#tasks.get(db, id));
  }

  updateTask(id: string, task: TaskDocument): Promise<boolean> {
    return this.#pool.run(async (db) => (await this.#tasks.update(db, id, task)) === 'updated');
  }

  deleteTask(id: string): Promise<boolean> {
    return this.#pool.run((db) => this.#tasks.delete(db, id));
  }

  getSettings(): Promise<StoredSettings> {
    return this.#pool.runRepeatable((db) => readSettings(db));
  }

  async updateSettings(change: SettingsChange): Promise<StoredSettings> {
    const writes = settingWrites(change);
    return this.#pool.transaction(async (client) => {
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
    return this.#pool.runRepeatable(async (db) => {
      await db.query("DELETE FROM settings WHERE scope = 'transient'");
    });
  }

  heartbeatNode(node: NodeRecord): Promise<void> {
    return this.#pool.runRepeatable((db) => upsertNode(db, node));
  }

  listNodes(): Promise<NodeRecord[]> {
    return this.#pool.runRepeatable((db) => selectNodes(db));
  }

  removeNode(id: string): Promise<boolean> {
    return this.#pool.run((db) => deleteNode(db, id));
  }

  getMeta(key: string): Promise<string | undefined> {
    if (!isStorableText(key)) return this.#pool.runRepeatable(async () => undefined);
    return this.#pool.runRepeatable(async (db) => {
      const result = await db.query<{ value: string }>({
        name: 'meta-select',
        text: 'SELECT value FROM meta WHERE key = $1',
        values: [key],
      });
      return result.rows[0]?.value;
    });
  }

  setMeta(key: string, value: string): Promise<void> {
    return this.#pool.runRepeatable(async (db) => {
      await db.query({
        name: 'meta-upsert',
        text: `INSERT INTO meta (key, value) VALUES ($1, $2)
               ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        values: [key, value],
      });
    });
  }

  /** Idempotent, so shutdown paths and test cleanups need not track who closed first. */
  close(): Promise<void> {
    return this.#pool.close();
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
