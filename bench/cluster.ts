/**
 * The cluster of the cluster scenario, started the way an operator starts one: an embedded
 * PostgreSQL (in its keeper process), then a coordinator-only Sluice node and one ML-only node on
 * that database, both on loopback with ports the kernel picks. Every process is registered with
 * processes.ts, so run.ts's cleanup ends them on any failure; `stop()` ends them in order
 * (nodes first, so they can leave the membership table, then PostgreSQL).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import {
  allowLoopbackUpstream,
  cpuMilliseconds,
  type PostgresServer,
  type SluiceNode,
  startPostgres,
  startSluice,
  treeCpuMilliseconds,
} from './processes.ts';

export interface ClusterCpu {
  coordinator: number;
  ml: number;
  /** The postmaster and all its backends and helpers. */
  postgres: number;
}

export interface BenchCluster {
  coordinator: SluiceNode;
  ml: SluiceNode;
  postgres: PostgresServer;
  /** CPU milliseconds each cluster process has used so far. */
  cpu(): ClusterCpu;
  /** GET /_nodes on the coordinator, for the record. */
  nodes(): Promise<unknown>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  root: string | undefined;
  /** Where the two nodes write CPU profiles; undefined: no profiles. */
  cpuProfileDirectory: string | undefined;
  log(message: string): void;
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  const response = await request(url, { headersTimeout: 5_000, bodyTimeout: 5_000 });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`GET ${url} answered ${response.statusCode}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Polls `check` every 100 ms for at most `timeoutMs`. */
async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>) {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  while (performance.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
}

export async function startCluster(options: ClusterOptions): Promise<BenchCluster> {
  const postgres = await startPostgres();
  options.log(`  PostgreSQL up (postmaster pid ${postgres.postmasterPid})`);
  const started: SluiceNode[] = [];
  const stopAll = async () => {
    for (const node of started.reverse()) await node.stop().catch(() => undefined);
    await postgres.stop().catch(() => undefined);
  };
  try {
    // Fresh secrets for a throwaway cluster; never printed.
    const env = {
      SLUICE_DATABASE_URL: postgres.url,
      SLUICE_CLUSTER_SECRET: randomBytes(24).toString('base64url'),
      SLUICE_MASTER_KEY: randomBytes(24).toString('base64url'),
    };
    const stamp = new Date().toISOString().replaceAll(/[:.]/g, '-');
    const start = async (name: 'coordinator' | 'ml') => {
      const directory = options.cpuProfileDirectory;
      // A folder per node, with Node's own file names: every thread (tsx's loader runs in a
      // worker) writes a profile of its own, and a fixed --cpu-prof-name would overwrite them.
      const nodeFlags =
        directory === undefined
          ? []
          : ['--cpu-prof', `--cpu-prof-dir=${join(directory, `cluster-${stamp}-${name}`)}`];
      const node = await startSluice({
        nodeFlags,
        root: options.root,
        args: ['--flight-port', '0', '--node-roles', name, '--node-name', `bench-${name}`],
        env,
      });
      started.push(node);
      return node;
    };
    // One after the other: each applies the schema migrations at start.
    const coordinator = await start('coordinator');
    const ml = await start('ml');
    options.log(
      `  coordinator ${coordinator.origin} (pid ${coordinator.pid}), ML node ${ml.origin} ` +
        `(pid ${ml.pid}, Flight ${ml.flightAddress ?? 'none'})`,
    );
    if (ml.flightAddress === undefined) throw new Error('the ML node runs no Flight endpoint');
    await waitUntil('both nodes live in GET /_nodes', 15_000, async () => {
      const answer = await getJson(`${coordinator.origin}/_nodes`);
      const nodes = (answer['nodes'] ?? {}) as Record<string, { live?: unknown }>;
      return [coordinator.nodeId, ml.nodeId].every((id) => nodes[id]?.live === true);
    });
    // Set once through the coordinator; the ML node (which calls the upstream) reads it from
    // PostgreSQL on its next heartbeat.
    await allowLoopbackUpstream(coordinator.origin);
    await waitUntil('the loopback settings on the ML node', 15_000, async () => {
      const answer = await getJson(`${ml.origin}/_cluster/settings?flat_settings=true`);
      const persistent = (answer['persistent'] ?? {}) as Record<string, unknown>;
      return persistent['plugins.ml_commons.connector.private_ip_enabled'] === 'true';
    });
    return {
      coordinator,
      ml,
      postgres,
      cpu: () => ({
        coordinator: cpuOrZero(coordinator.pid),
        ml: cpuOrZero(ml.pid),
        postgres: treeCpuMilliseconds(postgres.postmasterPid),
      }),
      nodes: () => getJson(`${coordinator.origin}/_nodes`),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function cpuOrZero(pid: number): number {
  try {
    return cpuMilliseconds(pid);
  } catch {
    return 0;
  }
}
