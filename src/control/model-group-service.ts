/** Model group use cases (reference §2.2): register, get, update, delete, search. */
import { badRequest, ErrorCode, ServiceError } from '../domain/errors.ts';
import type { ModelGroupDocument } from '../domain/model.ts';
import type { Store } from '../store/store.ts';
import { newId } from './ids.ts';
import { optionalStringList, optionalText, requireObject, requireText } from './input.ts';
import { updateOptimistically } from './optimistic-update.ts';
import { indexNames, type WriteResponse, writeResponse } from './responses.ts';
import { type SearchRequest, type SearchResponse, search } from './search.ts';

export class ModelGroupService {
  readonly #store: Store;
  readonly #now: () => number;

  constructor(store: Store, now: () => number) {
    this.#store = store;
    this.#now = now;
  }

  async register(body: unknown): Promise<{ model_group_id: string; status: 'CREATED' }> {
    const input = requireObject(body, 'The model group');
    const id = await this.create({
      name: requireText(input['name'], 'name'),
      description: optionalText(input['description'], 'description'),
      access: optionalText(input['access_mode'], 'access_mode'),
      backendRoles: optionalStringList(input['backend_roles'], 'backend_roles'),
    });
    return { model_group_id: id, status: 'CREATED' };
  }

  /** Also used when a model is registered without a group: ml-commons creates one for it. */
  async create(fields: {
    name: string;
    description?: string | undefined;
    access?: string | undefined;
    backendRoles?: string[] | undefined;
  }): Promise<string> {
    const now = this.#now();
    const document: ModelGroupDocument = {
      name: fields.name,
      latest_version: 0,
      access: fields.access ?? 'public',
      created_time: now,
      last_updated_time: now,
    };
    if (fields.description !== undefined) document.description = fields.description;
    if (fields.backendRoles !== undefined) document.backend_roles = fields.backendRoles;
    const id = newId();
    // The store's unique index decides, so two concurrent requests cannot both take a name.
    if ((await this.#store.createModelGroup(id, document)) === 'name_taken') {
      throw nameTaken(fields.name);
    }
    return id;
  }

  /**
   * The group of a model registered without `model_group_id`: ml-commons creates one named after
   * the model. When that name is taken, Sluice registers the model as a new version of that
   * group instead of refusing it, so registering the same blueprint twice works.
   */
  async groupForModelName(model: {
    name: string;
    description?: string | undefined;
  }): Promise<string> {
    const existing = await this.#store.modelGroupIdByName(model.name);
    if (existing !== undefined) return existing;
    try {
      return await this.create({ name: model.name, description: model.description });
    } catch (error) {
      // Another registration of the same name created the group in between: join it.
      const created = await this.#store.modelGroupIdByName(model.name);
      if (created === undefined) throw error;
      return created;
    }
  }

  async get(id: string): Promise<ModelGroupDocument> {
    const stored = await this.#store.getModelGroup(id);
    if (stored === undefined) throw modelGroupNotFound();
    return stored.document;
  }

  async update(id: string, body: unknown): Promise<{ status: 'Updated' }> {
    const input = requireObject(body, 'The model group');
    const name = optionalText(input['name'], 'name');
    const description = optionalText(input['description'], 'description');
    const access = optionalText(input['access_mode'], 'access_mode');
    const backendRoles = optionalStringList(input['backend_roles'], 'backend_roles');
    await updateOptimistically({
      read: () => this.#store.getModelGroup(id),
      change: (stored) => {
        const document: ModelGroupDocument = { ...stored.document, last_updated_time: this.#now() };
        if (name !== undefined) document.name = name;
        if (description !== undefined) document.description = description;
        if (access !== undefined) document.access = access;
        if (backendRoles !== undefined) document.backend_roles = backendRoles;
        return document;
      },
      write: async (document, expectedVersion) => {
        const outcome = await this.#store.updateModelGroup(id, document, expectedVersion);
        if (outcome === 'name_taken') throw nameTaken(document.name);
        return outcome;
      },
      notFound: modelGroupNotFound,
    });
    return { status: 'Updated' };
  }

  async delete(id: string): Promise<WriteResponse> {
    const result = await this.#store.deleteModelGroup(id);
    switch (result.outcome) {
      case 'deleted':
        return writeResponse(indexNames.modelGroup, id, 1, 'deleted');
      case 'not_found':
        throw modelGroupNotFound();
      case 'in_use':
        throw new ServiceError(
          ErrorCode.Conflict,
          `Cannot delete the model group when it has associated model versions: [${result.modelIds.join(', ')}]`,
        );
    }
  }

  async search(request: SearchRequest): Promise<SearchResponse> {
    const stored = await this.#store.listModelGroups();
    return search(
      indexNames.modelGroup,
      stored.map((item) => ({ id: item.id, version: item.version, source: { ...item.document } })),
      request,
    );
  }
}

function nameTaken(name: string): ServiceError {
  return badRequest(
    `The name you provided is already being used by a model group: "${name}". Please provide a different name.`,
  );
}

export function modelGroupNotFound(): ServiceError {
  return new ServiceError(ErrorCode.NotFound, 'Failed to find model group');
}
