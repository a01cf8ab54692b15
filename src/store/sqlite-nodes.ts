/**
 * The SQLite `nodes` table: one row per cluster node, replaced by each heartbeat. Internal to
 * the SQLite store.
 */

import { checkNodeRecord, toRoles } from './node-records.ts';
import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.ts';
import type { NodeRecord } from './store.ts';

interface NodeRow {
  id: string;
  name: string;
  roles: string;
  http_address: string | null;
  flight_address: string | null;
  started_at: number;
  last_seen: number;
  lease_expires_at: number;
  active_streams: number;
}

export class NodeTable {
  readonly #upsert: SqliteStatement;
  readonly #selectAll: SqliteStatement<NodeRow>;
  readonly #delete: SqliteStatement;

  constructor(database: SqliteDatabase) {
    this.#upsert = database.prepare(
      `INSERT INTO nodes (id, name, roles, http_address, flight_address, started_at, last_seen,
         lease_expires_at, active_streams)
       VALUES (@id, @name, @roles, @http_address, @flight_address, @started_at, @last_seen,
         @lease_expires_at, @active_streams)
       ON CONFLICT (id) DO UPDATE SET
         name = excluded.name, roles = excluded.roles, http_address = excluded.http_address,
         flight_address = excluded.flight_address, started_at = excluded.started_at,
         last_seen = excluded.last_seen, lease_expires_at = excluded.lease_expires_at,
         active_streams = excluded.active_streams`,
    );
    this.#selectAll = database.prepare(
      `SELECT id, name, roles, http_address, flight_address, started_at, last_seen,
         lease_expires_at, active_streams
       FROM nodes ORDER BY seq`,
    );
    this.#delete = database.prepare('DELETE FROM nodes WHERE id = ?');
  }

  heartbeat(node: NodeRecord): void {
    checkNodeRecord(node);
    this.#upsert.run({
      id: node.id,
      name: node.name,
      roles: JSON.stringify(node.roles),
      http_address: node.httpAddress ?? null,
      flight_address: node.flightAddress ?? null,
      started_at: node.startedAt,
      last_seen: node.lastSeen,
      lease_expires_at: node.leaseExpiresAt,
      active_streams: node.activeStreams,
    });
  }

  list(): NodeRecord[] {
    return this.#selectAll.all().map((row) => ({
      id: row.id,
      name: row.name,
      roles: toRoles(JSON.parse(row.roles) as unknown[]),
      httpAddress: row.http_address ?? undefined,
      flightAddress: row.flight_address ?? undefined,
      startedAt: row.started_at,
      lastSeen: row.last_seen,
      leaseExpiresAt: row.lease_expires_at,
      activeStreams: row.active_streams,
    }));
  }

  remove(id: string): boolean {
    return this.#delete.run(id).changes > 0;
  }
}
