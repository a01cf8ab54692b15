/**
 * The cluster `Store`, on PostgreSQL through a node-postgres pool: several Sluice nodes share
 * one database.
 *
 * Same semantics as the SQLite store (the contract suite runs against both). The store itself
 * is `postgres-store.ts`; this file opens it: pool, timeouts, migrations, startup errors. Where SQLite takes
 * the whole database's write lock, this store locks rows: a registration locks its group
 * (`FOR UPDATE`), so concurrent registrations in one group get distinct versions, and keeps the
 * connector it references from being deleted (`FOR SHARE`) until it commits; a refusing delete
 * locks the row it may delete, then looks for models using it. Rows are always locked in the
 * same order (model, connector, group), so these transactions cannot deadlock each other.
 *
 * Outages: the pool replaces dead connections by itself. A call while PostgreSQL is down fails
 * within the connect timeout with a retryable ServiceError; once the server is back, the next
 * call succeeds. An idle connection dying (a server restart) never crashes the process.
 */
import pg from 'pg';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import { redact, toServiceError } from './postgres-errors.ts';
import { applyMigrations } from './postgres-migrations.ts';
import { PostgresStore } from './postgres-store.ts';
import type { Store } from './store.ts';

export interface PostgresStoreOptions {
  /** A postgres:// or postgresql:// URL. */
  connectionString: string;
  /** Most connections open at once; default 10. */
  poolSize?: number;
  /** How long opening a connection (or waiting for a free one) may take; default 5 s. */
  connectTimeoutMilliseconds?: number;
  /** How long one statement may take before its connection is dropped; default 30 s. */
  queryTimeoutMilliseconds?: number;
  /**
   * Told when an idle connection fails (e.g. the server restarted). Nothing needs doing: the
   * pool drops it and opens a new one on the next call. For logging.
   */
  onConnectionError?: (error: Error) => void;
}

const defaultPoolSize = 10;
const defaultConnectTimeoutMilliseconds = 5_000;
const defaultQueryTimeoutMilliseconds = 30_000;
/** Idle connections close after this, so a quiet node holds few. */
const idleTimeoutMilliseconds = 30_000;

export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const target = parseConnectionString(options.connectionString);
  const poolSize = options.poolSize ?? defaultPoolSize;
  if (!Number.isSafeInteger(poolSize) || poolSize < 1) {
    throw new ServiceError(ErrorCode.Internal, 'The PostgreSQL pool size must be at least 1');
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: poolSize,
    connectionTimeoutMillis:
      options.connectTimeoutMilliseconds ?? defaultConnectTimeoutMilliseconds,
    query_timeout: options.queryTimeoutMilliseconds ?? defaultQueryTimeoutMilliseconds,
    idleTimeoutMillis: idleTimeoutMilliseconds,
    keepAlive: true,
    application_name: 'sluice',
  });
  // Without a listener, an idle connection's error (the server restarting) would be thrown as
  // an uncaught 'error' event and take the process down.
  pool.on('error', (error) => options.onConnectionError?.(error));
  try {
    const client = await pool.connect();
    try {
      await applyMigrations(client);
    } finally {
      // Never reused: it held the migration lock and session settings.
      client.release(true);
    }
    return new PostgresStore(pool, poolSize);
  } catch (error) {
    await pool.end().catch(() => undefined);
    const reason = redact(describeError(error), target.secrets);
    const mapped = toServiceError(error);
    throw new ServiceError(
      ErrorCode.Internal,
      `Cannot open the PostgreSQL store at ${target.display}: ${reason}`,
      { status: mapped.status, retryable: mapped.retryable, cause: error },
    );
  }
}

/**
 * Checks the URL up front (node-postgres would take nearly anything) and prepares the two
 * things messages need: a form safe to show, and the secrets to strip from driver errors.
 */
function parseConnectionString(connectionString: string): { display: string; secrets: string[] } {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    // Not echoed: a malformed URL may still hold the password.
    throw new ServiceError(
      ErrorCode.Internal,
      'The PostgreSQL connection string is not a valid URL',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ServiceError(
      ErrorCode.Internal,
      `The PostgreSQL connection string must start with postgres:// or postgresql://, not ${url.protocol}//`,
    );
  }
  const secrets = [connectionString, url.password, safeDecode(url.password)];
  for (const [name, value] of url.searchParams) {
    if (/pass|key|secret/i.test(name)) secrets.push(value);
  }
  const credentials =
    url.username === '' ? '' : `${url.username}${url.password === '' ? '' : ':***'}@`;
  const display = `${url.protocol}//${credentials}${url.host}${url.pathname}`;
  return { display, secrets: secrets.sort((left, right) => right.length - left.length) };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(describeError).join('; ');
  }
  return error instanceof Error ? error.message : String(error);
}
