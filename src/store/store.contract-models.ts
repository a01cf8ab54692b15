/**
 * Store contract scenarios for models and tasks: registration (atomicity, group versions,
 * concurrency), referential checks on update, and task CRUD.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import {
  connectorDocument,
  modelDocument,
  modelGroupDocument,
  register,
  rejectsWithServiceError,
  type Scenario,
  taskDocument,
} from './store.contract-fixtures.ts';

export function modelAndTaskScenarios(test: Scenario): void {
  describe('models', () => {
    test('register without a group stores model and task at version 1', async (store) => {
      await store.createConnector('c1', connectorDocument());
      const model = modelDocument({ connector_id: 'c1', model_version: '7' });
      const task = taskDocument({ model_id: 'm1' });
      assert.deepEqual(await store.registerModel('m1', model, 't1', task), { modelVersion: '1' });
      assert.deepEqual(await store.getModel('m1'), {
        id: 'm1',
        version: 1,
        document: { ...model, model_version: '1' },
      });
      assert.deepEqual(await store.getTask('t1'), { id: 't1', version: 1, document: task });
    });

    test('an inline connector needs no stored connector', async (store) => {
      const model = modelDocument({ connector: connectorDocument({ name: 'inline' }) });
      await store.registerModel('m1', model, 't1', taskDocument());
      assert.deepEqual((await store.getModel('m1'))?.document, model);
    });

    test('registrations in a group get latest_version 1, 2, 3', async (store) => {
      await store.createModelGroup('g1', modelGroupDocument());
      for (const expected of [1, 2, 3]) {
        const { modelVersion } = await register(store, `m${expected}`, { model_group_id: 'g1' });
        assert.equal(modelVersion, String(expected));
        assert.equal((await store.getModel(`m${expected}`))?.document.model_version, modelVersion);
        const group = await store.getModelGroup('g1');
        assert.equal(group?.document.latest_version, expected);
        assert.equal(group?.version, expected + 1);
      }
      await store.deleteModel('m3');
      const { modelVersion } = await register(store, 'm4', { model_group_id: 'g1' });
      assert.equal(modelVersion, '4', 'versions are not reused after a delete');
    });

    test('registration with an unknown connector stores nothing', async (store) => {
      await store.createModelGroup('g1', modelGroupDocument());
      await rejectsWithServiceError(
        register(store, 'm1', { connector_id: 'missing', model_group_id: 'g1' }),
        'not_found',
        'Failed to find connector',
      );
      assert.equal(await store.getModel('m1'), undefined);
      assert.equal(await store.getTask('task-m1'), undefined);
      assert.deepEqual(await store.listModels(), []);
      const group = await store.getModelGroup('g1');
      assert.equal(group?.version, 1);
      assert.equal(group?.document.latest_version, 0);
    });

    test('registration with an unknown group stores nothing', async (store) => {
      await rejectsWithServiceError(
        register(store, 'm1', { model_group_id: 'missing' }),
        'not_found',
        'Failed to find model group',
      );
      assert.equal(await store.getModel('m1'), undefined);
      assert.equal(await store.getTask('task-m1'), undefined);
    });

    test('a duplicate model or task id rolls the whole registration back', async (store) => {
      await store.createModelGroup('g1', modelGroupDocument());
      await register(store, 'm1', { model_group_id: 'g1' });
      await rejectsWithServiceError(register(store, 'm1', { model_group_id: 'g1' }), 'conflict');
      await rejectsWithServiceError(
        store.registerModel(
          'm2',
          modelDocument({ model_group_id: 'g1' }),
          'task-m1',
          taskDocument(),
        ),
        'conflict',
      );
      assert.equal(await store.getModel('m2'), undefined);
      const group = await store.getModelGroup('g1');
      assert.equal(group?.document.latest_version, 1);
      assert.equal(group?.version, 2);
      assert.equal((await store.getTask('task-m1'))?.document.model_id, 'm1');
    });

    test('20 concurrent registrations in one group get versions 1..20', async (store) => {
      await store.createModelGroup('g1', modelGroupDocument());
      const ids = Array.from({ length: 20 }, (_, index) => `m${index}`);
      const results = await Promise.all(
        ids.map((id) => register(store, id, { model_group_id: 'g1' })),
      );
      const versions = results.map((result) => Number(result.modelVersion));
      assert.deepEqual(
        [...versions].sort((left, right) => left - right),
        Array.from({ length: 20 }, (_, index) => index + 1),
      );
      for (const [index, id] of ids.entries()) {
        assert.equal(
          (await store.getModel(id))?.document.model_version,
          results[index]?.modelVersion,
        );
      }
      const group = await store.getModelGroup('g1');
      assert.equal(group?.document.latest_version, 20);
      assert.equal(group?.version, 21);
    });

    test('update checks references and bumps the version', async (store) => {
      await store.createConnector('c1', connectorDocument());
      await store.createConnector('c2', connectorDocument());
      await register(store, 'm1', { connector_id: 'c1' });
      const moved = modelDocument({ connector_id: 'c2', model_state: 'DEPLOYED' });
      assert.equal(await store.updateModel('m1', moved), 'updated');
      assert.deepEqual(await store.getModel('m1'), { id: 'm1', version: 2, document: moved });
      assert.deepEqual(await store.deleteConnector('c1'), { outcome: 'deleted' });
      assert.deepEqual(await store.deleteConnector('c2'), {
        outcome: 'in_use',
        modelIds: ['m1'],
      });
      await rejectsWithServiceError(
        store.updateModel('m1', modelDocument({ connector_id: 'missing' })),
        'not_found',
        'Failed to find connector',
      );
      await rejectsWithServiceError(
        store.updateModel('m1', modelDocument({ model_group_id: 'missing' })),
        'not_found',
        'Failed to find model group',
      );
      assert.deepEqual(
        (await store.getModel('m1'))?.document,
        moved,
        'failed updates change nothing',
      );
      assert.equal(await store.updateModel('unknown', modelDocument()), 'not_found');
    });

    test('an update with an expected version writes only over that version', async (store) => {
      await register(store, 'm1', {});
      const deployed = modelDocument({ model_state: 'DEPLOYED' });
      assert.equal(await store.updateModel('m1', deployed, 1), 'updated');
      const stale = modelDocument({ model_state: 'UNDEPLOYED' });
      assert.equal(await store.updateModel('m1', stale, 1), 'version_conflict');
      assert.deepEqual(await store.getModel('m1'), { id: 'm1', version: 2, document: deployed });
      assert.equal(await store.updateModel('unknown', stale, 1), 'not_found');
    });

    test('list is in registration order; delete reports unknown ids', async (store) => {
      for (const id of ['b', 'a', 'c']) await register(store, id, { name: id });
      assert.deepEqual(
        (await store.listModels()).map((model) => [model.id, model.document.name]),
        [
          ['b', 'b'],
          ['a', 'a'],
          ['c', 'c'],
        ],
      );
      assert.equal(await store.deleteModel('a'), true);
      assert.equal(await store.deleteModel('a'), false);
      assert.equal(await store.getModel('a'), undefined);
      assert.notEqual(await store.getTask('task-a'), undefined, 'tasks outlive their model');
    });
  });

  describe('tasks', () => {
    test('create, get, update and delete', async (store) => {
      const created = taskDocument({ state: 'RUNNING', is_async: true });
      await store.createTask('t1', created);
      assert.deepEqual(await store.getTask('t1'), { id: 't1', version: 1, document: created });
      await rejectsWithServiceError(store.createTask('t1', taskDocument()), 'conflict');
      const failed = taskDocument({ state: 'FAILED', error: 'boom' });
      assert.equal(await store.updateTask('t1', failed), true);
      assert.deepEqual(await store.getTask('t1'), { id: 't1', version: 2, document: failed });
      assert.equal(await store.updateTask('unknown', failed), false);
      assert.equal(await store.deleteTask('t1'), true);
      assert.equal(await store.deleteTask('t1'), false);
      assert.equal(await store.getTask('t1'), undefined);
    });
  });
}
