import type { FastifyInstance } from 'fastify';
import type { ModelService } from '../../control/model-service.ts';
import type { SearchRequest } from '../../control/search.ts';

interface IdParams {
  model_id: string;
}

export function modelRoutes(app: FastifyInstance, models: ModelService): void {
  const base = '/_plugins/_ml/models';
  // `_upload`, `_load` and `_unload` are ml-commons' older names, kept for old clients.
  for (const verb of ['_register', '_upload']) {
    app.post<{ Querystring: { deploy?: string } }>(`${base}/${verb}`, async (request) =>
      models.register(request.body, { deploy: request.query.deploy === 'true' }),
    );
  }
  app.route({
    method: ['GET', 'POST'],
    url: `${base}/_search`,
    handler: async (request) => models.search((request.body ?? {}) as SearchRequest),
  });
  for (const verb of ['_deploy', '_load']) {
    app.post<{ Params: IdParams }>(`${base}/:model_id/${verb}`, async (request) =>
      models.deploy(request.params.model_id, request.body),
    );
  }
  for (const verb of ['_undeploy', '_unload']) {
    app.post<{ Params: IdParams }>(`${base}/:model_id/${verb}`, async (request) =>
      models.undeploy(request.params.model_id),
    );
  }
  app.get<{ Params: IdParams }>(`${base}/:model_id`, async (request) =>
    models.get(request.params.model_id),
  );
  app.put<{ Params: IdParams }>(`${base}/:model_id`, async (request) =>
    models.update(request.params.model_id, request.body),
  );
  app.delete<{ Params: IdParams }>(`${base}/:model_id`, async (request) =>
    models.delete(request.params.model_id),
  );
  app.get<{ Params: { task_id: string } }>('/_plugins/_ml/tasks/:task_id', async (request) =>
    models.getTask(request.params.task_id),
  );
  app.delete<{ Params: { task_id: string } }>('/_plugins/_ml/tasks/:task_id', async (request) =>
    models.deleteTask(request.params.task_id),
  );
}
