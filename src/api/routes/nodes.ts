import type { FastifyInstance } from 'fastify';
import type { Membership } from '../../cluster/membership.ts';
import { servingNodes } from '../../cluster/placement.ts';
import type { Store } from '../../store/store.ts';

/**
 * `GET /_nodes`: every registered node with its roles, addresses, last heartbeat, whether its
 * lease is live, its active streams and the models deployed on it. The shape follows
 * OpenSearch's `_nodes` (a `nodes` object keyed by node id).
 */
export function nodeRoutes(app: FastifyInstance, membership: Membership, store: Store): void {
  app.get('/_nodes', async () => {
    const nodes = membership.allNodes();
    const liveMl = membership.liveMlNodes();
    const models = await store.listModels();
    const deployedOn = new Map<string, string[]>();
    for (const model of models) {
      for (const node of servingNodes(model.document, liveMl)) {
        deployedOn.set(node.id, [...(deployedOn.get(node.id) ?? []), model.id]);
      }
    }
    return {
      _nodes: { total: nodes.length, successful: nodes.length, failed: 0 },
      cluster_name: 'sluice',
      nodes: Object.fromEntries(
        nodes.map((node) => [
          node.id,
          {
            name: node.name,
            roles: node.roles,
            http_address: node.httpAddress ?? null,
            flight_address: node.flightAddress ?? null,
            started_at: node.startedAt,
            last_seen: node.lastSeen,
            lease_expires_at: node.leaseExpiresAt,
            live: membership.isLive(node),
            active_streams: node.activeStreams,
            deployed_models: deployedOn.get(node.id) ?? [],
          },
        ]),
      ),
    };
  });
}
