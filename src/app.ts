/**
 * buildApp(dependencies) → a Fastify instance with every route, never listening. main.ts listens;
 * tests call `app.inject()` or listen on port 0.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { errorBody, fromFrameworkError } from './api/error-body.ts';
import { connectorRoutes } from './api/routes/connectors.ts';
import { modelGroupRoutes } from './api/routes/model-groups.ts';
import { modelRoutes } from './api/routes/models.ts';
import { nodeRoutes } from './api/routes/nodes.ts';
import { predictRoutes } from './api/routes/predict.ts';
import { settingsRoutes } from './api/routes/settings.ts';
import { streamRoutes } from './api/routes/stream.ts';
import type { Membership } from './cluster/membership.ts';
import type { ConnectorService } from './control/connector-service.ts';
import type { ModelGroupService } from './control/model-group-service.ts';
import type { ModelService } from './control/model-service.ts';
import type { SettingsService } from './control/settings-service.ts';
import { ErrorCode, ServiceError } from './domain/errors.ts';
import type { PredictionExecutor } from './predict/executor.ts';
import type { Store } from './store/store.ts';

export interface AppDependencies {
  logger: FastifyBaseLogger;
  maxBodyBytes: number;
  node: { id: string; name: string; version: string };
  connectors: ConnectorService;
  groups: ModelGroupService;
  models: ModelService;
  settings: SettingsService;
  executor: PredictionExecutor;
  membership: Membership;
  store: Store;
}

const isStreamUrl = (url: string): boolean => /\/_predict\/stream(?:[?#]|$)/.test(url);

export function buildApp(dependencies: AppDependencies): FastifyInstance {
  const app = Fastify({
    loggerInstance: dependencies.logger,
    bodyLimit: dependencies.maxBodyBytes,
    // Streams may be open for minutes; closing must not wait for them forever.
    forceCloseConnections: true,
    return503OnClosing: true,
    // A stream logs one summary line of its own when it ends (outcome, events, time to first
    // event, usage; see routes/stream.ts) or its refusal (the error handler): Fastify's two
    // lines per request would only repeat it, at a cost per stream.
    logController: new LogController({
      disableRequestLogging: (request) => isStreamUrl(request.url),
    }),
  });

  // Any content type is read as JSON: `curl -d` sends form encoding by default, and ml-commons
  // bodies are always JSON. Prototype-poisoning keys are refused.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJson);
  app.addContentTypeParser('*', { parseAs: 'string' }, parseJson);

  app.setErrorHandler((error, request, reply) => {
    const serviceError = fromFrameworkError(error);
    if (serviceError.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    } else {
      request.log.info(
        { status: serviceError.status, reason: serviceError.message },
        'request refused',
      );
    }
    void reply.status(serviceError.status).send(errorBody(serviceError));
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new ServiceError(
      ErrorCode.NotFound,
      `no handler found for uri [${request.url}] and method [${request.method}]`,
      { type: 'resource_not_found_exception' },
    );
    void reply.status(404).send(errorBody(error));
  });

  app.get('/', async () => ({
    name: dependencies.node.name,
    cluster_name: 'sluice',
    version: dependencies.node.version,
    node_id: dependencies.node.id,
    tagline: 'Sluice: streaming inference for remote LLMs',
  }));
  connectorRoutes(app, dependencies.connectors);
  modelGroupRoutes(app, dependencies.groups);
  modelRoutes(app, dependencies.models);
  settingsRoutes(app, dependencies.settings);
  predictRoutes(app, dependencies.executor);
  streamRoutes(app, dependencies.executor);
  nodeRoutes(app, dependencies.membership, dependencies.store);
  return app;
}
