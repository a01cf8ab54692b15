import type { FastifyInstance } from 'fastify';
import type { ModelGroupService } from '../../control/model-group-service.ts';
import type { SearchRequest } from '../../control/search.ts';

interface IdParams {
  model_group_id: string;
}

export function modelGroupRoutes(app: FastifyInstance, groups: ModelGroupService): void {
  const base = '/_plugins/_ml/model_groups';
  app.post(`${base}/_register`, async (request) => groups.register(request.body));
  app.route({
    method: ['GET', 'POST'],
    url: `${base}/_search`,
    handler: async (request) => groups.search((request.body ?? {}) as SearchRequest),
  });
  app.get<{ Params: IdParams }>(`${base}/:model_group_id`, async (request) =>
    groups.get(request.params.model_group_id),
  );
  app.put<{ Params: IdParams }>(`${base}/:model_group_id`, async (request) =>
    groups.update(request.params.model_group_id, request.body),
  );
  app.delete<{ Params: IdParams }>(`${base}/:model_group_id`, async (request) =>
    groups.delete(request.params.model_group_id),
  );
}
