/**
 * What the HTTP edge asks for a prediction. A single node runs it itself; a coordinator routes it
 * to an ML node (cluster/). Both answer with the same shapes, so the edge never knows which.
 */
import type { InferenceResponse } from '../domain/inference.ts';
import type { PredictService } from './predict-service.ts';
import type { PredictBody } from './prepare.ts';
import type { OpenStream, StreamService } from './stream-service.ts';

export interface PredictionExecutor {
  predict(modelId: string, body: PredictBody, signal: AbortSignal): Promise<InferenceResponse>;
  /**
   * `controller` is aborted when the client leaves; the stream aborts it too (a deadline, an
   * early end), so it must belong to this one request.
   */
  openStream(modelId: string, body: PredictBody, controller: AbortController): Promise<OpenStream>;
}

export function localExecutor(predict: PredictService, streams: StreamService): PredictionExecutor {
  return {
    predict: (modelId, body, signal) => predict.predict(modelId, body, signal),
    openStream: (modelId, body, controller) => streams.open(modelId, body, controller),
  };
}
