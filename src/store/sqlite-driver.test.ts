import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import {
  defaultSqliteDriver,
  openSqliteDatabase,
  resolveSqliteDriver,
  type SqliteDatabase,
  SqliteError,
  sqliteDriverNames,
  sqliteDriverUnavailable,
} from './sqlite-driver.ts';
import { sqliteResultCodeName } from './sqlite-driver-result-codes.ts';

describe('SQLite driver choice', () => {
  it("'auto' is node:sqlite from Node 24 and better-sqlite3 before", () => {
    assert.equal(defaultSqliteDriver('20.19.0'), 'better-sqlite3');
    assert.equal(defaultSqliteDriver('22.23.3'), 'better-sqlite3');
    assert.equal(defaultSqliteDriver('24.0.0'), 'node');
    assert.equal(defaultSqliteDriver('26.1.0'), 'node');
  });

  it('refuses better-sqlite3 on Node 24, naming the reason', () => {
    assert.equal(sqliteDriverUnavailable('better-sqlite3', '22.23.3'), undefined);
    assert.match(sqliteDriverUnavailable('better-sqlite3', '24.21.0') ?? '', /nodejs\/node#65446/);
    assert.throws(
      () => resolveSqliteDriver('better-sqlite3', '24.21.0'),
      /SQLite driver better-sqlite3 cannot be used/,
    );
  });

  it('offers node:sqlite exactly where Node has it', () => {
    assert.equal(sqliteDriverUnavailable('node') === undefined, isBuiltin('node:sqlite'));
  });

  it("opens with the driver 'auto' stands for on this Node", async () => {
    const database = await openSqliteDatabase(':memory:');
    try {
      assert.equal(database.driver, defaultSqliteDriver());
    } finally {
      database.close();
    }
  });

  it('names result codes as better-sqlite3 does', () => {
    assert.equal(sqliteResultCodeName(5), 'SQLITE_BUSY');
    assert.equal(sqliteResultCodeName(517), 'SQLITE_BUSY_SNAPSHOT');
    assert.equal(sqliteResultCodeName(1555), 'SQLITE_CONSTRAINT_PRIMARYKEY');
    assert.equal(sqliteResultCodeName(2067), 'SQLITE_CONSTRAINT_UNIQUE');
    assert.equal(sqliteResultCodeName(516), 'SQLITE_ABORT_ROLLBACK');
    assert.equal(sqliteResultCodeName(101), 'SQLITE_DONE');
    assert.equal(sqliteResultCodeName(260), 'UNKNOWN_SQLITE_ERROR_260');
    assert.equal(sqliteResultCodeName(99), 'UNKNOWN_SQLITE_ERROR_99');
  });
});

const schema = `
  CREATE TABLE parents (id TEXT PRIMARY KEY) STRICT;
  CREATE TABLE items (
    seq INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (name <> ''),
    count INTEGER NOT NULL,
    parent TEXT REFERENCES parents (id)
  ) STRICT;
`;

/** Asserts that `work` throws a SqliteError with `code` whose message matches `message`. */
function assertSqliteError(work: () => unknown, code: string, message: RegExp): void {
  assert.throws(work, (error: unknown) => {
    assert.ok(error instanceof SqliteError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

for (const driver of sqliteDriverNames) {
  const unavailable = sqliteDriverUnavailable(driver);
  const skip =
    unavailable === undefined ? {} : { skip: `${driver} does not run here: ${unavailable}` };

  describe(`SQLite driver ${driver}`, skip, () => {
    let database: SqliteDatabase;
    beforeEach(async () => {
      database = await openSqliteDatabase(':memory:', driver);
      database.exec('PRAGMA foreign_keys = ON');
      database.exec(schema);
    });
    afterEach(() => database.close());

    it('binds positional and named parameters and counts changes', () => {
      const insert = database.prepare('INSERT INTO items (name, count) VALUES (?, ?)');
      assert.deepEqual(insert.run('a', 1), { changes: 1 });
      database.prepare('INSERT INTO items (name, count) VALUES (@name, @count)').run({
        name: 'b',
        count: 2 ** 53 - 1,
      });
      const rows = database
        .prepare<{ name: string; count: number }>('SELECT name, count FROM items ORDER BY seq')
        .all();
      assert.deepEqual(
        rows.map((row) => [row.name, row.count]),
        [
          ['a', 1],
          ['b', 2 ** 53 - 1],
        ],
      );
      const update = database.prepare('UPDATE items SET count = count + 1');
      assert.deepEqual(update.run(), { changes: 2 });
      assert.equal(database.prepare('SELECT 1 FROM items WHERE name = ?').get('none'), undefined);
    });

    it('prepares each statement once', () => {
      const sql = 'SELECT count FROM items WHERE name = ?';
      assert.equal(database.prepare(sql), database.prepare(sql));
    });

    it('writes a lone surrogate as U+FFFD, as UTF-8 must', () => {
      database.prepare('INSERT INTO items (name, count) VALUES (?, 1)').run('a \ud800 b');
      const row = database.prepare<{ name: string }>('SELECT name FROM items').get();
      assert.equal(row?.name, 'a \ufffd b');
    });

    it('commits a transaction, and rolls it back when its work throws', () => {
      const insert = database.prepare('INSERT INTO items (name, count) VALUES (?, 1)');
      const count = () =>
        database.prepare<{ rows: number }>('SELECT count(*) AS rows FROM items').get()?.rows;
      assert.equal(
        database.transaction(() => {
          insert.run('kept');
          assert.equal(database.inTransaction, true);
          return 'result';
        }),
        'result',
      );
      const failure = new Error('work failed');
      assert.throws(
        () =>
          database.transaction(() => {
            insert.run('undone');
            throw failure;
          }),
        (error: unknown) => error === failure,
      );
      assertSqliteError(
        () => database.transaction(() => insert.run('kept')),
        'SQLITE_CONSTRAINT_UNIQUE',
        /UNIQUE constraint failed: items.name/,
      );
      assert.equal(count(), 1);
      assert.equal(database.inTransaction, false);
    });

    it('refuses nested and asynchronous transactions, leaving the outer one alone', async () => {
      const insert = database.prepare('INSERT INTO items (name, count) VALUES (?, 1)');
      database.transaction(() => {
        insert.run('outer');
        assert.throws(() => database.transaction(() => insert.run('inner')), /do not nest/);
      });
      assert.throws(
        () => database.transaction(async () => insert.run('later')),
        /cannot do asynchronous work/,
      );
      assert.equal(database.inTransaction, false);
      const names = database.prepare<{ name: string }>('SELECT name FROM items').all();
      assert.deepEqual(
        names.map((row) => row.name),
        ['outer'],
      );
    });

    it('names constraint and SQL errors the same on every driver', () => {
      const insert = database.prepare(
        'INSERT INTO items (name, count, parent) VALUES (@name, @count, @parent)',
      );
      insert.run({ name: 'a', count: 1, parent: null });
      const cases: Array<[Record<string, string | number | null>, string, RegExp]> = [
        [{ name: 'a', count: 1, parent: null }, 'SQLITE_CONSTRAINT_UNIQUE', /UNIQUE/],
        [{ name: '', count: 1, parent: null }, 'SQLITE_CONSTRAINT_CHECK', /CHECK/],
        [{ name: 'b', count: 1.5, parent: null }, 'SQLITE_CONSTRAINT_DATATYPE', /REAL/],
        [{ name: 'b', count: null, parent: null }, 'SQLITE_CONSTRAINT_NOTNULL', /NOT NULL/],
        [{ name: 'b', count: 1, parent: 'x' }, 'SQLITE_CONSTRAINT_FOREIGNKEY', /FOREIGN KEY/],
      ];
      for (const [values, code, message] of cases) {
        assertSqliteError(() => insert.run(values), code, message);
      }
      assertSqliteError(
        () => database.prepare("INSERT INTO parents VALUES ('p'), ('p')").run(),
        'SQLITE_CONSTRAINT_PRIMARYKEY',
        /UNIQUE constraint failed: parents.id/,
      );
      assertSqliteError(() => database.exec('SELECT nonsense()'), 'SQLITE_ERROR', /nonsense/);
      assertSqliteError(() => database.prepare('SELEC 1'), 'SQLITE_ERROR', /syntax error/);
    });

    it('closes once; statements are unusable afterwards', () => {
      const statement = database.prepare('SELECT 1 AS one');
      database.close();
      database.close();
      assert.throws(() => statement.get());
    });

    it("opens '' as a temporary database", async () => {
      const temporary = await openSqliteDatabase('', driver);
      try {
        temporary.exec('CREATE TABLE t (x INTEGER) STRICT');
        temporary.prepare('INSERT INTO t VALUES (?)').run(7);
        assert.equal(temporary.prepare<{ x: number }>('SELECT x FROM t').get()?.x, 7);
      } finally {
        temporary.close();
      }
    });
  });

  describe(`SQLite driver ${driver} on a shared file`, skip, () => {
    let directory = '';
    before(async () => {
      directory = await mkdtemp(join(tmpdir(), 'sluice-sqlite-driver-'));
    });
    after(async () => {
      await rm(directory, { recursive: true, force: true });
    });

    it('reports a lock held by another connection as SQLITE_BUSY', async () => {
      const path = join(directory, `busy-${driver}.db`);
      const holder = await openSqliteDatabase(path, driver);
      const waiter = await openSqliteDatabase(path, driver);
      try {
        holder.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER) STRICT');
        waiter.exec('PRAGMA busy_timeout = 0');
        holder.exec('BEGIN IMMEDIATE');
        assertSqliteError(
          () => waiter.transaction(() => undefined),
          'SQLITE_BUSY',
          /database is locked/,
        );
        assert.equal(waiter.inTransaction, false);
        holder.exec('COMMIT');
        waiter.transaction(() => waiter.prepare('INSERT INTO t VALUES (1)').run());
      } finally {
        waiter.close();
        holder.close();
      }
    });
  });
}
