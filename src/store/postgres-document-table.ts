/**
 * One PostgreSQL table of whole JSON documents, with the same statements for every entity: the
 * documents, their versions and the columns derived from them (for lookups and foreign keys).
 * Internal to the PostgreSQL store; each method runs on the connection it is given, so the store
 * decides what runs inside a transaction.
 */
import type pg from 'pg';
import { badRequest, ErrorCode, ServiceError } from '../domain/errors.ts';
import { isUniqueViolation, violatedConstraint } from './postgres-errors.ts';
import type { Stored, UpdateOutcome } from './store.ts';
import type { Taken } from './unique-column.ts';

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
  /**
   * A derived column with a unique index named `<table>_<column>` (a model group's name). A
   * write that clashes on it is answered `taken` instead of failing, so the database, not a
   * check before the write, decides between two concurrent writers.
   */
  uniqueColumn?: string;
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
  readonly #uniqueIndex: string | undefined;
  readonly #columns: [string, (document: T) => string | null][];
  readonly #insert: string;
  readonly #update: string;

  constructor(options: DocumentTableOptions<T>) {
    const { table } = options;
    this.#table = table;
    this.#label = options.label;
    this.#uniqueIndex =
      options.uniqueColumn === undefined ? undefined : `${table}_${options.uniqueColumn}`;
    this.#columns = Object.entries(options.columns ?? {});
    const derived = this.#columns.map(([column]) => column);
    const placeholders = derived.map((_, index) => `$${index + 3}`);
    this.#insert = `INSERT INTO ${table} (id, version, document${derived.map((c) => `, ${c}`).join('')})
       VALUES ($1, 1, $2::json${placeholders.map((p) => `, ${p}`).join('')})`;
    this.#update = `UPDATE ${table}
       SET version = version + 1, document = $2::json${derived
         .map((column, index) => `, ${column} = ${placeholders[index]}`)
         .join('')}
       WHERE id = $1 AND ($${derived.length + 3}::integer IS NULL OR version = $${derived.length + 3})`;
  }

  /** A duplicate id is a conflict (ids are generated: a clash is a bug or a replayed request). */
  async insert(db: Queryable, id: string, document: T): Promise<'created' | Taken> {
    if (!isStorableText(id)) {
      throw badRequest(`A ${this.#label} id cannot contain NUL or unpaired surrogate characters`);
    }
    try {
      await db.query({
        name: `${this.#table}-insert`,
        text: this.#insert,
        values: this.#values(id, document),
      });
      return 'created';
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      if (this.#clashesOnUniqueColumn(error)) return 'taken';
      throw new ServiceError(ErrorCode.Conflict, `A ${this.#label} with id ${id} already exists`);
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

  /**
   * Replaces the document and bumps its version, if it is still `expectedVersion` (when given).
   * `lockedInTransaction`: the caller runs this in its transaction and holds the row lock, so the
   * row exists (no second read to tell a conflict from an unknown id), and a clash on the unique
   * column must not abort the transaction: the statement then runs under a savepoint.
   */
  async update(
    db: Queryable,
    id: string,
    document: T,
    expectedVersion?: number,
    lockedInTransaction = false,
  ): Promise<UpdateOutcome | Taken> {
    if (!isStorableText(id)) return 'not_found';
    const guarded = lockedInTransaction && this.#uniqueIndex !== undefined;
    if (guarded) await db.query('SAVEPOINT document_update');
    let updated: boolean;
    try {
      const result = await db.query({
        name: `${this.#table}-update`,
        text: this.#update,
        values: [...this.#values(id, document), expectedVersion ?? null],
      });
      updated = (result.rowCount ?? 0) > 0;
    } catch (error) {
      if (!isUniqueViolation(error) || !this.#clashesOnUniqueColumn(error)) throw error;
      if (guarded) await db.query('ROLLBACK TO SAVEPOINT document_update');
      return 'taken';
    }
    if (guarded) await db.query('RELEASE SAVEPOINT document_update');
    if (updated) return 'updated';
    if (expectedVersion === undefined) return 'not_found';
    if (lockedInTransaction) return 'version_conflict';
    return (await this.get(db, id)) === undefined ? 'not_found' : 'version_conflict';
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

  #clashesOnUniqueColumn(error: unknown): boolean {
    return this.#uniqueIndex !== undefined && violatedConstraint(error) === this.#uniqueIndex;
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
