/**
 * The single-node `Store`, on SQLite through a synchronous driver (sqlite-driver.ts: node:sqlite
 * from Node 24, better-sqlite3 before).
 *
 * The driver is synchronous: each method does all of its work before returning, so calls from
 * one process never interleave inside a method, and a transaction never spans an `await`. Write
 * transactions are still BEGIN IMMEDIATE, for other processes opening the same file.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ConnectorDocument } from '../domain/connector.ts';
import { ErrorCode, notFound, ServiceError } from '../domain/errors.ts';
import type { ModelDocument, ModelGroupDocument, TaskDocument } from '../domain/model.ts';
import type { StoredSettings } from '../domain/settings.ts';
import {
  type SettingRow,
  type SettingsChange,
  type SettingWrite,
  settingsFromRows,
  settingWrites,
} from './settings-rows.ts';
import { DocumentTable } from './sqlite-document-table.ts';
import {
  openSqliteDatabase,
  type SqliteDatabase,
  type SqliteDriverChoice,
  SqliteError,
  type SqliteStatement,
} from './sqlite-driver.ts';
import { applyMigrations } from './sqlite-migrations.ts';
import { NodeTable } from './sqlite-nodes.ts';
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

/** How long a write waits for another connection's lock before failing with SQLITE_BUSY. */
const busyTimeoutMilliseconds = 5_000;

export interface SqliteStoreOptions {
  /** A file path (parent directories are created) or ':memory:'. */
  path: string;
  /** `SLUICE_SQLITE_DRIVER`; 'auto' (the default) picks by Node version. */
  driver?: SqliteDriverChoice;
}

export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const { path } = options;
  let database: SqliteDatabase | undefined;
  try {
    if (!isInMemory(path)) await mkdir(dirname(path), { recursive: true });
    database = await openSqliteDatabase(path, options.driver);
    database.exec(`PRAGMA busy_timeout = ${busyTimeoutMilliseconds}`);
    // The first statement that reads the file: a corrupt file fails here, at open.
    database.exec('PRAGMA journal_mode = WAL');
    // Set, not left to the driver: better-sqlite3 12 is built with these as defaults (NORMAL
    // only once the file is in WAL mode, so from the second open on), node:sqlite with SQLite's
    // own (FULL and 2 MB). NORMAL in WAL mode never corrupts the file; a power cut may undo the
    // last commits.
    database.exec('PRAGMA synchronous = NORMAL');
    database.exec('PRAGMA cache_size = -16000');
    database.exec('PRAGMA foreign_keys = ON');
    applyMigrations(database);
    return new SqliteStore(database);
  } catch (error) {
    database?.close();
    const reason = error instanceof Error ? error.message : String(error);
    const message = `Cannot open the SQLite store at ${path}: ${reason}`;
    throw new ServiceError(ErrorCode.Internal, message, { cause: error });
  }
}

function isInMemory(path: string): boolean {
  // '' is SQLite's anonymous temporary database.
  return path === ':memory:' || path === '';
}

/** The key that makes group names unique regardless of case. */
function groupNameKey(name: string): string {
  return name.toLowerCase();
}

/** A row of the statements that list model ids. */
interface IdRow {
  id: string;
}

class SqliteStore implements Store {
  readonly #database: SqliteDatabase;
  #closed = false;
  readonly #connectors: DocumentTable<ConnectorDocument>;
  readonly #groups: DocumentTable<ModelGroupDocument>;
  readonly #models: DocumentTable<ModelDocument>;
  readonly #tasks: DocumentTable<TaskDocument>;
  readonly #nodes: NodeTable;
  readonly #modelIdsByConnector: SqliteStatement<IdRow>;
  readonly #modelIdsByGroup: SqliteStatement<IdRow>;
  readonly #groupIdByName: SqliteStatement<IdRow>;
  readonly #selectSettings: SqliteStatement<SettingRow>;
  readonly #upsertSetting: SqliteStatement;
  readonly #deleteSetting: SqliteStatement;
  readonly #deleteTransientSettings: SqliteStatement;
  readonly #selectMeta: SqliteStatement<{ value: string }>;
  readonly #upsertMeta: SqliteStatement;

  constructor(database: SqliteDatabase) {
    this.#database = database;
    this.#connectors = new DocumentTable(database, { table: 'connectors', label: 'connector' });
    this.#groups = new DocumentTable(database, {
      table: 'model_groups',
      label: 'model group',
      columns: { name_key: (group) => groupNameKey(group.name) },
      uniqueColumn: 'name_key',
    });
    this.#models = new DocumentTable(database, {
      table: 'models',
      label: 'model',
      columns: {
        connector_id: (model) => model.connector_id ?? null,
        model_group_id: (model) => model.model_group_id ?? null,
      },
    });
    this.#tasks = new DocumentTable(database, { table: 'tasks', label: 'task' });
    this.#nodes = new NodeTable(database);

    this.#modelIdsByConnector = database.prepare(
      'SELECT id FROM models WHERE connector_id = ? ORDER BY seq',
    );
    this.#modelIdsByGroup = database.prepare(
      'SELECT id FROM models WHERE model_group_id = ? ORDER BY seq',
    );
    this.#groupIdByName = database.prepare('SELECT id FROM model_groups WHERE name_key = ?');
    this.#selectSettings = database.prepare(
      'SELECT scope, key, value FROM settings ORDER BY scope, key',
    );
    this.#upsertSetting = database.prepare(
      `INSERT INTO settings (scope, key, value) VALUES (?, ?, ?)
       ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value`,
    );
    this.#deleteSetting = database.prepare('DELETE FROM settings WHERE scope = ? AND key = ?');
    this.#deleteTransientSettings = database.prepare(
      "DELETE FROM settings WHERE scope = 'transient'",
    );
    this.#selectMeta = database.prepare('SELECT value FROM meta WHERE key = ?');
    this.#upsertMeta = database.prepare(
      `INSERT INTO meta (key, value) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
  }

  async createConnector(id: string, connector: ConnectorDocument): Promise<void> {
    this.#run(() => this.#connectors.insert(id, connector));
  }

  async getConnector(id: string): Promise<Stored<ConnectorDocument> | undefined> {
    return this.#run(() => this.#connectors.get(id));
  }

  async updateConnector(
    id: string,
    connector: ConnectorDocument,
    expectedVersion?: number,
  ): Promise<UpdateOutcome> {
    return this.#run(() =>
      withoutUniqueColumn(this.#connectors.update(id, connector, expectedVersion)),
    );
  }

  async deleteConnector(id: string): Promise<DeleteConnectorResult> {
    return this.#write(() =>
      this.#deleteUnlessUsed(this.#connectors, this.#modelIdsByConnector, id),
    );
  }

  async listConnectors(): Promise<Stored<ConnectorDocument>[]> {
    return this.#run(() => this.#connectors.list());
  }

  async createModelGroup(id: string, group: ModelGroupDocument): Promise<'created' | 'name_taken'> {
    return this.#run(() => (this.#groups.insert(id, group) === 'taken' ? 'name_taken' : 'created'));
  }

  async getModelGroup(id: string): Promise<Stored<ModelGroupDocument> | undefined> {
    return this.#run(() => this.#groups.get(id));
  }

  async updateModelGroup(
    id: string,
    group: ModelGroupDocument,
    expectedVersion?: number,
  ): Promise<ModelGroupUpdateOutcome> {
    return this.#write(() => {
      const stored = this.#groups.get(id);
      if (stored === undefined) return 'not_found';
      // latest_version belongs to registerModel. A caller that read the group before a
      // concurrent registration would otherwise write the old number back, and the next model
      // registered in the group would reuse a version.
      const latest = Math.max(group.latest_version, stored.document.latest_version);
      const outcome = this.#groups.update(
        id,
        { ...group, latest_version: latest },
        expectedVersion,
      );
      return outcome === 'taken' ? 'name_taken' : outcome;
    });
  }

  async deleteModelGroup(id: string): Promise<DeleteModelGroupResult> {
    return this.#write(() => this.#deleteUnlessUsed(this.#groups, this.#modelIdsByGroup, id));
  }

  async listModelGroups(): Promise<Stored<ModelGroupDocument>[]> {
    return this.#run(() => this.#groups.list());
  }

  async modelGroupIdByName(name: string): Promise<string | undefined> {
    return this.#run(() => this.#groupIdByName.get(groupNameKey(name))?.id);
  }

  async registerModel(
    modelId: string,
    model: ModelDocument,
    taskId: string,
    task: TaskDocument,
  ): Promise<{ modelVersion: string }> {
    return this.#write(() => {
      this.#checkReferences(model);
      let modelVersion = '1';
      if (model.model_group_id !== undefined) {
        const group = this.#groups.get(model.model_group_id);
        if (group === undefined) throw notFound('Failed to find model group');
        const latest = group.document.latest_version + 1;
        const bumped = this.#groups.update(group.id, { ...group.document, latest_version: latest });
        // Inside the write transaction the group exists and keeps its name: anything else is a bug.
        if (bumped !== 'updated') throw new Error(`the group version bump answered ${bumped}`);
        modelVersion = String(latest);
      }
      this.#models.insert(modelId, { ...model, model_version: modelVersion });
      this.#tasks.insert(taskId, task);
      return { modelVersion };
    });
  }

  async getModel(id: string): Promise<Stored<ModelDocument> | undefined> {
    return this.#run(() => this.#models.get(id));
  }

  async updateModel(
    id: string,
    model: ModelDocument,
    expectedVersion?: number,
  ): Promise<UpdateOutcome> {
    return this.#write(() => {
      if (this.#models.get(id) === undefined) return 'not_found';
      this.#checkReferences(model);
      return withoutUniqueColumn(this.#models.update(id, model, expectedVersion));
    });
  }

  async deleteModel(id: string): Promise<boolean> {
    return this.#run(() => this.#models.delete(id));
  }

  async listModels(): Promise<Stored<ModelDocument>[]> {
    return this.#run(() => this.#models.list());
  }

  async createTask(id: string, task: TaskDocument): Promise<void> {
    this.#run(() => this.#tasks.insert(id, task));
  }

  async getTask(id: string): Promise<Stored<TaskDocument> | undefined> {
    return this.#run(() => this.#tasks.get(id));
  }

  async updateTask(id: string, task: TaskDocument): Promise<boolean> {
    return this.#run(() => this.#tasks.update(id, task) === 'updated');
  }

  async deleteTask(id: string): Promise<boolean> {
    return this.#run(() => this.#tasks.delete(id));
  }

  async getSettings(): Promise<StoredSettings> {
    return this.#run(() => this.#readSettings());
  }

  async updateSettings(change: SettingsChange): Promise<StoredSettings> {
    return this.#run(() => {
      this.#writeSettings(settingWrites(change));
      return this.#readSettings();
    });
  }

  async clearTransientSettings(): Promise<void> {
    this.#run(() => this.#deleteTransientSettings.run());
  }

  async heartbeatNode(node: NodeRecord): Promise<void> {
    this.#run(() => this.#nodes.heartbeat(node));
  }

  async listNodes(): Promise<NodeRecord[]> {
    return this.#run(() => this.#nodes.list());
  }

  async removeNode(id: string): Promise<boolean> {
    return this.#run(() => this.#nodes.remove(id));
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.#run(() => this.#selectMeta.get(key)?.value);
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.#run(() => this.#upsertMeta.run(key, value));
  }

  /** Idempotent, so shutdown paths and test cleanups need not track who closed first. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#database.close();
  }

  /** Runs one synchronous unit of work, converting failures into ServiceErrors (habit 7). */
  #run<R>(work: () => R): R {
    if (this.#closed) {
      throw new ServiceError(ErrorCode.Internal, 'The SQLite store is closed');
    }
    try {
      return work();
    } catch (error) {
      if (ServiceError.isInstance(error)) throw error;
      if (
        error instanceof SqliteError &&
        (error.code === 'SQLITE_BUSY' || error.code === 'SQLITE_LOCKED')
      ) {
        throw new ServiceError(ErrorCode.Internal, 'The SQLite store is busy', {
          retryable: true,
          cause: error,
        });
      }
      throw ServiceError.from(error);
    }
  }

  /** `#run` in a write transaction. */
  #write<R>(work: () => R): R {
    return this.#run(() => this.#database.transaction(work));
  }

  #checkReferences(model: ModelDocument): void {
    if (
      model.connector_id !== undefined &&
      this.#connectors.get(model.connector_id) === undefined
    ) {
      throw notFound('Failed to find connector');
    }
    if (
      model.model_group_id !== undefined &&
      this.#groups.get(model.model_group_id) === undefined
    ) {
      throw notFound('Failed to find model group');
    }
  }

  #deleteUnlessUsed<T>(
    table: DocumentTable<T>,
    modelIdsUsing: SqliteStatement<IdRow>,
    id: string,
  ): DeleteConnectorResult {
    if (table.get(id) === undefined) return { outcome: 'not_found' };
    const modelIds = modelIdsUsing.all(id).map((row) => row.id);
    if (modelIds.length > 0) return { outcome: 'in_use', modelIds };
    table.delete(id);
    return { outcome: 'deleted' };
  }

  #writeSettings(writes: SettingWrite[]): void {
    this.#database.transaction(() => {
      for (const { scope, key, value } of writes) {
        if (value === null) this.#deleteSetting.run(scope, key);
        else this.#upsertSetting.run(scope, key, value);
      }
    });
  }

  #readSettings(): StoredSettings {
    return settingsFromRows(this.#selectSettings.all());
  }
}
