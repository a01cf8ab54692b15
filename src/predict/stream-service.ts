/**
 * The streaming predict use case. `open()` does everything that can fail before the first byte
 * reaches the client (checks, templating, connecting, waiting for the first event) and throws a
 * ServiceError for each, so the edge can answer with a proper HTTP status. Once it returns, the
 * stream is committed: later failures arrive as one final `error` part, never as a normal end.
 *
 * One AbortController per request carries every reason to stop the upstream: client gone (the
 * edge aborts it), a deadline, the consumer returning early.
 */
import type { SettingsService } from '../control/settings-service.ts';
import { ErrorCode, isAbortError, ServiceError } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { resolveInterface } from '../providers/registry.ts';
import type { UpstreamClient } from '../upstream/client.ts';
import type { PredictService } from './predict-service.ts';
import { type PredictBody, prepareCall } from './prepare.ts';
import { readParts } from './read-parts.ts';
import { relayBatches } from './relay.ts';
import { StreamTimers } from './stream-timers.ts';

export const streamDisabledMessage =
  'Streaming is currently disabled. To enable it, update the setting "plugins.ml_commons.stream_enabled" to true.';

export interface OpenStream {
  modelId: string;
  llmInterface: string;
  /** Batches of parts; the last one ends with a `finish` or `error` part. */
  batches: AsyncGenerator<StreamPart[], void, void>;
  /** Stops the upstream at once (client gone). Safe to call more than once. */
  cancel(): void;
}

export interface StreamServiceDependencies {
  settings: SettingsService;
  predict: PredictService;
  upstream: UpstreamClient;
  /** Told when a stream against an upstream starts and ends (active-stream accounting). */
  activity?: { streamStarted(): void; streamEnded(): void };
}

export class StreamService {
  readonly #dependencies: StreamServiceDependencies;

  constructor(dependencies: StreamServiceDependencies) {
    this.#dependencies = dependencies;
  }

  async open(modelId: string, body: PredictBody, controller: AbortController): Promise<OpenStream> {
    const { settings, predict, upstream } = this.#dependencies;
    if (!settings.current().streamEnabled) {
      throw new ServiceError(ErrorCode.BadRequest, streamDisabledMessage);
    }
    const admitted = await predict.admit(modelId, body, 'stream');
    const { connector } = admitted;
    const prepared = prepareCall(connector, body);
    const { adapter, llmInterface } = resolveInterface(prepared.parameters['_llm_interface'], {
      protocol: connector.protocol,
      url: prepared.call.url,
    });
    const call = adapter.prepareStream(prepared.call, llmInterface);
    predict.takeToken(admitted);
    const config = connector.clientConfig;
    const idleMs = config.read_timeout * 1000;
    const deadlines = {
      firstTokenMs: (config.first_token_timeout ?? config.read_timeout) * 1000,
      idleMs,
      totalMs: config.total_timeout === undefined ? undefined : config.total_timeout * 1000,
    };

    const timers = new StreamTimers(deadlines, (reason) => controller.abort(reason));
    const release = () => timers.dispose();

    let parts: AsyncGenerator<StreamPart[], void, void> | undefined;
    let first: StreamPart[];
    try {
      const response = await upstream.open(call, config, controller.signal, {
        firstByteTimeoutMs: deadlines.firstTokenMs,
        ...(prepared.sign === undefined ? {} : { sign: prepared.sign }),
      });
      parts = readParts(
        response.body,
        adapter.framing,
        adapter.createDecoder(llmInterface),
        timers,
      );
      const result = await parts.next();
      if (result.done)
        throw new ServiceError(ErrorCode.UpstreamProtocol, 'The remote service sent no events');
      first = result.value;
    } catch (error) {
      // Judged before aborting: afterwards every failure would look like a cancellation.
      const failure = failureOf(error, controller.signal);
      release();
      controller.abort();
      await parts?.return();
      throw failure;
    }
    const errorOfFirst = first.find((part) => part.type === 'error');
    if (
      errorOfFirst !== undefined &&
      first.every((part) => part === errorOfFirst || part.type === 'reasoning-delta')
    ) {
      // The provider refused before producing any answer (thinking is not part of the stream
      // format, so nothing would have reached the client): still time for a proper HTTP error.
      release();
      controller.abort();
      await parts.return();
      throw new ServiceError(ErrorCode.Upstream, errorOfFirst.message, {
        status: errorOfFirst.status,
      });
    }
    const { activity } = this.#dependencies;
    activity?.streamStarted();
    const releaseAll = () => {
      release();
      activity?.streamEnded();
    };
    return {
      modelId,
      llmInterface,
      batches: relayBatches(first, parts, {
        failure: (error) => failureOf(error, controller.signal),
        endedEarly: 'The remote service ended the stream before it was complete',
        abort: () => controller.abort(),
        onEnd: releaseAll,
      }),
      cancel: () => controller.abort(new DOMException('Client disconnected', 'AbortError')),
    };
  }
}

/** What to tell the client: a deadline says so, a lost connection says so, internals stay hidden. */
function failureOf(error: unknown, signal: AbortSignal): ServiceError {
  if (signal.aborted && ServiceError.isInstance(signal.reason)) return signal.reason;
  if (ServiceError.isInstance(error)) return error;
  if (signal.aborted || isAbortError(error)) {
    return new ServiceError(ErrorCode.Canceled, 'The request was cancelled', { cause: error });
  }
  if (isConnectionError(error)) {
    return new ServiceError(
      ErrorCode.UpstreamUnavailable,
      'The connection to the remote service was lost before the stream was complete',
      { cause: error, retryable: true },
    );
  }
  return ServiceError.from(error);
}

function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = 'code' in error ? String(error.code) : '';
  return code.startsWith('UND_ERR') || code.startsWith('ECONN') || code === 'EPIPE';
}
