/**
 * The SQLite driver on better-sqlite3 12, used on Node 20 and 22. Imported when a database
 * opens, so that on Node 24, where its objects abort the process when finalized, the addon is
 * never even loaded.
 */
import type { DriverConnection, SqliteDriver } from './sqlite-driver.ts';

export async function loadBetterSqlite3Driver(): Promise<SqliteDriver> {
  const { default: Database } = await import('better-sqlite3');
  return {
    name: 'better-sqlite3',
    open(path: string): DriverConnection {
      const database = new Database(path);
      return {
        exec: (sql) => {
          database.exec(sql);
        },
        prepare: (sql) => database.prepare(sql),
        get inTransaction() {
          return database.inTransaction;
        },
        close: () => {
          database.close();
        },
      };
    },
    errorCode: (error: unknown) => (error instanceof Database.SqliteError ? error.code : undefined),
  };
}
