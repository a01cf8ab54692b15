/**
 * The ML node's side of Arrow Flight: `DoGet` runs the prediction stream in the ticket on this
 * node and yields its parts as they exist; `DoAction("sluice.predict")` runs a plain predict.
 * Cancelling the Flight call aborts `signal`, which cancels the upstream LLM request.
 */
import { badRequest } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import type { PredictionExecutor } from '../predict/executor.ts';
import { decodeTicket, predictAction } from './ticket.ts';

/** A controller of the stream's own that the call's cancellation aborts. */
function following(signal: AbortSignal): AbortController {
  const controller = new AbortController();
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  return controller;
}

export function predictionHandlers(local: PredictionExecutor) {
  return {
    async *doGet(
      ticket: Uint8Array,
      context: { signal: AbortSignal },
    ): AsyncGenerator<StreamPart[]> {
      const { modelId, body } = decodeTicket(ticket);
      const stream = await local.openStream(modelId, body, following(context.signal));
      yield* stream.batches;
    },
    async doAction(
      type: string,
      body: Uint8Array,
      context: { signal: AbortSignal },
    ): Promise<Uint8Array> {
      if (type !== predictAction)
        throw badRequest(`Unknown action ${type}; this node serves ${predictAction}`);
      const { modelId, body: request } = decodeTicket(body);
      const response = await local.predict(modelId, request, context.signal);
      return Buffer.from(JSON.stringify(response), 'utf8');
    },
  };
}
