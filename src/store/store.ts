/**
 * The metadata store: one interface of use-case methods, implemented by SQLite (single node) and
 * PostgreSQL (cluster). Nothing above this file may know which one is in use.
 *
 * Documents are stored whole (the ml-commons JSON shape from `domain/`), with the columns needed
 * for the referential checks (a model's connector and group) kept beside them. Every write bumps
 * the document's `version`, which search responses show as `_version`.
 */
import type { ConnectorDocument } from '../domain/connector.ts';
import type { ModelDocument, ModelGroupDocument, TaskDocument } from '../domain/model.ts';
import type { StoredSettings } from '../domain/settings.ts';

export interface Stored<T> {
  id: string;
  /** 1 on create, +1 on every update. */
  version: number;
  document: T;
}

/**
 * What a replacing update did. With an expected version, `version_conflict` means another write
 * came first (the stored version is no longer the one the caller read); nothing was changed, and
 * the caller re-reads and re-applies its change instead of overwriting the other one.
 */
export type UpdateOutcome = 'updated' | 'not_found' | 'version_conflict';

/** Model group names are unique, case-insensitively; the database enforces it. */
export type ModelGroupUpdateOutcome = UpdateOutcome | 'name_taken';

export type DeleteConnectorResult =
  | { outcome: 'deleted' }
  | { outcome: 'not_found' }
  /** Models still use the connector; nothing was deleted. */
  | { outcome: 'in_use'; modelIds: string[] };

export type DeleteModelGroupResult =
  | { outcome: 'deleted' }
  | { outcome: 'not_found' }
  | { outcome: 'in_use'; modelIds: string[] };

/** A node of the cluster as it announces itself; refreshed by its heartbeat. */
export interface NodeRecord {
  id: string;
  name: string;
  roles: Array<'coordinator' | 'ml'>;
  /** `http://host:port` of its REST API, when it serves one. */
  httpAddress: string | undefined;
  /** `host:port` of its Arrow Flight endpoint, when it is an ML node. */
  flightAddress: string | undefined;
  startedAt: number;
  /** Epoch milliseconds of the last heartbeat. */
  lastSeen: number;
  /** The node counts as gone (no new work) once this passes. */
  leaseExpiresAt: number;
  activeStreams: number;
}

export interface Store {
  createConnector(id: string, connector: ConnectorDocument): Promise<void>;
  getConnector(id: string): Promise<Stored<ConnectorDocument> | undefined>;
  /** Replaces the document; with `expectedVersion`, only while that is still its version. */
  updateConnector(
    id: string,
    connector: ConnectorDocument,
    expectedVersion?: number,
  ): Promise<UpdateOutcome>;
  /** Refuses (atomically) while any model references the connector by `connector_id`. */
  deleteConnector(id: string): Promise<DeleteConnectorResult>;
  listConnectors(): Promise<Stored<ConnectorDocument>[]>;

  /** `name_taken` when another group has the name (checked atomically, by a unique index). */
  createModelGroup(id: string, group: ModelGroupDocument): Promise<'created' | 'name_taken'>;
  getModelGroup(id: string): Promise<Stored<ModelGroupDocument> | undefined>;
  /** Replaces the document, keeping the higher `latest_version` (registerModel owns it). */
  updateModelGroup(
    id: string,
    group: ModelGroupDocument,
    expectedVersion?: number,
  ): Promise<ModelGroupUpdateOutcome>;
  /** Refuses (atomically) while any model belongs to the group. */
  deleteModelGroup(id: string): Promise<DeleteModelGroupResult>;
  listModelGroups(): Promise<Stored<ModelGroupDocument>[]>;
  /** The group with this name, compared case-insensitively (names are unique that way). */
  modelGroupIdByName(name: string): Promise<string | undefined>;

  /**
   * Registers a model: stores the model and its REGISTER task in one transaction, and when the
   * model belongs to a group, bumps the group's `latest_version` and returns the version the
   * model was given. Fails with ServiceError(not_found) if `connector_id` or `model_group_id`
   * is set and unknown (checked inside the transaction, so a concurrent delete cannot slip in).
   */
  registerModel(
    modelId: string,
    model: ModelDocument,
    taskId: string,
    task: TaskDocument,
  ): Promise<{ modelVersion: string }>;
  getModel(id: string): Promise<Stored<ModelDocument> | undefined>;
  /** Replaces the document; same referential checks as registerModel. */
  updateModel(id: string, model: ModelDocument, expectedVersion?: number): Promise<UpdateOutcome>;
  deleteModel(id: string): Promise<boolean>;
  listModels(): Promise<Stored<ModelDocument>[]>;

  createTask(id: string, task: TaskDocument): Promise<void>;
  getTask(id: string): Promise<Stored<TaskDocument> | undefined>;
  updateTask(id: string, task: TaskDocument): Promise<boolean>;
  deleteTask(id: string): Promise<boolean>;

  getSettings(): Promise<StoredSettings>;
  /**
   * Applies a settings change in one transaction: keys mapped to a value are set, keys mapped
   * to null are removed (back to default). Returns the settings after the change.
   */
  updateSettings(change: {
    persistent: Record<string, StoredSettings['persistent'][string] | null>;
    transient: Record<string, StoredSettings['transient'][string] | null>;
  }): Promise<StoredSettings>;
  clearTransientSettings(): Promise<void>;

  /** Inserts or replaces the node's record (its heartbeat). */
  heartbeatNode(node: NodeRecord): Promise<void>;
  /** Every registered node, expired leases included (callers decide what expiry means). */
  listNodes(): Promise<NodeRecord[]>;
  removeNode(id: string): Promise<boolean>;

  /** A small key-value area for node-level facts (e.g. the node id). */
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;

  close(): Promise<void>;
}
