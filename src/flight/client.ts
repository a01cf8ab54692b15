/**
 * The coordinator's Arrow Flight client: `doGet` streams an ML node's parts, `doAction` runs a
 * unary action. One instance per ML node address; it keeps one HTTP/2 connection
 * (`http2-channel.ts`), replaced when lost.
 *
 * Each FlightData is decoded the moment it is read (no reader look-ahead, G1), so a token
 * reaches the caller as soon as its batch arrives. Failures surface as ServiceErrors
 * (`status.ts`): a lost or unreachable node is `upstream_unavailable`, retryable, and
 * `isFlightTransportFailure` tells it apart from an error the node itself reported.
 */
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { assertClusterSecret, authorizationMetadata } from './auth.ts';
import type { ClientCall } from './http2-call.ts';
import { GrpcChannel } from './http2-channel.ts';
import type { IpcMessage } from './ipc.ts';
import { PartsMessageDecoder } from './part-codec.ts';
import { decodeFlightData, decodeResult, encodeAction, encodeTicket } from './protocol.ts';
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

/**
 * The one place where the client turns Arrow IPC messages into parts: a decoder for one stream
 * (part-decoder.ts reads the fixed schema straight from the buffers, about 8× cheaper than
 * apache-arrow's reader), which returns `undefined` for the schema message.
 */
function createPartsDecoder(): (message: IpcMessage) => StreamPart[] | undefined {
  const decoder = new PartsMessageDecoder();
  return (message) => decoder.read(message);
}

export class FlightClient {
  readonly #channel: GrpcChannel;
  #closed = false;

  /** `address` is `host:port` (IPv6 hosts in brackets). */
  constructor(address: string, options: FlightClientOptions) {
    assertClusterSecret(options.clusterSecret);
    this.#channel = new GrpcChannel(address, {
      metadata: authorizationMetadata(options.clusterSecret),
      keepaliveTimeMs: options.keepaliveTimeMs ?? 5_000,
      keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? 2_000,
      maxMessageBytes: options.maxReceiveMessageBytes ?? defaultMaxMessageBytes,
    });
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
    let call: ClientCall | undefined;
    const cancel = () => call?.cancel();
    signal.addEventListener('abort', cancel, { once: true });
    const decodeParts = createPartsDecoder();
    let ended = false;
    let terminal = false;
    try {
      try {
        call = this.#channel.start(flightService.DoGet.path, encodeTicket({ ticket }));
        for (;;) {
          const message = await call.read();
          if (message === undefined) break;
          const data = decodeFlightData(message);
          const parts = decodeParts({ header: data.dataHeader, body: data.dataBody });
          if (parts === undefined || parts.length === 0) continue;
          terminal = isTerminalPart(parts.at(-1));
          yield parts;
        }
      } catch (error) {
        throw this.#closed ? closedError(error) : errorFromCall(error, signal);
      }
      ended = true;
    } finally {
      const release = () => signal.removeEventListener('abort', cancel);
      if (call !== undefined && !ended && terminal && !signal.aborted && !this.#closed) {
        // The abort listener stays until the call has ended: it may still cancel it.
        call.finishUnread(maxMessagesAfterTerminal, finishTimeoutMs, release);
      } else {
        release();
        // A consumer that stops early, or a batch we refused, must not leave the stream running.
        if (!ended) call?.cancel();
      }
    }
  }

  /** Runs one action and returns its single result body. */
  async doAction(type: string, body: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    if (signal.aborted) throw abortError(signal);
    this.#assertOpen();
    let call: ClientCall | undefined;
    const cancel = () => call?.cancel();
    signal.addEventListener('abort', cancel, { once: true });
    const results: Uint8Array[] = [];
    try {
      call = this.#channel.start(flightService.DoAction.path, encodeAction({ type, body }));
      for (;;) {
        const message = await call.read();
        if (message === undefined) break;
        results.push(decodeResult(message).body);
      }
    } catch (error) {
      call?.cancel();
      throw this.#closed ? closedError(error) : errorFromCall(error, signal);
    } finally {
      signal.removeEventListener('abort', cancel);
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
    this.#channel.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError(undefined);
  }
}

/**
 * When the consumer stops at the stream's terminal part (finish or error), the ML node follows
 * it at once with the OK status. Reading that status ends the call normally; cancelling instead
 * sends an RST_STREAM for every completed stream, and Node's HTTP/2 server takes a sustained
 * rate of those for a "rapid reset" attack: it closes the whole connection with INTERNAL_ERROR,
 * failing every other stream on it (docs/benchmarks.md, finding 8). A call that goes on talking
 * is still cancelled after these bounds, or when the signal aborts.
 */
const finishTimeoutMs = 1_000;
const maxMessagesAfterTerminal = 16;

const isTerminalPart = (part: StreamPart | undefined): boolean =>
  part !== undefined && (part.type === 'finish' || part.type === 'error');

const closedError = (cause: unknown): ServiceError =>
  new ServiceError(ErrorCode.Canceled, 'The Flight client was closed', { cause });
