import type { FastifyInstance } from 'fastify';
import type { PredictionExecutor } from '../../predict/executor.ts';
import { readPredictBody } from '../../predict/prepare.ts';
import { clientGoneSignal } from '../client-signal.ts';

export function predictRoutes(app: FastifyInstance, executor: PredictionExecutor): void {
  app.post<{ Params: { model_id: string } }>(
    '/_plugins/_ml/models/:model_id/_predict',
    async (request, reply) =>
      executor.predict(
        request.params.model_id,
        readPredictBody(request.body),
        clientGoneSignal(reply.raw),
      ),
  );
  // The legacy form; Sluice serves remote models only, so the algorithm must be `remote`.
  app.post<{ Params: { algorithm: string; model_id: string } }>(
    '/_plugins/_ml/_predict/:algorithm/:model_id',
    async (request, reply) =>
      executor.predict(
        request.params.model_id,
        readPredictBody(request.body),
        clientGoneSignal(reply.raw),
      ),
  );
}
