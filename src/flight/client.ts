/**
 * The coordinator's Arrow Flight client: `doGet` streams an ML node's parts, `doAction` runs a
 * unary action. One instance per ML node address; it keeps one HTTP/2 connection.
 *
 * Each FlightData is decoded the moment grpc-js delivers it (no reader look-ahead, G1), so a
 * token reaches the caller as soon as its batch arrives. Failures surface as ServiceErrors
 * (`status.ts`): a lost or unreachable node is `upstream_unavailable`, retryable, and
 * `isFlightTransportFailure` tells it apart from an error the node itself reported.
 */
import { type ChannelOptions, Client, credentials } from '@grpc/grpc-js';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { assertClusterSecret, authorizationMetadata } from './auth.ts';
import { FlightStreamDecoder } from './ipc.ts';
import {
  decodeFlightData,
  decodeResult,
  encodeAction,
  encodeTicket,
  type FlightData,
  type Result,
} from './protocol.ts';
import { assertStreamPartSchema, recordBatchToParts } from './record-batch.ts';
import { flightService } from './service.ts';
import { abortError, errorFromCall } from './status.ts';

export { isFlightTransportFailure } from './status.ts';

export interface FlightClientOptions {
  clusterSecret: string;
  /**
   * While calls are in flight, ping the peer this often and drop the connection when a ping is
   * not answered within `keepaliveTimeoutMs`. A killed process closes its socket and is noticed
   * at once; this catches a peer that vanished without closing it (power loss, partition).
   */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
  /** Largest message accepted; batches are small, but a coalesced batch can hold a long text. */
  maxReceiveMessageBytes?: number;
}

const defaultMaxMessageBytes = 64 * 1024 * 1024;

/** The part of a grpc-js call that closing the client needs. */
interface RunningCall {
  cancel(): void;
}

export class FlightClient {
  readonly #client: Client;
  readonly #secret: string;
  /** grpc-js lets calls outlive `Client.close()`; closing must cancel them (and their streams). */
  readonly #running = new Set<RunningCall>();
  #closed = false;

  /** `address` is `host:port` (IPv6 hosts in brackets). */
  constructor(address: string, options: FlightClientOptions) {
    assertClusterSecret(options.clusterSecret);
    this.#secret = options.clusterSecret;
    const channelOptions: ChannelOptions = {
      'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? defaultMaxMessageBytes,
      'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? 5_000,
      'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs ?? 2_000,
      // Reconnect soon after a node restarts at the same address (gRPC's default backs off to
      // two minutes, during which every call would fail fast as unavailable).
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
    };
    this.#client = new Client(address, credentials.createInsecure(), channelOptions);
  }

  /**
   * Streams the parts of the prediction in `ticket`, one array per record batch. Aborting
   * `signal` (or leaving the loop early) cancels the call, which cancels the stream on the
   * ML node; the iteration then throws the abort reason if it is a ServiceError, else a
   * `canceled` (or, for `AbortSignal.timeout`, `timeout`) ServiceError.
   */
  async *doGet(ticket: Uint8Array, signal: AbortSignal): AsyncGenerator<StreamPart[], void, void> {
    if (signal.aborted) throw abortError(signal);
    this.#assertOpen();
    const call = this.#client.makeServerStreamRequest<{ ticket: Uint8Array }, FlightData>(
      flightService.DoGet.path,
      encodeTicket,
      decodeFlightData,
      { ticket },
      authorizationMetadata(this.#secret),
    );
    const cancel = () => call.cancel();
    signal.addEventListener('abort', cancel, { once: true });
    this.#running.add(call);
    const decoder = new FlightStreamDecoder(assertStreamPartSchema);
    let ended = false;
    try {
      try {
        for await (const data of call as AsyncIterable<FlightData>) {
          const batch = decoder.read({ header: data.dataHeader, body: data.dataBody });
          if (batch === undefined) continue;
          const parts = recordBatchToParts(batch);
          if (parts.length > 0) yield parts;
        }
      } catch (error) {
        throw this.#closed ? closedError(error) : errorFromCall(error, signal);
      }
      ended = true;
    } finally {
      signal.removeEventListener('abort', cancel);
      this.#running.delete(call);
      // A consumer that stops early, or a batch we refused, must not leave the stream running.
      if (!ended) call.cancel();
    }
  }

  /** Runs one action and returns its single result body. */
  async doAction(type: string, body: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    if (signal.aborted) throw abortError(signal);
    this.#assertOpen();
    const call = this.#client.makeServerStreamRequest<{ type: string; body: Uint8Array }, Result>(
      flightService.DoAction.path,
      encodeAction,
      decodeResult,
      { type, body },
      authorizationMetadata(this.#secret),
    );
    const cancel = () => call.cancel();
    signal.addEventListener('abort', cancel, { once: true });
    this.#running.add(call);
    const results: Uint8Array[] = [];
    try {
      for await (const result of call as AsyncIterable<Result>) results.push(result.body);
    } catch (error) {
      throw this.#closed ? closedError(error) : errorFromCall(error, signal);
    } finally {
      signal.removeEventListener('abort', cancel);
      this.#running.delete(call);
    }
    const [only] = results;
    if (only === undefined || results.length > 1) {
      throw new ServiceError(
        ErrorCode.UpstreamProtocol,
        `Flight action ${type} returned ${results.length} results, expected 1`,
      );
    }
    return only;
  }

  /** Closes the connection; calls still running are cancelled (and fail as `canceled`). */
  close(): void {
    this.#closed = true;
    for (const call of this.#running) call.cancel();
    this.#running.clear();
    this.#client.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError(undefined);
  }
}

const closedError = (cause: unknown): ServiceError =>
  new ServiceError(ErrorCode.Canceled, 'The Flight client was closed', { cause });
