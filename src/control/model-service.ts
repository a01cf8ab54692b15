/**
 * Remote model use cases (reference §2.2, §6.2, §6.3): register (with a stored or inline
 * connector, optionally deploying), deploy, undeploy, get, update, delete, search, and tasks.
 * Register and deploy of a remote model are immediate in Sluice, so their tasks are recorded
 * COMPLETED at once; the task API still answers as ml-commons clients expect.
 */

import { deploymentView, type LiveNodes } from '../cluster/placement.ts';
import { badRequest, ErrorCode, ServiceError } from '../domain/errors.ts';
import type { ModelDocument, TaskDocument, TaskType } from '../domain/model.ts';
import type { Store } from '../store/store.ts';
import type { ChangeCounter } from './changes.ts';
import { type ConnectorService, connectorView } from './connector-service.ts';
import { newId } from './ids.ts';
import { requireObject } from './input.ts';
import type { ModelGroupService } from './model-group-service.ts';
import { applyModelUpdate, type ModelFields, readModelFields } from './model-input.ts';
import {
  type OptimisticResult,
  type OptimisticUpdate,
  updateOptimistically,
} from './optimistic-update.ts';
import { indexNames, type WriteResponse, writeResponse } from './responses.ts';
import { type SearchRequest, type SearchResponse, search } from './search.ts';

export interface ModelServiceDependencies {
  store: Store;
  connectors: ConnectorService;
  groups: ModelGroupService;
  now: () => number;
  /** The live ML nodes, for deploy targets and the deployment state shown. */
  nodes: LiveNodes;
  nodeId: string;
  changes?: ChangeCounter;
}

export class ModelService {
  readonly #dependencies: ModelServiceDependencies;

  constructor(dependencies: ModelServiceDependencies) {
    this.#dependencies = dependencies;
  }

  /** `modelId` is for built-in models with a well-known id (the demo); the API never sets it. */
  async register(
    body: unknown,
    options: { deploy: boolean; modelId?: string },
  ): Promise<{ task_id: string; status: 'CREATED'; model_id: string }> {
    const { store, connectors, groups, now } = this.#dependencies;
    const input = requireObject(body, 'The model');
    const fields = readModelFields(input, 'create');
    const functionName = typeof input['function_name'] === 'string' ? input['function_name'] : '';
    if (functionName.toLowerCase() !== 'remote') {
      throw badRequest('Sluice serves remote models only: function_name must be "remote"');
    }
    const hasConnectorId = input['connector_id'] !== undefined && input['connector_id'] !== null;
    const hasInline = input['connector'] !== undefined && input['connector'] !== null;
    if (hasConnectorId === hasInline) {
      throw badRequest('A remote model needs exactly one of connector_id or connector');
    }
    const time = now();
    const model: ModelDocument = {
      name: fields.name ?? '',
      algorithm: 'REMOTE',
      model_version: '1',
      model_state: options.deploy ? 'DEPLOYED' : 'REGISTERED',
      is_enabled: fields.is_enabled ?? true,
      created_time: time,
      last_updated_time: time,
      last_registered_time: time,
    };
    applyModelUpdate(model, fields);
    if (hasInline) {
      model.connector = await connectors.prepareNew(input['connector']);
    } else {
      model.connector_id = String(input['connector_id']);
    }
    if (options.deploy) Object.assign(model, this.#deployedState(time, undefined));
    model.model_group_id = fields.model_group_id ?? (await groups.groupForModelName(model));
    const modelId = options.modelId ?? newId();
    const taskId = newId();
    const { modelVersion } = await store.registerModel(
      modelId,
      model,
      taskId,
      this.#task('REGISTER_MODEL', modelId, time),
    );
    model.model_version = modelVersion;
    return { task_id: taskId, status: 'CREATED', model_id: modelId };
  }

  /**
   * Deploys to the given ML nodes, or to every ML node (now and joining later) when none are
   * given. For a remote model, deploying only decides where it may run.
   */
  async deploy(
    id: string,
    body?: unknown,
  ): Promise<{ task_id: string; task_type: 'DEPLOY_MODEL'; status: 'COMPLETED' }> {
    const { now } = this.#dependencies;
    const nodeIds = this.#readNodeIds(body);
    const time = now();
    await this.#updateModel(id, (stored) => ({
      ...stored.document,
      ...this.#deployedState(time, nodeIds),
    }));
    return this.#deployed(id, time);
  }

  /** ml-commons answers per node: `{ "<node id>": { "stats": { "<model id>": "undeployed" } } }`. */
  async undeploy(id: string): Promise<Record<string, { stats: Record<string, string> }>> {
    const { now, nodeId } = this.#dependencies;
    const time = now();
    await this.#updateModel(id, (stored) => ({
      ...stored.document,
      model_state: 'UNDEPLOYED',
      current_worker_node_count: 0,
      planning_worker_node_count: 0,
      planning_worker_nodes: [],
      last_undeployed_time: time,
      last_updated_time: time,
    }));
    this.#dependencies.changes?.bump();
    return { [nodeId]: { stats: { [id]: 'undeployed' } } };
  }

  /**
   * Marks a model deployed the first time it is used (plugins.ml_commons.model_auto_deploy.enable).
   * A burst of first requests, on one node or several, deploys it once: the others find it
   * deployed when they read it again and write nothing.
   */
  async autoDeploy(id: string): Promise<void> {
    const time = this.#dependencies.now();
    const { written } = await this.#updateModel(id, (stored) =>
      isDeployed(stored.document)
        ? undefined
        : { ...stored.document, ...this.#deployedState(time, undefined) },
    );
    if (written) await this.#deployed(id, time);
  }

  /** After a deploy was written: caches drop the model, and the deploy is recorded as a task. */
  async #deployed(
    id: string,
    time: number,
  ): Promise<{ task_id: string; task_type: 'DEPLOY_MODEL'; status: 'COMPLETED' }> {
    this.#dependencies.changes?.bump();
    const taskId = newId();
    await this.#dependencies.store.createTask(taskId, this.#task('DEPLOY_MODEL', id, time));
    return { task_id: taskId, task_type: 'DEPLOY_MODEL', status: 'COMPLETED' };
  }

  async get(id: string): Promise<Record<string, unknown>> {
    return this.view((await this.#require(id)).document);
  }

  /** The model as clients see it: credentials masked, deployment state from live membership. */
  view(document: ModelDocument): Record<string, unknown> {
    return {
      ...modelView(document),
      ...deploymentView(document, this.#dependencies.nodes.liveMlNodes()),
    };
  }

  async getDocument(id: string): Promise<ModelDocument> {
    return (await this.#require(id)).document;
  }

  async update(id: string, body: unknown): Promise<WriteResponse> {
    const input = requireObject(body, 'The model update');
    const fields = readModelFields(input, 'update');
    const { version } = await this.#updateModel(id, (stored) =>
      this.#applyUpdate(stored.document, input, fields),
    );
    this.#dependencies.changes?.bump();
    return writeResponse(indexNames.model, id, version, 'updated');
  }

  async #applyUpdate(
    stored: ModelDocument,
    input: Record<string, unknown>,
    fields: ModelFields,
  ): Promise<ModelDocument> {
    const { connectors, now } = this.#dependencies;
    const document: ModelDocument = { ...stored, last_updated_time: now() };
    applyModelUpdate(document, fields);
    if (input['connector'] !== undefined && input['connector'] !== null) {
      if (stored.connector === undefined) {
        throw badRequest('This model uses a stored connector; update it by connector_id instead');
      }
      document.connector = await connectors.prepareUpdate(stored.connector, input['connector']);
    }
    if (input['connector_id'] !== undefined) {
      if (stored.connector !== undefined) {
        throw badRequest('This model has an inline connector; it cannot switch to a connector_id');
      }
      document.connector_id = String(input['connector_id']);
    }
    return document;
  }

  /** A read-modify-write of the model that never overwrites a concurrent change. */
  #updateModel(
    id: string,
    change: OptimisticUpdate<ModelDocument>['change'],
  ): Promise<OptimisticResult<ModelDocument>> {
    const { store } = this.#dependencies;
    return updateOptimistically({
      read: () => store.getModel(id),
      change,
      write: (document, expectedVersion) => store.updateModel(id, document, expectedVersion),
      notFound: modelNotFound,
    });
  }

  async delete(id: string): Promise<WriteResponse> {
    const stored = await this.#require(id);
    if (stored.document.model_state === 'DEPLOYED' || stored.document.model_state === 'DEPLOYING') {
      throw badRequest(
        'Model cannot be deleted in deploying or deployed state. Try undeploy model first then delete',
      );
    }
    if (!(await this.#dependencies.store.deleteModel(id))) throw modelNotFound();
    this.#dependencies.changes?.bump();
    return writeResponse(indexNames.model, id, stored.version + 1, 'deleted');
  }

  async search(request: SearchRequest): Promise<SearchResponse> {
    const stored = await this.#dependencies.store.listModels();
    return search(
      indexNames.model,
      stored.map((item) => ({
        id: item.id,
        version: item.version,
        source: this.view(item.document),
      })),
      request,
    );
  }

  async getTask(id: string): Promise<TaskDocument> {
    const stored = await this.#dependencies.store.getTask(id);
    if (stored === undefined) throw new ServiceError(ErrorCode.NotFound, 'Failed to find task');
    return stored.document;
  }

  async deleteTask(id: string): Promise<WriteResponse> {
    if (!(await this.#dependencies.store.deleteTask(id))) {
      throw new ServiceError(ErrorCode.NotFound, 'Failed to find task');
    }
    return writeResponse(indexNames.task, id, 1, 'deleted');
  }

  async #require(id: string) {
    const stored = await this.#dependencies.store.getModel(id);
    if (stored === undefined) throw modelNotFound();
    return stored;
  }

  #deployedState(time: number, nodeIds: string[] | undefined): Partial<ModelDocument> {
    const live = this.#dependencies.nodes.liveMlNodes().map((node) => node.id);
    const planned = nodeIds ?? live;
    return {
      model_state: 'DEPLOYED',
      planning_worker_node_count: planned.length,
      current_worker_node_count: planned.filter((id) => live.includes(id)).length,
      planning_worker_nodes: planned,
      deploy_to_all_nodes: nodeIds === undefined,
      last_deployed_time: time,
      last_updated_time: time,
    };
  }

  /** `{"node_ids": [...]}`: every id must be a live ML node. */
  #readNodeIds(body: unknown): string[] | undefined {
    if (body === undefined || body === null) return undefined;
    const input = requireObject(body, 'The deploy request');
    const nodeIds = input['node_ids'];
    if (nodeIds === undefined || nodeIds === null) return undefined;
    if (
      !Array.isArray(nodeIds) ||
      nodeIds.length === 0 ||
      !nodeIds.every((id) => typeof id === 'string')
    ) {
      throw badRequest('node_ids must be a non-empty list of node ids');
    }
    const live = new Set(this.#dependencies.nodes.liveMlNodes().map((node) => node.id));
    const unknown = nodeIds.filter((id) => !live.has(id));
    if (unknown.length > 0) {
      throw badRequest(`These nodes are not live ML nodes: [${unknown.join(', ')}]`);
    }
    return [...new Set(nodeIds as string[])];
  }

  #task(type: TaskType, modelId: string, time: number): TaskDocument {
    return {
      model_id: modelId,
      task_type: type,
      function_name: 'REMOTE',
      state: 'COMPLETED',
      worker_node: [this.#dependencies.nodeId],
      create_time: time,
      last_update_time: time,
      is_async: false,
    };
  }
}

export function modelView(document: ModelDocument): Record<string, unknown> {
  const view: Record<string, unknown> = { ...document };
  if (document.connector !== undefined) view['connector'] = connectorView(document.connector);
  return view;
}

export function modelNotFound(): ServiceError {
  return new ServiceError(ErrorCode.NotFound, 'Failed to find model');
}

function isDeployed(model: ModelDocument): boolean {
  return model.model_state === 'DEPLOYED' || model.model_state === 'PARTIALLY_DEPLOYED';
}
