/**
 * The PostgreSQL `nodes` table: one row per cluster node, replaced by each heartbeat. Internal
 * to the PostgreSQL store.
 */
import { badRequest } from '../domain/errors.ts';
import { checkNodeRecord, toRoles } from './node-records.ts';
import { isStorableText, type Queryable } from './postgres-document-table.ts';
import type { NodeRecord } from './store.ts';

interface NodeRow {
  id: string;
  name: string;
  roles: string[];
  http_address: string | null;
  flight_address: string | null;
  // bigint arrives as a string (it may exceed 2^53); epoch milliseconds never do.
  started_at: string;
  last_seen: string;
  lease_expires_at: string;
  active_streams: string;
}

export async function upsertNode(db: Queryable, node: NodeRecord): Promise<void> {
  checkNodeRecord(node);
  if (!isStorableText(node.id)) {
    throw badRequest('A node id cannot contain NUL or unpaired surrogate characters');
  }
  await db.query({
    name: 'nodes-upsert',
    text: `INSERT INTO nodes (id, name, roles, http_address, flight_address, started_at,
             last_seen, lease_expires_at, active_streams)
           VALUES ($1, $2, $3::text[], $4, $5, $6, $7, $8, $9)
           ON CONFLICT (id) DO UPDATE SET
             name = excluded.name, roles = excluded.roles, http_address = excluded.http_address,
             flight_address = excluded.flight_address, started_at = excluded.started_at,
             last_seen = excluded.last_seen, lease_expires_at = excluded.lease_expires_at,
             active_streams = excluded.active_streams`,
    values: [
      node.id,
      node.name,
      node.roles,
      node.httpAddress ?? null,
      node.flightAddress ?? null,
      node.startedAt,
      node.lastSeen,
      node.leaseExpiresAt,
      node.activeStreams,
    ],
  });
}

export async function selectNodes(db: Queryable): Promise<NodeRecord[]> {
  const result = await db.query<NodeRow>({
    name: 'nodes-list',
    text: `SELECT id, name, roles, http_address, flight_address, started_at, last_seen,
             lease_expires_at, active_streams
           FROM nodes ORDER BY seq`,
  });
  return result.rows.map((row) => ({
    id: row.id,
    name: row.name,
    roles: toRoles(row.roles),
    httpAddress: row.http_address ?? undefined,
    flightAddress: row.flight_address ?? undefined,
    startedAt: Number(row.started_at),
    lastSeen: Number(row.last_seen),
    leaseExpiresAt: Number(row.lease_expires_at),
    activeStreams: Number(row.active_streams),
  }));
}

export async function deleteNode(db: Queryable, id: string): Promise<boolean> {
  if (!isStorableText(id)) return false;
  const result = await db.query({
    name: 'nodes-delete',
    text: 'DELETE FROM nodes WHERE id = $1',
    values: [id],
  });
  return (result.rowCount ?? 0) > 0;
}
