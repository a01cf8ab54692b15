/**
 * Store contract scenarios for model groups: CRUD, refusal to delete a group in use, names unique
 * case-insensitively (also against concurrent creations), versioned updates, latest_version.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import {
  modelGroupDocument,
  register,
  rejectsWithServiceError,
  type Scenario,
} from './store.contract-fixtures.ts';

export function modelGroupScenarios(test: Scenario): void {
  describe('model groups', () => {
    test('create, get, update, list and delete', async (store) => {
      assert.deepEqual(await store.listModelGroups(), []);
      await store.createModelGroup('g2', modelGroupDocument({ name: 'second' }));
      await store.createModelGroup('g1', modelGroupDocument({ name: 'first' }));
      assert.deepEqual(await store.getModelGroup('g1'), {
        id: 'g1',
        version: 1,
        document: modelGroupDocument({ name: 'first' }),
      });
      const renamed = modelGroupDocument({ name: 'renamed', description: 'd' });
      assert.equal(await store.updateModelGroup('g1', renamed), 'updated');
      assert.deepEqual(await store.getModelGroup('g1'), {
        id: 'g1',
        version: 2,
        document: renamed,
      });
      assert.deepEqual(
        (await store.listModelGroups()).map((group) => group.id),
        ['g2', 'g1'],
      );
      assert.equal(await store.updateModelGroup('unknown', renamed), 'not_found');
      await rejectsWithServiceError(
        store.createModelGroup('g1', modelGroupDocument({ name: 'another' })),
        'conflict',
      );
      assert.deepEqual(await store.deleteModelGroup('g1'), { outcome: 'deleted' });
      assert.equal(await store.getModelGroup('g1'), undefined);
      assert.deepEqual(await store.deleteModelGroup('g1'), { outcome: 'not_found' });
    });

    test('delete is refused while models belong to the group', async (store) => {
      await store.createModelGroup('g1', modelGroupDocument());
      await register(store, 'm1', { model_group_id: 'g1' });
      await register(store, 'm2', { model_group_id: 'g1' });
      assert.deepEqual(await store.deleteModelGroup('g1'), {
        outcome: 'in_use',
        modelIds: ['m1', 'm2'],
      });
      assert.notEqual(await store.getModelGroup('g1'), undefined);
      await store.deleteModel('m1');
      await store.deleteModel('m2');
      assert.deepEqual(await store.deleteModelGroup('g1'), { outcome: 'deleted' });
    });

    test('names are unique case-insensitively, and found that way', async (store) => {
      assert.equal(await store.modelGroupIdByName('Chat Models'), undefined);
      assert.equal(
        await store.createModelGroup('g1', modelGroupDocument({ name: 'Chat Models' })),
        'created',
      );
      await store.createModelGroup('g2', modelGroupDocument({ name: 'Été' }));
      assert.equal(await store.modelGroupIdByName('chat models'), 'g1');
      assert.equal(await store.modelGroupIdByName('CHAT MODELS'), 'g1');
      assert.equal(await store.modelGroupIdByName('ÉTÉ'), 'g2', 'beyond ASCII too');
      assert.equal(await store.modelGroupIdByName('chat models 2'), undefined);
      assert.equal(
        await store.createModelGroup('g3', modelGroupDocument({ name: 'CHAT models' })),
        'name_taken',
      );
      assert.equal(await store.getModelGroup('g3'), undefined, 'nothing was written');
      const clash = modelGroupDocument({ name: 'chat MODELS' });
      assert.equal(await store.updateModelGroup('g2', clash), 'name_taken');
      assert.equal((await store.getModelGroup('g2'))?.document.name, 'Été');
      const ownName = modelGroupDocument({ name: 'chat models', description: 'recased' });
      assert.equal(await store.updateModelGroup('g1', ownName), 'updated', 'its own name');
      await store.updateModelGroup('g1', modelGroupDocument({ name: 'Embeddings' }));
      assert.equal(await store.modelGroupIdByName('chat models'), undefined);
      assert.equal(await store.modelGroupIdByName('embeddings'), 'g1');
      await store.deleteModelGroup('g1');
      assert.equal(await store.modelGroupIdByName('embeddings'), undefined);
    });

    test('of concurrent creations with one name, exactly one succeeds', async (store) => {
      const outcomes = await Promise.all(
        ['Same', 'same', 'SAME', 'sAmE'].map((name, index) =>
          store.createModelGroup(`g${index}`, modelGroupDocument({ name })),
        ),
      );
      assert.deepEqual([...outcomes].sort(), ['created', 'name_taken', 'name_taken', 'name_taken']);
      assert.equal((await store.listModelGroups()).length, 1);
    });

    test('an update with an expected version writes only over that version', async (store) => {
      await store.createModelGroup('g1', modelGroupDocument({ name: 'first' }));
      const fresh = modelGroupDocument({ name: 'fresh' });
      assert.equal(await store.updateModelGroup('g1', fresh, 1), 'updated');
      const stale = modelGroupDocument({ name: 'stale' });
      assert.equal(await store.updateModelGroup('g1', stale, 1), 'version_conflict');
      assert.equal((await store.getModelGroup('g1'))?.document.name, 'fresh');
      assert.equal(await store.modelGroupIdByName('stale'), undefined);
    });

    test('an update never lowers latest_version', async (store) => {
      await store.createModelGroup('g1', modelGroupDocument());
      const readBeforeRegistration = await store.getModelGroup('g1');
      assert.ok(readBeforeRegistration);
      await register(store, 'm1', { model_group_id: 'g1' });
      const renamed = { ...readBeforeRegistration.document, name: 'renamed' };
      assert.equal(await store.updateModelGroup('g1', renamed), 'updated');
      const stored = await store.getModelGroup('g1');
      assert.equal(stored?.document.name, 'renamed');
      assert.equal(stored?.document.latest_version, 1);
      assert.equal((await register(store, 'm2', { model_group_id: 'g1' })).modelVersion, '2');
    });
  });
}
