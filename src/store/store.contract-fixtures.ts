/**
 * Documents and helpers shared by the store contract scenarios (and by implementation tests).
 */
import assert from 'node:assert/strict';
import type { ConnectorDocument } from '../domain/connector.ts';
import { ServiceError } from '../domain/errors.ts';
import type { ModelDocument, ModelGroupDocument, TaskDocument } from '../domain/model.ts';
import type { Store } from './store.ts';

/** Registers one contract test: `body` gets the fresh store opened for it. */
export type Scenario = (title: string, body: (store: Store) => Promise<void>) => void;

const time = 1_700_000_000_000;

export function connectorDocument(overrides: Partial<ConnectorDocument> = {}): ConnectorDocument {
  return {
    name: 'OpenAI chat',
    protocol: 'http',
    parameters: { endpoint: 'api.openai.com', model: 'gpt-4o-mini' },
    credential: { openAI_key: 'ciphertext' },
    actions: [
      {
        action_type: 'predict',
        method: 'POST',
        url: 'https://api.openai.com/v1/chat/completions',
        headers: { 'Content-Type': 'application/json' },
        request_body: '{ "model": "gpt-4o-mini", "messages": [] }',
      },
    ],
    created_time: time,
    last_updated_time: time,
    ...overrides,
  };
}

export function modelGroupDocument(
  overrides: Partial<ModelGroupDocument> = {},
): ModelGroupDocument {
  return {
    name: 'group',
    latest_version: 0,
    created_time: time,
    last_updated_time: time,
    ...overrides,
  };
}

export function modelDocument(overrides: Partial<ModelDocument> = {}): ModelDocument {
  return {
    name: 'model',
    algorithm: 'REMOTE',
    model_version: '1',
    model_state: 'REGISTERED',
    created_time: time,
    last_updated_time: time,
    ...overrides,
  };
}

export function taskDocument(overrides: Partial<TaskDocument> = {}): TaskDocument {
  return {
    task_type: 'REGISTER_MODEL',
    function_name: 'REMOTE',
    state: 'COMPLETED',
    worker_node: ['node-1'],
    create_time: time,
    last_update_time: time,
    is_async: false,
    ...overrides,
  };
}

/** Asserts a rejection with a ServiceError of `code` (and `message`, when given). */
export async function rejectsWithServiceError(
  promise: Promise<unknown>,
  code: ServiceError['code'],
  message?: string,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(ServiceError.isInstance(error), `expected a ServiceError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (message !== undefined) assert.equal(error.message, message);
    return true;
  });
}

/** Registers a model (built from `overrides`) with its task, `task-<modelId>`. */
export function register(
  store: Store,
  modelId: string,
  overrides: Partial<ModelDocument> = {},
): Promise<{ modelVersion: string }> {
  return store.registerModel(
    modelId,
    modelDocument(overrides),
    `task-${modelId}`,
    taskDocument({ model_id: modelId }),
  );
}

/**
 * Groups that share a name, as two concurrent creations could leave them before names were a
 * unique index: what the migration that adds the index finds. Written by each store's own test.
 */
export const groupsSharingAName = [
  ['g1', 'Chat "A"'],
  ['g2', 'chat "a"'],
  ['g3', 'Other'],
] as const;

/** After that migration: all but the oldest renamed, and the renamed ones take writes again. */
export async function assertGroupsSharingANameRenamed(store: Store): Promise<void> {
  assert.deepEqual(
    (await store.listModelGroups()).map((group) => [group.id, group.document.name]),
    [
      ['g1', 'Chat "A"'],
      ['g2', 'chat "a" (g2)'],
      ['g3', 'Other'],
    ],
  );
  assert.equal(await store.modelGroupIdByName('CHAT "a"'), 'g1', 'the oldest keeps the name');
  assert.equal(await store.modelGroupIdByName('Chat "A" (G2)'), 'g2');
  // Every write derives the key from the document again: they must agree.
  const renamed = await store.getModelGroup('g2');
  assert.ok(renamed);
  const described = { ...renamed.document, description: 'kept apart' };
  assert.equal(await store.updateModelGroup('g2', described, renamed.version), 'updated');
  for (const [index, modelId] of ['m1', 'm2'].entries()) {
    const registered = await store.registerModel(
      modelId,
      modelDocument({ model_group_id: 'g2' }),
      `t${index}`,
      taskDocument(),
    );
    assert.equal(registered.modelVersion, String(index + 1));
  }
  const taken = modelGroupDocument({ name: 'other' });
  assert.equal(await store.createModelGroup('g4', taken), 'name_taken');
}
