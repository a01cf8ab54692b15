/**
 * The coordinator's side of a prediction: gate the model, pick the ML node (router), and either
 * run it here (this node is that ML node) or forward it over Arrow Flight — `DoGet` for streams,
 * `DoAction` for a plain predict.
 *
 * A node that cannot be reached or fails before its first event is skipped for the next one; a
 * failure the ML node reports about the request itself (unknown model, provider 401, rate limit)
 * is the client's answer and is not retried elsewhere. Once events flow, a lost node becomes one
 * error event.
 */
import type { SettingsService } from '../control/settings-service.ts';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { InferenceResponse } from '../domain/inference.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { type FlightClient, isFlightTransportFailure } from '../flight/client.ts';
import type { PredictionExecutor } from '../predict/executor.ts';
import type { PredictKind } from '../predict/input-schema.ts';
import type { PredictService } from '../predict/predict-service.ts';
import type { PredictBody } from '../predict/prepare.ts';
import { relayBatches } from '../predict/relay.ts';
import { type OpenStream, streamDisabledMessage } from '../predict/stream-service.ts';
import type { NodeRecord } from '../store/store.ts';
import type { Membership } from './membership.ts';
import { servingNodes } from './placement.ts';
import type { NodeRouter } from './router.ts';
import { encodeTicket, predictAction } from './ticket.ts';

export interface ClusterExecutorDependencies {
  settings: SettingsService;
  predict: PredictService;
  membership: Membership;
  router: NodeRouter;
  /** This node's own executor, used when the router picks this node. */
  local: PredictionExecutor | undefined;
  flightClient: (address: string) => FlightClient;
}

export class ClusterExecutor implements PredictionExecutor {
  readonly #dependencies: ClusterExecutorDependencies;

  constructor(dependencies: ClusterExecutorDependencies) {
    this.#dependencies = dependencies;
  }

  async predict(
    modelId: string,
    body: PredictBody,
    signal: AbortSignal,
  ): Promise<InferenceResponse> {
    return this.#onFirstAvailable(
      modelId,
      { body, kind: 'predict' },
      signal,
      async (node, local) => {
        if (local !== undefined) return local.predict(modelId, body, signal);
        const bytes = await this.#client(node).doAction(
          predictAction,
          encodeTicket({ modelId, body }),
          signal,
        );
        return JSON.parse(Buffer.from(bytes).toString('utf8')) as InferenceResponse;
      },
    );
  }

  async openStream(
    modelId: string,
    body: PredictBody,
    controller: AbortController,
  ): Promise<OpenStream> {
    if (!this.#dependencies.settings.current().streamEnabled) {
      throw new ServiceError(ErrorCode.BadRequest, streamDisabledMessage);
    }
    return this.#onFirstAvailable(
      modelId,
      { body, kind: 'stream' },
      controller.signal,
      async (node, local) => {
        if (local !== undefined) return local.openStream(modelId, body, controller);
        // Each node tried gets a controller of its own: giving up on one must not end the request.
        return this.#remoteStream(node, modelId, body, controller.signal);
      },
    );
  }

  async #onFirstAvailable<T>(
    modelId: string,
    request: { body: PredictBody; kind: PredictKind },
    signal: AbortSignal,
    run: (node: NodeRecord, local: PredictionExecutor | undefined) => Promise<T>,
  ): Promise<T> {
    const { predict, membership, router } = this.#dependencies;
    const model = await predict.gate(modelId, request.body, request.kind);
    const candidates = router.order(servingNodes(model, membership.liveMlNodes()));
    let lastFailure: ServiceError | undefined;
    for (const node of candidates) {
      // The client left while the model was checked or an earlier node was tried: no more nodes.
      if (signal.aborted) {
        throw new ServiceError(ErrorCode.Canceled, 'The request was cancelled', {
          cause: signal.reason,
        });
      }
      const local = node.id === membership.self.id ? this.#dependencies.local : undefined;
      try {
        return await run(node, local);
      } catch (error) {
        // Only "that node cannot be reached" moves on; anything the node said about the request
        // (unknown model, provider 401, rate limit) is the answer.
        if (local !== undefined || !isFlightTransportFailure(error)) throw error;
        lastFailure = ServiceError.from(error);
      }
    }
    throw new ServiceError(
      ErrorCode.UpstreamUnavailable,
      candidates.length === 0
        ? `No live ML node serves model ${modelId}`
        : `No ML node serving model ${modelId} could be reached (${lastFailure?.message ?? 'unknown error'})`,
      { status: 503, retryable: true },
    );
  }

  async #remoteStream(
    node: NodeRecord,
    modelId: string,
    body: PredictBody,
    clientSignal: AbortSignal,
  ): Promise<OpenStream> {
    const controller = new AbortController();
    const onClientGone = () => controller.abort(clientSignal.reason);
    if (clientSignal.aborted) onClientGone();
    else clientSignal.addEventListener('abort', onClientGone, { once: true });
    const releaseSlot = this.#dependencies.router.track(node.id);
    const release = () => {
      clientSignal.removeEventListener('abort', onClientGone);
      releaseSlot();
    };
    const iterator = this.#client(node)
      .doGet(encodeTicket({ modelId, body }), controller.signal)
      [Symbol.asyncIterator]();
    let first: StreamPart[];
    try {
      const result = await iterator.next();
      if (result.done) {
        throw new ServiceError(ErrorCode.UpstreamProtocol, `ML node ${node.name} sent no events`);
      }
      first = result.value;
    } catch (error) {
      release();
      controller.abort();
      throw error;
    }
    return {
      modelId,
      llmInterface: `via ${node.name}`,
      batches: relayBatches(first, iterator, {
        failure: (error) => {
          const failure = ServiceError.from(error);
          if (!isFlightTransportFailure(error)) return failure;
          return new ServiceError(
            failure.code,
            `The ML node ${node.name} was lost mid-stream: ${failure.message}`,
            { status: failure.status },
          );
        },
        endedEarly: `ML node ${node.name} ended the stream early`,
        abort: () => controller.abort(),
        onEnd: release,
      }),
      cancel: () => controller.abort(new DOMException('Client disconnected', 'AbortError')),
    };
  }

  #client(node: NodeRecord): FlightClient {
    if (node.flightAddress === undefined) {
      throw new ServiceError(
        ErrorCode.UpstreamUnavailable,
        `ML node ${node.name} has no Flight address`,
        {
          retryable: true,
        },
      );
    }
    return this.#dependencies.flightClient(node.flightAddress);
  }
}
