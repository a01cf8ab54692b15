/**
 * `npm run cluster`: a three-node Sluice cluster on this machine for trying the cluster mode —
 * an embedded PostgreSQL (from npm, nothing to install), one coordinator-only node on
 * http://127.0.0.1:8080 and two ML-only nodes that the coordinator reaches over Arrow Flight.
 * Everything lives in a temporary directory and is removed on Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedPostgres } from '../test/helpers/embedded-postgres.ts';
import { buildServer } from './build.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

interface NodePlan {
  name: string;
  roles: string;
  httpPort: number;
  flightPort: number;
}

const plan: NodePlan[] = [
  { name: 'coordinator', roles: 'coordinator', httpPort: 8080, flightPort: 0 },
  { name: 'ml-1', roles: 'ml', httpPort: 8081, flightPort: 8815 },
  { name: 'ml-2', roles: 'ml', httpPort: 8082, flightPort: 8816 },
];

async function main(): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'sluice-cluster-'));
  // The nodes run the bundle, as `npm start` does.
  const entry = await buildServer();
  process.stdout.write('Starting PostgreSQL (embedded)…\n');
  const postgres = await startEmbeddedPostgres();
  const databaseUrl = postgres.connectionString(await postgres.createDatabase());
  const environment = {
    ...process.env,
    SLUICE_DATABASE_URL: databaseUrl,
    // A throwaway cluster: fresh secrets each run, never written anywhere.
    SLUICE_CLUSTER_SECRET: randomBytes(24).toString('base64url'),
    SLUICE_MASTER_KEY: randomBytes(24).toString('base64url'),
    SLUICE_LOG_LEVEL: process.env['SLUICE_LOG_LEVEL'] ?? 'warn',
  };
  const children: ChildProcess[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)),
    );
    await postgres.close();
    await rm(directory, { recursive: true, force: true });
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));

  for (const node of plan) {
    const child = spawn(
      process.execPath,
      [
        '--enable-source-maps',
        entry,
        '--node-name',
        node.name,
        '--node-roles',
        node.roles,
        '--http-port',
        String(node.httpPort),
        '--flight-port',
        String(node.flightPort),
        '--data-dir',
        join(directory, node.name),
      ],
      { cwd: root, env: environment, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    const prefix = (chunk: Buffer) =>
      chunk
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((line) => `[${node.name}] ${line}\n`)
        .join('');
    child.stdout?.on('data', (chunk: Buffer) => process.stdout.write(prefix(chunk)));
    child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(prefix(chunk)));
    child.once('exit', (code) => {
      if (!stopping) {
        process.stderr.write(`[${node.name}] exited (${code}); stopping the cluster\n`);
        void stop(1);
      }
    });
    // Start the coordinator first, so the first ML node to start registers the demo model.
    await waitForListening(child);
  }
  process.stdout.write(
    [
      '',
      'Cluster ready: coordinator http://127.0.0.1:8080, ML nodes ml-1 and ml-2 behind Arrow Flight.',
      '  curl http://127.0.0.1:8080/_nodes',
      '  curl -N -X POST http://127.0.0.1:8080/_plugins/_ml/models/sluice-demo/_predict/stream -H \'content-type: application/json\' -d \'{"parameters":{"messages":[{"role":"user","content":"Hello"}]}}\'',
      'Ctrl-C stops every node and PostgreSQL and removes their data.',
      '',
    ].join('\n'),
  );
}

function waitForListening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Sluice listening on')) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`a node exited during start (${code})`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`cluster: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
