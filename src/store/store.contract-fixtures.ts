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
