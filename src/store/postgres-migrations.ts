/**
 * The PostgreSQL schema, as an ordered list of migrations applied at open.
 *
 * Rules for adding one: append it with the next version number, never edit or reorder a released
 * migration (databases in the field have already run it). Each runs in its own transaction
 * (PostgreSQL DDL is transactional), so a failed migration leaves nothing behind.
 *
 * Several nodes may start at once on one database: the whole run holds a session advisory lock,
 * so one node migrates while the others wait, then find everything applied.
 *
 * Documents are `json`, not `jsonb`: `json` keeps the exact text written (key order included),
 * and its input accepts every `\u` escape (four hex digits), where `jsonb` refuses `\u0000` and lone
 * surrogates, which are valid in JSON and in JavaScript strings. `JSON.stringify` writes those
 * as escapes, so every document round-trips exactly. The `json` operators (`->`, `->>`) still
 * work for ad-hoc queries; cast to `jsonb` for indexing.
 */
import type pg from 'pg';

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
    // `seq` orders listings by creation. `name_key` and the reference columns are derived from
    // the document in JavaScript on every write (see postgres.ts).
    sql: `
      CREATE TABLE connectors (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        version integer NOT NULL,
        document json NOT NULL
      );

      CREATE TABLE model_groups (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        version integer NOT NULL,
        document json NOT NULL,
        -- The group name lower-cased in JavaScript (as the SQLite store does, whatever the
        -- database's collation), then JSON-encoded so that NUL and lone surrogates fit in text.
        name_key text NOT NULL
      );
      CREATE INDEX model_groups_name_key ON model_groups (name_key);

      CREATE TABLE models (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        version integer NOT NULL,
        document json NOT NULL,
        -- Copies of the document's references. The store checks them itself (to answer
        -- "in use" with the model ids); the foreign keys are the backstop.
        connector_id text REFERENCES connectors (id),
        model_group_id text REFERENCES model_groups (id)
      );
      CREATE INDEX models_connector_id ON models (connector_id);
      CREATE INDEX models_model_group_id ON models (model_group_id);

      -- No foreign key to models: a task outlives the model it registered, as in ml-commons.
      CREATE TABLE tasks (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        version integer NOT NULL,
        document json NOT NULL
      );

      -- Values are JSON text, as in SQLite.
      CREATE TABLE settings (
        scope text NOT NULL CHECK (scope IN ('persistent', 'transient')),
        key text NOT NULL,
        value text NOT NULL,
        PRIMARY KEY (scope, key)
      );

      CREATE TABLE meta (
        key text PRIMARY KEY,
        value text NOT NULL
      );

      -- One row per node, replaced by every heartbeat (the upsert keeps seq). Epoch ms.
      CREATE TABLE nodes (
        seq bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        name text NOT NULL,
        roles text[] NOT NULL,
        http_address text,
        flight_address text,
        started_at bigint NOT NULL,
        last_seen bigint NOT NULL,
        lease_expires_at bigint NOT NULL,
        active_streams bigint NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'unique model group names',
    // Until now the name was checked before the insert, so two concurrent creations could both
    // pass. Groups that share a name that way are renamed, all but the oldest: "<name> (<id>)",
    // in the document and its key alike (every later write derives the key from the document).
    // The document is edited as text, not through jsonb, which would reorder its keys and
    // refuses \u0000: its first "name" member is the group's own (JSON.stringify writes quotes
    // inside strings as \", and a group document nests no other "name"). The key is the
    // JSON-encoded lower-cased name, so the suffix goes before its closing quote; ids are ASCII.
    sql: `
      UPDATE model_groups
      SET document = regexp_replace(
            document::text,
            '"name":"((?:[^"\\\\]|\\\\.)*)"',
            '"name":"\\1 (' || id || ')"'
          )::json,
          name_key = left(name_key, -1) || ' (' || lower(id) || ')"'
      WHERE seq NOT IN (SELECT min(seq) FROM model_groups GROUP BY name_key);
      DROP INDEX model_groups_name_key;
      CREATE UNIQUE INDEX model_groups_name_key ON model_groups (name_key);
    `,
  },
];

/** An arbitrary constant, the same in every build: advisory locks are per database. */
const migrationLockKey = 7_302_781_455;

/** How long a node waits for another node's migration before giving up. */
const migrationLockTimeout = '60s';

/**
 * Brings the schema up to date on `client`, a connection used for nothing else meanwhile. Safe
 * to run on every open and from several nodes at once (see the file comment).
 */
export async function applyMigrations(
  client: pg.ClientBase,
  list: readonly Migration[] = migrations,
): Promise<void> {
  await client.query(`SET lock_timeout = '${migrationLockTimeout}'`);
  await client.query('SELECT pg_advisory_lock($1)', [migrationLockKey]);
  try {
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )
    `);
    const newestKnown = list.reduce((newest, migration) => Math.max(newest, migration.version), 0);
    const applied = await client.query<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    const appliedVersions = new Set(applied.rows.map((row) => row.version));
    const newestApplied = Math.max(0, ...appliedVersions);
    if (newestApplied > newestKnown) {
      // Running older code on a newer schema could corrupt data the newer code relies on.
      throw new Error(
        `the database has schema version ${newestApplied}, but this build of Sluice knows only ` +
          `up to ${newestKnown}; upgrade Sluice or use another database`,
      );
    }
    const pending = list
      .filter((migration) => !appliedVersions.has(migration.version))
      .sort((left, right) => left.version - right.version);
    for (const migration of pending) {
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
          migration.version,
          migration.name,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`migration ${migration.version} (${migration.name}) failed: ${reason}`, {
          cause: error,
        });
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [migrationLockKey]).catch(() => undefined);
    await client.query('RESET lock_timeout').catch(() => undefined);
  }
}
