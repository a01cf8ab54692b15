/**
 * Wires one Sluice node: store, key, services, upstream client and the HTTP app. main.ts calls it
 * with the loaded configuration; tests call it with a temporary data directory.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { streamRoutes } from './api/routes/stream.ts';
import { buildApp } from './app.ts';
import { ConnectorService } from './control/connector-service.ts';
import { newId } from './control/ids.ts';
import { ModelGroupService } from './control/model-group-service.ts';
import { ModelService } from './control/model-service.ts';
import { SettingsService } from './control/settings-service.ts';
import { ensureDemoModel } from './demo/demo-model.ts';
import { startDemoProvider } from './demo/demo-provider.ts';
import { PredictService } from './predict/predict-service.ts';
import { ModelRateLimiters } from './predict/rate-limiter.ts';
import { StreamService } from './predict/stream-service.ts';
import {
  CredentialCipher,
  keyCheckName,
  keyCheckPlaintext,
  loadMasterKey,
} from './secrets/credential-cipher.ts';
import { openSqliteStore } from './store/sqlite.ts';
import type { Store } from './store/store.ts';
import { UpstreamClient } from './upstream/client.ts';

export const sluiceVersion = '0.1.0';

export interface NodeOptions {
  dataDir: string;
  masterKey: string | undefined;
  maxBodyBytes: number;
  logger: FastifyBaseLogger;
  /** Start the in-process demo provider and register the `sluice-demo` model. */
  demoModel?: boolean;
}

export interface SluiceNode {
  app: FastifyInstance;
  nodeId: string;
  store: Store;
  services: {
    connectors: ConnectorService;
    groups: ModelGroupService;
    models: ModelService;
    settings: SettingsService;
    predict: PredictService;
    streams: StreamService;
  };
  close(): Promise<void>;
}

export async function createNode(options: NodeOptions): Promise<SluiceNode> {
  await mkdir(options.dataDir, { recursive: true });
  const store = await openSqliteStore({ path: join(options.dataDir, 'sluice.db') });
  try {
    const cipher = new CredentialCipher(await loadMasterKey(options.dataDir, options.masterKey));
    await verifyMasterKey(store, cipher);
    const nodeId = await nodeIdentity(store);
    // Transient settings do not survive a restart, as in OpenSearch.
    await store.clearTransientSettings();
    const settings = new SettingsService(store);
    await settings.refresh();
    const now = Date.now;
    const demo = options.demoModel === true ? await startDemoProvider() : undefined;
    const builtInOrigins = new Set(demo === undefined ? [] : [demo.origin]);
    const upstream = new UpstreamClient({
      builtInOrigins,
      endpointPolicy: () => {
        const current = settings.current();
        return {
          trustedEndpointsRegex: current.trustedEndpointsRegex,
          privateIpEnabled: current.privateIpEnabled,
        };
      },
    });
    const connectors = new ConnectorService({ store, cipher, settings, now, builtInOrigins });
    const groups = new ModelGroupService(store, now);
    const models = new ModelService({ store, connectors, groups, now, nodeId });
    const predict = new PredictService({
      models,
      connectors,
      settings,
      upstream,
      rateLimiters: new ModelRateLimiters(),
    });
    const streams = new StreamService({ settings, predict, upstream });
    if (demo !== undefined) await ensureDemoModel(store, models, demo.origin);
    const app = buildApp({
      logger: options.logger,
      maxBodyBytes: options.maxBodyBytes,
      node: { id: nodeId, name: 'sluice', version: sluiceVersion },
      connectors,
      groups,
      models,
      settings,
      predict,
      extraRoutes: [(instance) => streamRoutes(instance, streams)],
    });
    return {
      app,
      nodeId,
      store,
      services: { connectors, groups, models, settings, predict, streams },
      async close() {
        await app.close();
        await upstream.close();
        await demo?.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** A wrong master key must stop the node at start, not surface later as failing calls. */
async function verifyMasterKey(store: Store, cipher: CredentialCipher): Promise<void> {
  const check = await store.getMeta('key_check');
  if (check === undefined) {
    await store.setMeta('key_check', cipher.encrypt(keyCheckName, keyCheckPlaintext));
    return;
  }
  try {
    if (cipher.decrypt(keyCheckName, check) === keyCheckPlaintext) return;
  } catch {
    // Reported below.
  }
  throw new Error(
    'The master key does not match the one this data directory was encrypted with (SLUICE_MASTER_KEY or master.key)',
  );
}

async function nodeIdentity(store: Store): Promise<string> {
  const existing = await store.getMeta('node_id');
  if (existing !== undefined) return existing;
  const id = newId();
  await store.setMeta('node_id', id);
  return id;
}
