/**
 * Chooses the store: PostgreSQL when a database URL is configured (a cluster shares it), SQLite
 * in the data directory otherwise (a single node).
 */
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import { openPostgresStore } from './postgres.ts';
import { openSqliteStore } from './sqlite.ts';
import type { SqliteDriverChoice } from './sqlite-driver.ts';
import type { Store } from './store.ts';

export interface OpenStoreOptions {
  /** `SLUICE_DATABASE_URL`: postgres:// or postgresql://. Unset or empty means SQLite. */
  databaseUrl: string | undefined;
  sqlitePath: string;
  /** `SLUICE_SQLITE_DRIVER`; 'auto' when absent. */
  sqliteDriver?: SqliteDriverChoice;
  /** Told about connections PostgreSQL dropped (they are replaced; this is for the log). */
  onConnectionError?: (error: Error) => void;
  /** How long to keep trying to reach PostgreSQL at start (it may be starting too). */
  startupRetryMs?: number;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const { databaseUrl } = options;
  if (databaseUrl === undefined || databaseUrl.trim() === '') {
    return openSqliteStore({
      path: options.sqlitePath,
      ...(options.sqliteDriver === undefined ? {} : { driver: options.sqliteDriver }),
    });
  }
  if (!/^postgres(ql)?:\/\//i.test(databaseUrl.trim())) {
    // Not echoed: whatever it is, it may hold a password.
    throw new ServiceError(
      ErrorCode.Internal,
      'SLUICE_DATABASE_URL must be a postgres:// or postgresql:// URL',
    );
  }
  const deadline = Date.now() + (options.startupRetryMs ?? 30_000);
  for (;;) {
    try {
      return await openPostgresStore({
        connectionString: databaseUrl.trim(),
        ...(options.onConnectionError === undefined
          ? {}
          : { onConnectionError: options.onConnectionError }),
      });
    } catch (error) {
      // A database that is not up yet is worth waiting for; a wrong URL or password is not.
      const retryable = ServiceError.isInstance(error) && error.retryable;
      if (!retryable || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}
