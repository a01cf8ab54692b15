import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/store.ts';
import { ModelGroupService } from './model-group-service.ts';

const nameTaken = /already being used by a model group/;

describe('ModelGroupService with concurrent writers', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openSqliteStore({ path: ':memory:' });
  });
  afterEach(async () => store.close());

  it('lets exactly one of concurrent registrations take a name', async () => {
    const groups = new ModelGroupService(store, Date.now);
    const results = await Promise.allSettled(
      ['Chat', 'chat', 'CHAT', 'cHaT'].map((name) => groups.register({ name })),
    );
    assert.equal(results.filter((result) => result.status === 'fulfilled').length, 1);
    for (const result of results) {
      if (result.status === 'rejected') {
        assert.ok(ServiceError.isInstance(result.reason));
        assert.equal(result.reason.status, 400);
        assert.match(result.reason.message, nameTaken);
      }
    }
  });

  it('puts models registered at once under one name into one group', async () => {
    const groups = new ModelGroupService(store, Date.now);
    const ids = await Promise.all(
      Array.from({ length: 5 }, () => groups.groupForModelName({ name: 'gpt-4o' })),
    );
    assert.equal(new Set(ids).size, 1);
    assert.equal((await store.listModelGroups()).length, 1);
  });

  it('keeps a rename another node made between its read and its write', async () => {
    const groups = new ModelGroupService(store, Date.now);
    const { model_group_id: id } = await groups.register({ name: 'original' });
    // Another node renames the group right after this one read it.
    let interleaved = false;
    const updateModelGroup: Store['updateModelGroup'] = async (groupId, group, expectedVersion) => {
      if (!interleaved) {
        interleaved = true;
        const current = await store.getModelGroup(groupId);
        assert.ok(current);
        await store.updateModelGroup(groupId, { ...current.document, name: 'renamed' });
      }
      return store.updateModelGroup(groupId, group, expectedVersion);
    };
    const racing = new Proxy(store, {
      get: (target, property) => {
        if (property === 'updateModelGroup') return updateModelGroup;
        const value = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await new ModelGroupService(racing, Date.now).update(id, { description: 'described' });
    const stored = await store.getModelGroup(id);
    assert.equal(stored?.document.name, 'renamed', 'the other write is kept');
    assert.equal(stored?.document.description, 'described');
    assert.equal(stored?.version, 3);
  });

  it('refuses a rename onto a taken name and changes nothing', async () => {
    const groups = new ModelGroupService(store, Date.now);
    await groups.register({ name: 'first' });
    const { model_group_id: id } = await groups.register({ name: 'second' });
    await assert.rejects(groups.update(id, { name: 'FIRST', description: 'x' }), nameTaken);
    const stored = await store.getModelGroup(id);
    assert.equal(stored?.document.name, 'second');
    assert.equal(stored?.document.description, undefined);
    await groups.update(id, { name: 'Second' });
    assert.equal((await store.getModelGroup(id))?.document.name, 'Second', 'its own name, recased');
  });
});
