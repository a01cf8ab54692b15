/**
 * One SQLite table of whole JSON documents, with the same statements for every entity: the
 * documents, their versions and the columns derived from them (for lookups and foreign keys).
 * Internal to the SQLite store.
 */

import { ErrorCode, ServiceError } from '../domain/errors.ts';
import { type SqliteDatabase, SqliteError, type SqliteStatement } from './sqlite-driver.ts';
import type { Stored, UpdateOutcome } from './store.ts';
import type { Taken } from './unique-column.ts';

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
   * A derived column with a unique index (a model group's name). A write that clashes on it is
   * answered `taken` instead of failing, so the database, not a check before the write, decides
   * between two concurrent writers.
   */
  uniqueColumn?: string;
}

type BindValues = Record<string, string | number | null>;

/** One table of whole JSON documents: the same five statements for every entity. */
export class DocumentTable<T> {
  readonly #label: string;
  readonly #uniqueColumn: string | undefined;
  readonly #columns: [string, (document: T) => string | null][];
  readonly #insert: SqliteStatement;
  readonly #select: SqliteStatement<DocumentRow>;
  readonly #update: SqliteStatement;
  readonly #delete: SqliteStatement;
  readonly #selectAll: SqliteStatement<DocumentRow>;

  constructor(database: SqliteDatabase, options: DocumentTableOptions<T>) {
    const { table } = options;
    this.#label = options.label;
    this.#uniqueColumn = options.uniqueColumn;
    this.#columns = Object.entries(options.columns ?? {});
    const written = ['document', ...this.#columns.map(([column]) => column)];
    this.#insert = database.prepare(
      `INSERT INTO ${table} (id, version, ${written.join(', ')})
       VALUES (@id, 1, ${written.map((column) => `@${column}`).join(', ')})`,
    );
    this.#select = database.prepare(`SELECT id, version, document FROM ${table} WHERE id = ?`);
    this.#update = database.prepare(
      `UPDATE ${table}
       SET version = version + 1, ${written.map((column) => `${column} = @${column}`).join(', ')}
       WHERE id = @id AND (@expectedVersion IS NULL OR version = @expectedVersion)`,
    );
    this.#delete = database.prepare(`DELETE FROM ${table} WHERE id = ?`);
    this.#selectAll = database.prepare(`SELECT id, version, document FROM ${table} ORDER BY seq`);
  }

  /** A duplicate id is a conflict (ids are generated: a clash is a bug or a replayed request). */
  insert(id: string, document: T): 'created' | Taken {
    try {
      this.#insert.run(this.#parameters(id, document));
      return 'created';
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      if (this.#uniqueColumn !== undefined && this.#select.get(id) === undefined) return 'taken';
      throw new ServiceError(ErrorCode.Conflict, `A ${this.#label} with id ${id} already exists`);
    }
  }

  get(id: string): Stored<T> | undefined {
    const row = this.#select.get(id);
    return row === undefined ? undefined : toStored<T>(row);
  }

  /** Replaces the document and bumps its version, if it is still `expectedVersion` (when given). */
  update(id: string, document: T, expectedVersion?: number): UpdateOutcome | Taken {
    const parameters = {
      ...this.#parameters(id, document),
      expectedVersion: expectedVersion ?? null,
    };
    try {
      if (this.#update.run(parameters).changes > 0) return 'updated';
    } catch (error) {
      if (this.#uniqueColumn !== undefined && isUniqueViolation(error)) return 'taken';
      throw error;
    }
    return this.#select.get(id) === undefined ? 'not_found' : 'version_conflict';
  }

  delete(id: string): boolean {
    return this.#delete.run(id).changes > 0;
  }

  list(): Stored<T>[] {
    return this.#selectAll.all().map((row) => toStored<T>(row));
  }

  #parameters(id: string, document: T): BindValues {
    const parameters: BindValues = { id, document: JSON.stringify(document) };
    for (const [column, derive] of this.#columns) parameters[column] = derive(document);
    return parameters;
  }
}

function toStored<T>(row: DocumentRow): Stored<T> {
  // The cast is safe as far as the table is: only DocumentTable writes it, from a T.
  return { id: row.id, version: row.version, document: JSON.parse(row.document) as T };
}

function isUniqueViolation(error: unknown): boolean {
  return (
    error instanceof SqliteError &&
    (error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
  );
}
