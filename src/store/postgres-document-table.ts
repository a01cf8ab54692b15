/**
 * One PostgreSQL table of whole JSON documents, with the same statements for every entity: the
 * documents, their versions and the columns derived from them (for lookups and foreign keys).
 * Internal to the PostgreSQL store; each method runs on the connection it is given, so the store
 * decides what runs inside a transaction.
 */
import type pg from 'pg';
import { badRequest, ErrorCode, ServiceError } from '../domain/errors.ts';
import { isUniqueViolation } from './postgres-errors.ts';
import type { Stored } from './store.ts';

/** A pool (one statement, any connection) or a client inside a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(
    config: pg.QueryConfig<unknown[]> | string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/** `share` keeps the row from being deleted or changed until commit; `update` also excludes
 * other `share` and `update` lockers. */
export type RowLock = 'share' | 'update';

interface DocumentRow {
  id: string;
  version: number;
  document: string;
}

export interface DocumentTableOptions<T> {
  /** Table name; a constant from the migrations, never caller input. */
  table: string;
  /** What the entity is called in error messages ("connector", "model group"). */
  label: string;
  /** Columns kept beside the document, each derived from it on every write. */
  columns?: Record<string, (document: T) => string | null>;
}

/**
 * Whether PostgreSQL text can hold `value` unchanged: it cannot hold NUL, and a lone surrogate
 * would be replaced on the way to UTF-8. No stored id can be such a string.
 */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && !/\p{Cs}/u.test(value);
}

export class DocumentTable<T> {
  readonly #table: string;
  readonly #label: string;
  readonly #columns: [string, (document: T) => string | null][];
  readonly #insert: string;
  readonly #update: string;

  constructor(options: DocumentTableOptions<T>) {
    const { table } = options;
    this.#table = table;
    this.#label = options.label;
    this.#columns = Object.entries(options.columns ?? {});
    const derived = this.#columns.map(([column]) => column);
    const placeholders = derived.map((_, index) => `$${index + 3}`);
    this.#insert = `INSERT INTO ${table} (id, version, document${derived.map((c) => `, ${c}`).join('')})
       VALUES ($1, 1, $2::json${placeholders.map((p) => `, ${p}`).join('')})`;
    this.#update = `UPDATE ${table}
       SET version = version + 1, document = $2::json${derived
         .map((column, index) => `, ${column} = ${placeholders[index]}`)
         .join('')}
       WHERE id = $1`;
  }

  async insert(db: Queryable, id: string, document: T): Promise<void> {
    if (!isStorableText(id)) {
      throw badRequest(`A ${this.#label} id cannot contain NUL or unpaired surrogate characters`);
    }
    try {
      await db.query({
        name: `${this.#table}-insert`,
        text: this.#insert,
        values: this.#values(id, document),
      });
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new ServiceError(ErrorCode.Conflict, `A ${this.#label} with id ${id} already exists`);
      }
      throw error;
    }
  }

  async get(db: Queryable, id: string, lock?: RowLock): Promise<Stored<T> | undefined> {
    if (!isStorableText(id)) return undefined;
    const suffix = lock === undefined ? '' : ` FOR ${lock.toUpperCase()}`;
    const result = await db.query<DocumentRow>({
      name: `${this.#table}-select-${lock ?? 'unlocked'}`,
      text: `SELECT id, version, document::text AS document FROM ${this.#table} WHERE id = $1${suffix}`,
      values: [id],
    });
    const row = result.rows[0];
    return row === undefined ? undefined : toStored<T>(row);
  }

  /** Replaces the document and bumps its version; false when the id is unknown. */
  async update(db: Queryable, id: string, document: T): Promise<boolean> {
    if (!isStorableText(id)) return false;
    const result = await db.query({
      name: `${this.#table}-update`,
      text: this.#update,
      values: this.#values(id, document),
    });
    return (result.rowCount ?? 0) > 0;
  }

  async delete(db: Queryable, id: string): Promise<boolean> {
    if (!isStorableText(id)) return false;
    const result = await db.query({
      name: `${this.#table}-delete`,
      text: `DELETE FROM ${this.#table} WHERE id = $1`,
      values: [id],
    });
    return (result.rowCount ?? 0) > 0;
  }

  async list(db: Queryable): Promise<Stored<T>[]> {
    const result = await db.query<DocumentRow>({
      name: `${this.#table}-list`,
      text: `SELECT id, version, document::text AS document FROM ${this.#table} ORDER BY seq`,
    });
    return result.rows.map((row) => toStored<T>(row));
  }

  #values(id: string, document: T): (string | null)[] {
    // JSON.stringify escapes NUL and lone surrogates, so the text always fits a json column.
    return [id, JSON.stringify(document), ...this.#columns.map(([, derive]) => derive(document))];
  }
}

function toStored<T>(row: DocumentRow): Stored<T> {
  // The cast is safe as far as the table is: only DocumentTable writes it, from a T.
  return { id: row.id, version: row.version, document: JSON.parse(row.document) as T };
}
