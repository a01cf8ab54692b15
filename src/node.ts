/**
 * Wires one Sluice node: store, key, services, upstream client, membership, and — in a cluster —
 * the Arrow Flight endpoint (ML role) and the router (coordinator role). main.ts calls it with the
 * loaded configuration; tests call it with a temporary data directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { ClusterExecutor } from './cluster/cluster-executor.ts';
import { predictionHandlers } from './cluster/flight-handlers.ts';
import { Membership } from './cluster/membership.ts';
import { servingNodes } from './cluster/placement.ts';
import { NodeRouter } from './cluster/router.ts';
import type { NodeRole } from './config.ts';
import { ChangeCounter } from './control/changes.ts';
import { ConnectorService } from './control/connector-service.ts';
import { ModelGroupService } from './control/model-group-service.ts';
import { ModelService } from './control/model-service.ts';
import { SettingsService } from './control/settings-service.ts';
import { demoOrigin, ensureDemoModel } from './demo/demo-model.ts';
import { startDemoProvider } from './demo/demo-provider.ts';
import { FlightClient } from './flight/client.ts';
import { startFlightServer } from './flight/server.ts';
import { localExecutor, type PredictionExecutor } from './predict/executor.ts';
import { PredictService } from './predict/predict-service.ts';
import { ModelRateLimiters } from './predict/rate-limiter.ts';
import { StreamService } from './predict/stream-service.ts';
import {
  CredentialCipher,
  keyCheckName,
  keyCheckPlaintext,
  loadMasterKey,
} from './secrets/credential-cipher.ts';
import { openStore } from './store/open-store.ts';
import type { SqliteDriverChoice } from './store/sqlite-driver.ts';
import type { Store } from './store/store.ts';
import { type EndpointPolicy, UpstreamClient } from './upstream/client.ts';

export const sluiceVersion = '0.1.0';

export interface NodeOptions {
  dataDir: string;
  /** Which driver runs the SQLite store (when there is no database URL); 'auto' when absent. */
  sqliteDriver?: SqliteDriverChoice;
  masterKey: string | undefined;
  maxBodyBytes: number;
  logger: FastifyBaseLogger;
  /** Start the in-process demo provider and register the `sluice-demo` model. */
  demoModel?: boolean;
  /** PostgreSQL URL of a shared store; makes this node part of a cluster. */
  databaseUrl?: string | undefined;
  roles?: NodeRole[];
  nodeName?: string | undefined;
  flight?: { host: string; port: number };
  clusterSecret?: string | undefined;
  heartbeatMs?: number;
  leaseMs?: number;
  /** `connector.restricted_ip_patterns`, a node setting (see config.ts). */
  restrictedIpPatterns?: readonly string[];
}

export interface SluiceNode {
  app: FastifyInstance;
  nodeId: string;
  store: Store;
  membership: Membership;
  /** `host:port` of this node's Flight endpoint, when it runs one. */
  flightAddress: string | undefined;
  services: {
    connectors: ConnectorService;
    groups: ModelGroupService;
    models: ModelService;
    settings: SettingsService;
    predict: PredictService;
    streams: StreamService;
  };
  /** Listens for HTTP and publishes the address in the membership table. */
  listen(host: string, port: number): Promise<string>;
  close(): Promise<void>;
}

export async function createNode(options: NodeOptions): Promise<SluiceNode> {
  await mkdir(options.dataDir, { recursive: true });
  const clustered = options.databaseUrl !== undefined;
  const roles = options.roles ?? ['coordinator', 'ml'];
  const store = await openStore({
    databaseUrl: options.databaseUrl,
    sqlitePath: join(options.dataDir, 'sluice.db'),
    ...(options.sqliteDriver === undefined ? {} : { sqliteDriver: options.sqliteDriver }),
    onConnectionError: (error) =>
      options.logger.warn(
        { reason: error.message },
        'a PostgreSQL connection was lost; it is replaced',
      ),
  });
  const closers: Array<() => Promise<void>> = [() => store.close()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close();
  };
  try {
    const cipher = new CredentialCipher(await loadMasterKey(options.dataDir, options.masterKey));
    await verifyMasterKey(store, cipher);
    const nodeId = await nodeIdentity(options.dataDir);
    // Transient settings do not survive a full restart, as in OpenSearch: cleared when no other
    // node of the cluster is alive.
    if (!(await otherNodesAlive(store, nodeId))) await store.clearTransientSettings();
    const settings = new SettingsService(store);
    await settings.refresh();

    const demo =
      options.demoModel === true && roles.includes('ml') ? await startDemoProvider() : undefined;
    if (demo !== undefined) closers.push(() => demo.close());
    const builtInOrigins = new Map<string, string>(
      demo === undefined ? [] : [[demoOrigin, demo.origin]],
    );
    const restrictedIpPatterns = [...(options.restrictedIpPatterns ?? [])];
    // What connector URLs may reach: the dynamic settings, and the node's own deny list.
    const endpointPolicy = (): EndpointPolicy => {
      const current = settings.current();
      return {
        trustedEndpointsRegex: current.trustedEndpointsRegex,
        privateIpEnabled: current.privateIpEnabled,
        trustedPrivateEndpointsRegex: current.trustedPrivateEndpointsRegex,
        restrictedIpPatterns,
      };
    };
    const upstream = new UpstreamClient({ builtInOrigins, endpointPolicy });
    closers.push(() => upstream.close());

    const membership = new Membership({
      store,
      logger: options.logger,
      self: {
        id: nodeId,
        name: options.nodeName ?? `sluice-${nodeId.slice(0, 6)}`,
        roles,
        httpAddress: undefined,
        flightAddress: undefined,
      },
      onTick: () => settings.refresh(),
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    });
    const now = Date.now;
    const changes = new ChangeCounter();
    const connectors = new ConnectorService({
      store,
      cipher,
      endpointPolicy,
      now,
      builtInOrigins,
      changes,
    });
    const groups = new ModelGroupService(store, now);
    const models = new ModelService({
      store,
      connectors,
      groups,
      now,
      nodes: membership,
      nodeId,
      changes,
    });
    const predict = new PredictService({
      models,
      connectors,
      settings,
      upstream,
      rateLimiters: new ModelRateLimiters(),
      eligibleNodeCount: (model) =>
        Math.max(1, servingNodes(model, membership.liveMlNodes()).length),
      changes,
    });
    const streams = new StreamService({ settings, predict, upstream, activity: membership });
    const local = roles.includes('ml') ? localExecutor(predict, streams) : undefined;

    let executor: PredictionExecutor | undefined = clustered ? undefined : local;
    let flightAddress: string | undefined;
    if (clustered) {
      const secret = options.clusterSecret ?? '';
      if (local !== undefined) {
        const flight = options.flight ?? { host: '127.0.0.1', port: 0 };
        const server = await startFlightServer({
          host: flight.host,
          port: flight.port,
          clusterSecret: secret,
          handlers: predictionHandlers(local),
        });
        closers.push(() => server.close());
        flightAddress = `${flight.host}:${server.port}`;
        membership.self.flightAddress = flightAddress;
      }
      const clients = new Map<string, FlightClient>();
      closers.push(async () => {
        for (const client of clients.values()) client.close();
      });
      executor = new ClusterExecutor({
        settings,
        predict,
        membership,
        router: new NodeRouter(),
        local,
        flightClient: (address) => {
          let client = clients.get(address);
          if (client === undefined) {
            client = new FlightClient(address, { clusterSecret: secret });
            clients.set(address, client);
          }
          return client;
        },
      });
    }
    if (executor === undefined) {
      throw new Error('A node outside a cluster must have the ml role (SLUICE_NODE_ROLES)');
    }

    await membership.start();
    closers.push(() => membership.stop());
    if (demo !== undefined) await ensureDemoModel(store, models);
    const app = buildApp({
      logger: options.logger,
      maxBodyBytes: options.maxBodyBytes,
      node: { id: nodeId, name: membership.self.name, version: sluiceVersion },
      connectors,
      groups,
      models,
      settings,
      executor,
      membership,
      store,
    });
    closers.push(() => app.close());
    return {
      app,
      nodeId,
      store,
      membership,
      flightAddress,
      services: { connectors, groups, models, settings, predict, streams },
      async listen(host, port) {
        const address = await app.listen({ host, port });
        membership.self.httpAddress = address;
        await membership.tick();
        return address;
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
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

/** The node's id lives in its data directory: stable across restarts, distinct per node. */
async function nodeIdentity(dataDir: string): Promise<string> {
  const path = join(dataDir, 'node-id');
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing !== '') return existing;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
  }
  const id = randomBytes(15).toString('base64url');
  await writeFile(path, `${id}\n`, { flag: 'wx' });
  return id;
}

async function otherNodesAlive(store: Store, selfId: string): Promise<boolean> {
  const now = Date.now();
  return (await store.listNodes()).some((node) => node.id !== selfId && node.leaseExpiresAt > now);
}
