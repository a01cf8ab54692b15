/**
 * The SQLite driver on Node's own `node:sqlite` (`DatabaseSync`), used from Node 24 on. Loaded
 * through `process.getBuiltinModule` when a database opens, so Node 20, which lacks the module,
 * never names it, and Node 22 prints its experimental warning only when the driver is forced.
 */
import type { DriverConnection, SqliteDriver, SqliteParameters } from './sqlite-driver.ts';
import { sqliteResultCodeName } from './sqlite-driver-result-codes.ts';

/** The part of node:sqlite used here (@types/node 20, which this project builds with, lacks it). */
interface NodeSqliteModule {
  DatabaseSync: new (
    path: string,
    options: { enableForeignKeyConstraints: boolean; enableDoubleQuotedStringLiterals: boolean },
  ) => DatabaseSync;
}

interface DatabaseSync {
  exec(sql: string): void;
  prepare(sql: string): StatementSync;
  /** Added in Node 22.16 and 24.0. */
  readonly isTransaction: boolean | undefined;
  close(): void;
}

interface StatementSync {
  run(...parameters: SqliteParameters): { changes: number | bigint };
  get(...parameters: SqliteParameters): unknown;
  all(...parameters: SqliteParameters): unknown[];
}

export function loadNodeSqliteDriver(): SqliteDriver {
  const sqlite = process.getBuiltinModule('node:sqlite') as NodeSqliteModule | undefined;
  if (typeof sqlite?.DatabaseSync !== 'function') {
    throw new Error(`node:sqlite is not available in Node ${process.versions.node}`);
  }
  const { DatabaseSync } = sqlite;
  return {
    name: 'node',
    open(path: string): DriverConnection {
      // What better-sqlite3 12 is compiled with (SQLITE_DEFAULT_FOREIGN_KEYS=1, SQLITE_DQS=0), so
      // a statement behaves the same on either driver.
      const database = new DatabaseSync(path, {
        enableForeignKeyConstraints: true,
        enableDoubleQuotedStringLiterals: false,
      });
      if (typeof database.isTransaction !== 'boolean') {
        database.close();
        throw new Error(`node:sqlite in Node ${process.versions.node} is too old (needs 22.16)`);
      }
      return {
        exec: (sql) => database.exec(sql),
        prepare: (sql) => database.prepare(sql),
        get inTransaction() {
          return database.isTransaction === true;
        },
        close: () => database.close(),
      };
    },
    errorCode(error: unknown): string | undefined {
      // node:sqlite reports SQLite's failures as ERR_SQLITE_ERROR with the extended result code
      // in `errcode`; its own checks (a closed database, a wrong parameter type) have other codes.
      return error instanceof Error &&
        'code' in error &&
        error.code === 'ERR_SQLITE_ERROR' &&
        'errcode' in error &&
        typeof error.errcode === 'number'
        ? sqliteResultCodeName(error.errcode)
        : undefined;
    },
  };
}
