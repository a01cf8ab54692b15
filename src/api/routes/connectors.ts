import type { FastifyInstance } from 'fastify';
import type { ConnectorService } from '../../control/connector-service.ts';
import type { SearchRequest } from '../../control/search.ts';

interface IdParams {
  connector_id: string;
}

export function connectorRoutes(app: FastifyInstance, connectors: ConnectorService): void {
  const base = '/_plugins/_ml/connectors';
  app.post(`${base}/_create`, async (request) => connectors.create(request.body));
  app.route({
    method: ['GET', 'POST'],
    url: `${base}/_search`,
    handler: async (request) => connectors.search((request.body ?? {}) as SearchRequest),
  });
  app.get<{ Params: IdParams }>(`${base}/:connector_id`, async (request) =>
    connectors.get(request.params.connector_id),
  );
  app.put<{ Params: IdParams }>(`${base}/:connector_id`, async (request) =>
    connectors.update(request.params.connector_id, request.body),
  );
  app.delete<{ Params: IdParams }>(`${base}/:connector_id`, async (request) =>
    connectors.delete(request.params.connector_id),
  );
}
