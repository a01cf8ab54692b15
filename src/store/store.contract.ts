/**
 * The behaviour every `Store` implementation must show, as one node:test suite (habit 14, after
 * drizzle's `sqlite-common.ts`). An implementation's test file calls `storeContract` with a
 * factory that opens a fresh, empty store per test; nothing here knows which database it runs on.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  connectorDocument,
  modelDocument,
  modelGroupDocument,
  register,
  rejectsWithServiceError,
  type Scenario,
  taskDocument,
} from './store.contract-fixtures.ts';
import { modelGroupScenarios } from './store.contract-groups.ts';
import { modelAndTaskScenarios } from './store.contract-models.ts';
import { nodeScenarios } from './store.contract-nodes.ts';
import type { Store } from './store.ts';

export interface OpenedStore {
  store: Store;
  /** Closes the store (it may already be closed) and removes whatever `open` created. */
  cleanup(): Promise<void>;
}

export interface StoreContractOptions {
  /** Test title → reason, for scenarios an implementation knowingly does not meet yet. */
  knownGaps?: Record<string, string>;
}

export function storeContract(
  name: string,
  open: () => Promise<OpenedStore>,
  options: StoreContractOptions = {},
): void {
  describe(`Store contract: ${name}`, () => {
    let opened: OpenedStore | undefined;
    beforeEach(async () => {
      opened = await open();
    });
    afterEach(async () => {
      await opened?.cleanup();
      opened = undefined;
    });
    const test: Scenario = (title, body) => {
      const gap = options.knownGaps?.[title];
      it(title, gap === undefined ? {} : { skip: gap }, async () => {
        assert.ok(opened, 'the store was not opened');
        await body(opened.store);
      });
    };

    describe('connectors', () => {
      test('create, get, list and delete', async (store) => {
        assert.deepEqual(await store.listConnectors(), []);
        await store.createConnector('c1', connectorDocument());
        assert.deepEqual(await store.getConnector('c1'), {
          id: 'c1',
          version: 1,
          document: connectorDocument(),
        });
        assert.equal(await store.getConnector('unknown'), undefined);
        assert.deepEqual(await store.deleteConnector('c1'), { outcome: 'deleted' });
        assert.equal(await store.getConnector('c1'), undefined);
        assert.deepEqual(await store.deleteConnector('c1'), { outcome: 'not_found' });
      });

      test('update replaces the document and bumps the version', async (store) => {
        await store.createConnector('c1', connectorDocument({ description: 'first' }));
        assert.equal(
          await store.updateConnector('c1', connectorDocument({ name: 'second' })),
          'updated',
        );
        assert.equal(
          await store.updateConnector('c1', connectorDocument({ name: 'third' })),
          'updated',
        );
        const stored = await store.getConnector('c1');
        assert.equal(stored?.version, 3);
        assert.deepEqual(stored?.document, connectorDocument({ name: 'third' }));
        assert.equal(stored?.document.description, undefined, 'removed fields stay removed');
        assert.equal(await store.updateConnector('unknown', connectorDocument()), 'not_found');
        assert.equal(await store.getConnector('unknown'), undefined);
      });

      test('an update with an expected version writes only over that version', async (store) => {
        await store.createConnector('c1', connectorDocument({ name: 'first' }));
        const fresh = connectorDocument({ name: 'fresh' });
        assert.equal(await store.updateConnector('c1', fresh, 1), 'updated');
        const stale = connectorDocument({ name: 'stale' });
        assert.equal(await store.updateConnector('c1', stale, 1), 'version_conflict');
        assert.deepEqual(await store.getConnector('c1'), { id: 'c1', version: 2, document: fresh });
        assert.equal(await store.updateConnector('unknown', stale, 1), 'not_found');
      });

      test('a duplicate id is a conflict and keeps the original', async (store) => {
        await store.createConnector('c1', connectorDocument({ name: 'original' }));
        await rejectsWithServiceError(store.createConnector('c1', connectorDocument()), 'conflict');
        const stored = await store.getConnector('c1');
        assert.equal(stored?.document.name, 'original');
        assert.equal(stored?.version, 1);
      });

      test('list is in creation order, unaffected by updates and deletes', async (store) => {
        for (const id of ['zeta', 'alpha', 'mid', 'beta']) {
          await store.createConnector(id, connectorDocument({ name: id }));
        }
        await store.updateConnector('zeta', connectorDocument({ name: 'zeta 2' }));
        await store.deleteConnector('mid');
        await store.createConnector('mid', connectorDocument({ name: 'mid again' }));
        const listed = await store.listConnectors();
        assert.deepEqual(
          listed.map(({ id, version, document }) => [id, version, document.name]),
          [
            ['zeta', 2, 'zeta 2'],
            ['alpha', 1, 'alpha'],
            ['beta', 1, 'beta'],
            ['mid', 1, 'mid again'],
          ],
        );
      });

      test('delete is refused while models use the connector', async (store) => {
        await store.createConnector('c1', connectorDocument());
        await store.createConnector('other', connectorDocument());
        await register(store, 'm1', { connector_id: 'c1' });
        await register(store, 'm-other', { connector_id: 'other' });
        await register(store, 'm2', { connector_id: 'c1' });
        assert.deepEqual(await store.deleteConnector('c1'), {
          outcome: 'in_use',
          modelIds: ['m1', 'm2'],
        });
        assert.equal((await store.getConnector('c1'))?.version, 1, 'nothing was deleted');
        assert.equal(await store.deleteModel('m1'), true);
        assert.deepEqual(await store.deleteConnector('c1'), {
          outcome: 'in_use',
          modelIds: ['m2'],
        });
        assert.equal(await store.deleteModel('m2'), true);
        assert.deepEqual(await store.deleteConnector('c1'), { outcome: 'deleted' });
        assert.equal(await store.getConnector('c1'), undefined);
      });
    });

    modelGroupScenarios(test);
    modelAndTaskScenarios(test);
    nodeScenarios(test);
    registerSettingsAndMetaScenarios(test);
    registerRoundTripAndLifecycleScenarios(test);
  });
}

function registerSettingsAndMetaScenarios(test: Scenario): void {
  describe('settings', () => {
    test('start empty', async (store) => {
      assert.deepEqual(await store.getSettings(), { persistent: {}, transient: {} });
    });

    test('values of every kind round-trip exactly', async (store) => {
      const persistent = {
        'plugins.ml_commons.stream_enabled': false,
        'plugins.ml_commons.max_json_size': 0,
        'test.negative_fraction': -12.5,
        'test.empty_string': '',
        'test.string': 'naïve "quoted" \\ value',
        'test.empty_list': [],
        'plugins.ml_commons.trusted_connector_endpoints_regex': ['^https://api\\.openai\\.com/.*$'],
      };
      const after = await store.updateSettings({ persistent, transient: {} });
      assert.deepEqual(after, { persistent, transient: {} });
      assert.deepEqual(await store.getSettings(), after);
    });

    test('null unsets; scopes are independent', async (store) => {
      const key = 'plugins.ml_commons.stream_enabled';
      await store.updateSettings({ persistent: { [key]: true }, transient: { [key]: false } });
      await store.updateSettings({ persistent: { [key]: false }, transient: {} });
      assert.deepEqual(await store.getSettings(), {
        persistent: { [key]: false },
        transient: { [key]: false },
      });
      const after = await store.updateSettings({
        persistent: { [key]: null, 'test.absent': null, 'test.added': 3 },
        transient: {},
      });
      assert.deepEqual(after, { persistent: { 'test.added': 3 }, transient: { [key]: false } });
    });

    test('values JSON cannot carry are refused and change nothing', async (store) => {
      await rejectsWithServiceError(
        store.updateSettings({
          persistent: { 'test.kept': 1, 'test.number': Number.POSITIVE_INFINITY },
          transient: {},
        }),
        'bad_request',
      );
      assert.deepEqual(await store.getSettings(), { persistent: {}, transient: {} });
    });

    test('clearTransientSettings keeps persistent ones', async (store) => {
      await store.updateSettings({
        persistent: { 'test.kept': 'yes' },
        transient: { 'test.dropped': 'yes', 'test.also_dropped': 1 },
      });
      await store.clearTransientSettings();
      assert.deepEqual(await store.getSettings(), {
        persistent: { 'test.kept': 'yes' },
        transient: {},
      });
    });
  });

  describe('meta', () => {
    test('get, set and overwrite', async (store) => {
      assert.equal(await store.getMeta('node_id'), undefined);
      await store.setMeta('node_id', 'first');
      await store.setMeta('other', '');
      await store.setMeta('node_id', 'second');
      assert.equal(await store.getMeta('node_id'), 'second');
      assert.equal(await store.getMeta('other'), '');
    });
  });
}

function registerRoundTripAndLifecycleScenarios(test: Scenario): void {
  describe('documents', () => {
    test('round-trip exactly: unicode, nesting, large strings', async (store) => {
      const unicode = 'héllo 世界 🚀 👩‍👩‍👧 שלום e\u0301 "q" \\ \n\t\u0001 </script>';
      const large = 'x'.repeat(2_000_000) + unicode;
      const connector = connectorDocument({
        name: unicode,
        description: large,
        parameters: { [unicode]: unicode, empty: '' },
        actions: [
          { action_type: 'predict', method: 'POST', url: 'u', extra: { deep: [1, [2, null]] } },
        ],
        client_config: { read_timeout: 0, skip_ssl_verification: false, total_timeout: 1.5 },
      });
      await store.createConnector('c1', connector);
      assert.deepEqual((await store.getConnector('c1'))?.document, connector);

      const model = modelDocument({
        interface: { input: { type: 'object', properties: { a: { enum: [true, false, null] } } } },
        guardrails: { nested: { list: [{ x: -0.001 }, 'y', 10 ** 15] } },
        planning_worker_nodes: [],
        is_enabled: false,
      });
      await store.registerModel('m1', model, 't1', taskDocument({ error: unicode }));
      assert.deepEqual((await store.getModel('m1'))?.document, model);
      assert.equal((await store.getTask('t1'))?.document.error, unicode);
      assert.equal((await store.listConnectors())[0]?.document.description, large);
    });

    test('keep the order of their keys', async (store) => {
      const parameters = { zeta: '1', alpha: '2', 'a much longer key': '3', b: '4', '10': '5' };
      const connector = connectorDocument({ parameters, credential: { z: 'z', a: 'a' } });
      await store.createConnector('c1', connector);
      const stored = await store.getConnector('c1');
      assert.equal(JSON.stringify(stored?.document), JSON.stringify(connector));
    });

    // PostgreSQL text cannot hold NUL and UTF-8 cannot encode a lone surrogate: a store must
    // keep such strings anyway (they are valid in JSON and in JavaScript), not mangle them.
    test('round-trip text that only some databases accept (NUL, lone surrogates)', async (store) => {
      const awkward = 'nul \u0000 lone \ud800 surrogate \udfff end';
      const connector = connectorDocument({ name: awkward, parameters: { [awkward]: awkward } });
      await store.createConnector('c1', connector);
      assert.deepEqual((await store.getConnector('c1'))?.document, connector);
      await store.createModelGroup('g1', modelGroupDocument({ name: `Group ${awkward}` }));
      assert.equal((await store.getModelGroup('g1'))?.document.name, `Group ${awkward}`);
      assert.equal(await store.modelGroupIdByName(`GROUP ${awkward}`), 'g1');
      assert.equal(await store.modelGroupIdByName('group nul \u0000'), undefined);
      await store.registerModel(
        'm1',
        modelDocument({ description: awkward }),
        't1',
        taskDocument(),
      );
      assert.equal((await store.getModel('m1'))?.document.description, awkward);
      const setting = { 'test.awkward': awkward, 'test.list': [awkward, '\u0000'] };
      assert.deepEqual(await store.updateSettings({ persistent: setting, transient: {} }), {
        persistent: setting,
        transient: {},
      });
    });

    test('ids that no document can have are simply unknown', async (store) => {
      for (const id of ['a\u0000b', 'lone \ud800', '']) {
        assert.equal(await store.getConnector(id), undefined);
        assert.equal(await store.updateConnector(id, connectorDocument()), 'not_found');
        assert.deepEqual(await store.deleteConnector(id), { outcome: 'not_found' });
        assert.equal(await store.getModel(id), undefined);
        assert.equal(await store.deleteModel(id), false);
        assert.equal(await store.getTask(id), undefined);
        assert.equal(await store.updateTask(id, taskDocument()), false);
        assert.deepEqual(await store.deleteModelGroup(id), { outcome: 'not_found' });
        assert.equal(await store.removeNode(id), false);
        await rejectsWithServiceError(
          register(store, 'm1', { connector_id: id }),
          'not_found',
          'Failed to find connector',
        );
      }
    });
  });

  describe('lifecycle', () => {
    test('calls after close reject; close is idempotent', async (store) => {
      await store.close();
      await store.close();
      await assert.rejects(store.getConnector('c1'), /closed/);
      await assert.rejects(store.createConnector('c1', connectorDocument()), /closed/);
      await assert.rejects(store.getSettings(), /closed/);
    });
  });
}
