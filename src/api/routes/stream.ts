import type { FastifyInstance } from 'fastify';
import type { PredictionExecutor } from '../../predict/executor.ts';
import { readPredictBody } from '../../predict/prepare.ts';
import { clientGoneController } from '../client-signal.ts';
import { writeSse } from '../sse.ts';

/**
 * `POST /_plugins/_ml/models/{model_id}/_predict/stream`. Until `open()` resolves nothing has
 * been written, so every failure is an HTTP error with a JSON body (the app's error handler);
 * afterwards the response is hijacked and written as SSE.
 */
export function streamRoutes(app: FastifyInstance, executor: PredictionExecutor): void {
  app.post<{ Params: { model_id: string } }>(
    '/_plugins/_ml/models/:model_id/_predict/stream',
    async (request, reply) => {
      const startedAt = performance.now();
      const stream = await executor.openStream(
        request.params.model_id,
        readPredictBody(request.body),
        clientGoneController(reply.raw),
      );
      reply.hijack();
      const outcome = await writeSse(reply.raw, stream, startedAt);
      const summary = {
        model_id: stream.modelId,
        llm_interface: stream.llmInterface,
        ...outcome,
      };
      if (outcome.outcome === 'failed') request.log.warn(summary, 'stream failed');
      else request.log.info(summary, `stream ${outcome.outcome}`);
    },
  );
}
