/**
 * The coordinator's Arrow Flight client: `doGet` streams an ML node's parts, `doAction` runs a
 * unary action. One instance per ML node address; it keeps one HTTP/2 connection.
 *
 * Each FlightData is decoded the moment grpc-js delivers it (no reader look-ahead, G1), so a
 * token reaches the caller as soon as its batch arrives. Failures surface as ServiceErrors
 * (`status.ts`): a lost or unreachable node is `upstream_unavailable`, retryable, and
 * `isFlightTransportFailure` tells it apart from an error the node itself reported.
 */
import { type ChannelOptions, Client, type ClientReadableStream, credentials } from '@grpc/grpc-js';
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
   * `canceled` (or, for `AbortSignal.timeout`, `timeout`) ServiceError. Leaving right after a
   * terminal part (finish or error) lets the call end with the node's status instead.
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
    let terminal = false;
    try {
      try {
        // destroyOnReturn: false, so that a consumer that stops at the terminal part leaves the
        // call readable for finishAfterTerminal (any other early stop cancels it below).
        for await (const data of call.iterator({ destroyOnReturn: false })) {
          const message = data as FlightData;
          const batch = decoder.read({ header: message.dataHeader, body: message.dataBody });
          if (batch === undefined) continue;
          const parts = recordBatchToParts(batch);
          if (parts.length === 0) continue;
          terminal = isTerminalPart(parts.at(-1));
          yield parts;
        }
      } catch (error) {
        throw this.#closed ? closedError(error) : errorFromCall(error, signal);
      }
      ended = true;
    } finally {
      signal.removeEventListener('abort', cancel);
      // The call's status may still come (as an 'error' event): it has no reader any more.
      if (!ended) call.on('error', ignore);
      if (!ended && terminal && !signal.aborted && !this.#closed) {
        this.#finishAfterTerminal(call, signal);
      } else {
        this.#running.delete(call);
        // A consumer that stops early, or a batch we refused, must not leave the stream running.
        if (!ended) call.cancel();
      }
    }
  }

  /**
   * The consumer stopped at the stream's terminal part (finish or error), which the ML node
   * follows at once with the OK status. Reading that status ends the call normally; cancelling
   * instead sends an RST_STREAM for every completed stream, and Node's HTTP/2 server takes a
   * sustained rate of those for a "rapid reset" attack: it closes the whole connection with
   * INTERNAL_ERROR, failing every other stream on it. A call that goes on talking is cancelled
   * after `maxMessagesAfterTerminal` messages or `finishTimeoutMs`, or when `signal` aborts.
   */
  #finishAfterTerminal(call: ClientReadableStream<unknown>, signal: AbortSignal): void {
    let messages = 0;
    const cancel = () => call.cancel();
    const timer = setTimeout(cancel, finishTimeoutMs);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', cancel);
      this.#running.delete(call);
    };
    signal.addEventListener('abort', cancel, { once: true });
    call.once('status', done);
    call.on('data', () => {
      messages += 1;
      if (messages > maxMessagesAfterTerminal) cancel();
    });
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

/** Bounds on what is read after the terminal part before the call is cancelled. */
const finishTimeoutMs = 1_000;
const maxMessagesAfterTerminal = 16;

const ignore = () => {};

const isTerminalPart = (part: StreamPart | undefined): boolean =>
  part !== undefined && (part.type === 'finish' || part.type === 'error');

const closedError = (cause: unknown): ServiceError =>
  new ServiceError(ErrorCode.Canceled, 'The Flight client was closed', { cause });
