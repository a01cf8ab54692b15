/**
 * The synchronous SQLite driver the store runs on: node:sqlite from Node 24, better-sqlite3 on
 * Node 20 and 22. Internal to the SQLite store.
 *
 * Why two: better-sqlite3 12 (the last major that builds for Node 20) wraps its objects in
 * `node::ObjectWrap`, and on Node 24.19+ finalizing one aborts the process (nodejs/node#65446),
 * at exit or whenever a statement is garbage-collected. node:sqlite does not exist on Node 20 and
 * is experimental on 22 (a warning at load, and text read back is cut at the first NUL). So each
 * Node gets the driver that works there, and the store sees one interface: errors carry the same
 * SQLite code names, statements are prepared once per database, transactions are BEGIN IMMEDIATE.
 */
import { isBuiltin } from 'node:module';
import { loadBetterSqlite3Driver } from './sqlite-driver-better-sqlite3.ts';
import { loadNodeSqliteDriver } from './sqlite-driver-node.ts';

export const sqliteDriverChoices = ['auto', 'node', 'better-sqlite3'] as const;
/** `SLUICE_SQLITE_DRIVER`: 'auto' picks by Node version; the others force one driver. */
export type SqliteDriverChoice = (typeof sqliteDriverChoices)[number];
export type SqliteDriverName = Exclude<SqliteDriverChoice, 'auto'>;
export const sqliteDriverNames: readonly SqliteDriverName[] = ['node', 'better-sqlite3'];

/** A value SQLite stores: TEXT, INTEGER or REAL, NULL, BLOB. */
export type SqliteValue = string | number | bigint | null | Uint8Array;

/**
 * Values for the `?` placeholders in order, or one object for named ones: `{ id }` binds `@id`.
 * Numbers are bound as REAL; STRICT INTEGER columns store integral ones as INTEGER. A string is
 * stored as UTF-8, so a lone surrogate in it becomes U+FFFD, on every driver.
 */
export type SqliteParameters = SqliteValue[] | [Readonly<Record<string, SqliteValue>>];

/**
 * A prepared statement. Rows are objects keyed by column name (their prototype differs between
 * drivers: node:sqlite's have none). INTEGER columns read as numbers; node:sqlite throws on one
 * beyond Number.MAX_SAFE_INTEGER where better-sqlite3 rounds, and the store writes none.
 */
export interface SqliteStatement<Row = unknown> {
  /** Runs the statement; `changes` counts the rows it inserted, updated or deleted. */
  run(...parameters: SqliteParameters): { changes: number };
  /** The first row, or undefined when there is none. */
  get(...parameters: SqliteParameters): Row | undefined;
  all(...parameters: SqliteParameters): Row[];
}

/** A failure SQLite reported, named as better-sqlite3 names it ('SQLITE_CONSTRAINT_UNIQUE'). */
export class SqliteError extends Error {
  override name = 'SqliteError';
  /** The SQLite result code, extended where SQLite gave one (https://sqlite.org/rescode.html). */
  readonly code: string;

  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** What a driver module provides; `SqliteDatabase` builds the same behaviour on top of each. */
export interface SqliteDriver {
  readonly name: SqliteDriverName;
  open(path: string): DriverConnection;
  /** The SQLite code name of an error this driver threw, undefined for any other value. */
  errorCode(error: unknown): string | undefined;
}

export interface DriverConnection {
  exec(sql: string): void;
  prepare(sql: string): DriverStatement;
  readonly inTransaction: boolean;
  close(): void;
}

export interface DriverStatement {
  run(...parameters: SqliteParameters): { changes: number | bigint };
  get(...parameters: SqliteParameters): unknown;
  all(...parameters: SqliteParameters): unknown[];
}

/** Why `name` cannot run on this Node, or undefined when it can. Loads nothing. */
export function sqliteDriverUnavailable(
  name: SqliteDriverName,
  nodeVersion: string = process.versions.node,
): string | undefined {
  if (name === 'node') {
    // The running Node's, whatever `nodeVersion` says: only it can tell.
    return isBuiltin('node:sqlite')
      ? undefined
      : `node:sqlite does not exist in Node ${process.versions.node}`;
  }
  return majorVersion(nodeVersion) >= 24
    ? `better-sqlite3 12 aborts Node ${nodeVersion} when its objects are finalized (nodejs/node#65446)`
    : undefined;
}

/** The driver 'auto' stands for: node:sqlite from Node 24 on, better-sqlite3 before. */
export function defaultSqliteDriver(nodeVersion: string = process.versions.node): SqliteDriverName {
  return majorVersion(nodeVersion) >= 24 ? 'node' : 'better-sqlite3';
}

/** The driver `choice` stands for on this Node; throws when that driver cannot run here. */
export function resolveSqliteDriver(
  choice: SqliteDriverChoice,
  nodeVersion: string = process.versions.node,
): SqliteDriverName {
  const name = choice === 'auto' ? defaultSqliteDriver(nodeVersion) : choice;
  const unavailable = sqliteDriverUnavailable(name, nodeVersion);
  if (unavailable !== undefined) {
    throw new Error(`the SQLite driver ${name} cannot be used: ${unavailable}`);
  }
  return name;
}

/** Opens a file (created if missing; its directory must exist), ':memory:', or '' (temporary). */
export async function openSqliteDatabase(
  path: string,
  choice: SqliteDriverChoice = 'auto',
): Promise<SqliteDatabase> {
  const name = resolveSqliteDriver(choice);
  const driver = name === 'node' ? loadNodeSqliteDriver() : await loadBetterSqlite3Driver();
  let connection: DriverConnection;
  try {
    connection = driver.open(path);
  } catch (error) {
    throw translateError(driver, error);
  }
  return new SqliteDatabase(driver, connection);
}

/** One connection, with the behaviour the store relies on made the same for every driver. */
export class SqliteDatabase {
  readonly driver: SqliteDriverName;
  readonly #driver: SqliteDriver;
  readonly #connection: DriverConnection;
  /**
   * By SQL text, so that a statement run again (BEGIN IMMEDIATE and COMMIT for every write) is
   * compiled once. The store prepares a fixed set of statements, so the map stays small.
   */
  readonly #statements = new Map<string, SqliteStatement>();
  #open = true;

  constructor(driver: SqliteDriver, connection: DriverConnection) {
    this.driver = driver.name;
    this.#driver = driver;
    this.#connection = connection;
  }

  /** Runs one or more statements separated by semicolons, ignoring any rows. */
  exec(sql: string): void {
    this.#call(() => this.#connection.exec(sql));
  }

  /** The statement for `sql`, prepared on first use and kept until close. */
  prepare<Row = unknown>(sql: string): SqliteStatement<Row> {
    const cached = this.#statements.get(sql);
    // The cast is the caller's claim about the columns, as with any driver's typed statements.
    if (cached !== undefined) return cached as SqliteStatement<Row>;
    const prepared = this.#call(() => this.#connection.prepare(sql));
    const statement: SqliteStatement = {
      run: (...parameters) => ({
        changes: Number(this.#call(() => prepared.run(...wellFormed(parameters))).changes),
      }),
      get: (...parameters) => this.#call(() => prepared.get(...wellFormed(parameters))),
      all: (...parameters) => this.#call(() => prepared.all(...wellFormed(parameters))),
    };
    this.#statements.set(sql, statement);
    return statement as SqliteStatement<Row>;
  }

  get inTransaction(): boolean {
    return this.#connection.inTransaction;
  }

  /**
   * Runs `work` in a BEGIN IMMEDIATE transaction: committed when it returns, rolled back when it
   * throws. IMMEDIATE takes the write lock up front, where busy_timeout applies; a deferred
   * transaction that reads and then writes can fail with SQLITE_BUSY without waiting.
   */
  transaction<R>(work: () => R): R {
    if (this.inTransaction) {
      // BEGIN would fail, and rolling back on that failure would undo the caller's transaction.
      throw new TypeError('SQLite transactions do not nest');
    }
    this.prepare('BEGIN IMMEDIATE').run();
    try {
      const result = work();
      if (isThenable(result)) {
        // Synchronous on purpose: the lock must not be held across an await.
        throw new TypeError('A SQLite transaction cannot do asynchronous work');
      }
      this.prepare('COMMIT').run();
      return result;
    } catch (error) {
      // SQLite rolls back by itself after some errors (SQLITE_FULL, for one). A failing ROLLBACK
      // must not hide why the transaction failed: the caller gets the first error.
      try {
        if (this.inTransaction) this.prepare('ROLLBACK').run();
      } catch {}
      throw error;
    }
  }

  /** Idempotent. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#statements.clear();
    this.#call(() => this.#connection.close());
  }

  #call<R>(work: () => R): R {
    try {
      return work();
    } catch (error) {
      throw translateError(this.#driver, error);
    }
  }
}

/** String.prototype.isWellFormed and toWellFormed: in Node 20, typed only from lib ES2024. */
interface WellFormedString {
  isWellFormed(this: string): boolean;
  toWellFormed(this: string): string;
}
const { isWellFormed, toWellFormed } = String.prototype as unknown as WellFormedString;

/**
 * The parameters with each lone surrogate replaced by U+FFFD. The drivers disagree otherwise:
 * node:sqlite writes U+FFFD, better-sqlite3 the surrogate's three CESU-8 bytes (read back as
 * three U+FFFD), so a key written through one would not be found through the other.
 */
function wellFormed(parameters: SqliteParameters): SqliteParameters {
  const [first] = parameters;
  if (parameters.length === 1 && isNamedParameters(first)) {
    let copy: Record<string, SqliteValue> | undefined;
    for (const name in first) {
      const value = first[name];
      if (typeof value === 'string' && !isWellFormed.call(value)) {
        copy ??= { ...first };
        copy[name] = toWellFormed.call(value);
      }
    }
    return copy === undefined ? parameters : [copy];
  }
  // Not one object of named values, so positional ones.
  const values = parameters as SqliteValue[];
  if (!values.some((value) => typeof value === 'string' && !isWellFormed.call(value))) {
    return values;
  }
  return values.map((value) => (typeof value === 'string' ? toWellFormed.call(value) : value));
}

function isNamedParameters(
  value: SqliteParameters[number] | undefined,
): value is Readonly<Record<string, SqliteValue>> {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array);
}

function majorVersion(nodeVersion: string): number {
  return Number(nodeVersion.split('.')[0]);
}

function translateError(driver: SqliteDriver, error: unknown): unknown {
  const code = driver.errorCode(error);
  if (code === undefined) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SqliteError(message, code, { cause: error });
}

function isThenable(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    'then' in value &&
    typeof value.then === 'function'
  );
}
