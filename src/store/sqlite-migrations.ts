/**
 * The SQLite schema, as an ordered list of migrations applied at open.
 *
 * Rules for adding one: append it with the next version number, never edit or reorder a released
 * migration (databases in the field have already run it), and keep it to plain DDL/DML so it
 * runs inside the transaction that records it.
 */
import type { SqliteDatabase } from './sqlite-driver.ts';

export interface Migration {
  /** 1, 2, 3, … in order; the number recorded in `schema_migrations`. */
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    // `seq` is the explicit INTEGER PRIMARY KEY that lists order by: VACUUM may renumber the
    // implicit rowid of tables without one, which would reorder "insertion order" listings.
    // STRICT makes SQLite refuse a value of the wrong type instead of silently storing it.
    sql: `
      CREATE TABLE connectors (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL,
        document TEXT NOT NULL
      ) STRICT;

      CREATE TABLE model_groups (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL,
        document TEXT NOT NULL,
        -- The group name lower-cased in JavaScript (Unicode-aware, unlike SQLite's lower()),
        -- so the case-insensitive name check is an index lookup.
        name_key TEXT NOT NULL
      ) STRICT;
      CREATE INDEX model_groups_name_key ON model_groups (name_key);

      CREATE TABLE models (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL,
        document TEXT NOT NULL,
        -- Copies of the document's references. The store checks them itself (to answer
        -- "in use" with the model ids); the foreign keys are the backstop.
        connector_id TEXT REFERENCES connectors (id),
        model_group_id TEXT REFERENCES model_groups (id)
      ) STRICT;
      CREATE INDEX models_connector_id ON models (connector_id);
      CREATE INDEX models_model_group_id ON models (model_group_id);

      -- No foreign key to models: a task outlives the model it registered, as in ml-commons.
      CREATE TABLE tasks (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL,
        document TEXT NOT NULL
      ) STRICT;

      CREATE TABLE settings (
        scope TEXT NOT NULL CHECK (scope IN ('persistent', 'transient')),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (scope, key)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'cluster nodes',
    // One row per node, replaced by every heartbeat (ON CONFLICT keeps `seq`, so listings stay
    // in order of first heartbeat). Times are epoch milliseconds.
    sql: `
      CREATE TABLE nodes (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        -- A JSON array of 'coordinator' | 'ml'.
        roles TEXT NOT NULL,
        http_address TEXT,
        flight_address TEXT,
        started_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        lease_expires_at INTEGER NOT NULL,
        active_streams INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: 'unique model group names',
    // Until now the name was checked before the insert, so two concurrent creations could both
    // pass. Groups that share a name that way are renamed, all but the oldest: "<name> (<id>)",
    // in the document and its key alike (every later write derives the key from the document).
    // Ids are ASCII, so SQLite's lower() lower-cases them as JavaScript does.
    sql: `
      UPDATE model_groups
      SET document = json_set(document, '$.name', json_extract(document, '$.name') || ' (' || id || ')'),
          name_key = name_key || ' (' || lower(id) || ')'
      WHERE seq NOT IN (SELECT min(seq) FROM model_groups GROUP BY name_key);
      DROP INDEX model_groups_name_key;
      CREATE UNIQUE INDEX model_groups_name_key ON model_groups (name_key);
    `,
  },
];

/**
 * Brings the schema up to date. Safe to run on every open and from several processes at once:
 * each migration checks and records itself inside one IMMEDIATE transaction, which takes the
 * write lock before reading, so two processes cannot both decide to apply the same migration.
 */
export function applyMigrations(
  database: SqliteDatabase,
  list: readonly Migration[] = migrations,
): void {
  database.exec(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TEXT NOT NULL
    ) STRICT
  `);
  const newestKnown = list.reduce((newest, migration) => Math.max(newest, migration.version), 0);
  const newestApplied =
    database
      .prepare<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations')
      .get()?.version ?? 0;
  if (newestApplied > newestKnown) {
    // Running older code on a newer schema could corrupt data the newer code relies on.
    throw new Error(
      `the database has schema version ${newestApplied}, but this build of Sluice knows only ` +
        `up to ${newestKnown}; upgrade Sluice or use another database file`,
    );
  }

  const isApplied = database.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
  const record = database.prepare(
    'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
  );
  for (const migration of [...list].sort((left, right) => left.version - right.version)) {
    database.transaction(() => {
      if (isApplied.get(migration.version) !== undefined) return;
      database.exec(migration.sql);
      record.run(migration.version, migration.name, new Date().toISOString());
    });
  }
}
