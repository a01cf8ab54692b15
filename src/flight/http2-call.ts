/**
 * One gRPC call on the client side of an HTTP/2 stream: the response messages are decoded as
 * each DATA chunk arrives and handed to `read()` in order; the status comes from the trailers
 * (or the headers of a trailers-only response), or is derived from how the stream ended.
 *
 * `cancel()` resets the stream (RST_STREAM CANCEL) unless it has already ended: a finished call
 * never sends a reset (see `http2-channel.ts` on Node's reset-flood guard).
 */
import { type ClientHttp2Stream, constants, type IncomingHttpHeaders } from 'node:http2';
import { createMessageDecoder, GrpcFramingError } from './grpc-framing.ts';
import {
  GrpcCallError,
  GrpcStatus,
  isGrpcContentType,
  type StatusObject,
  statusFromHeaders,
  statusFromHttpStatus,
  statusFromResetCode,
} from './grpc-protocol.ts';
import { MessageQueue } from './message-queue.ts';

/** What a call needs from the session it runs on. */
export interface CallHost {
  /** The call is about to send an RST_STREAM (counted against the server's reset budget). */
  onReset(): void;
  /** The stream is closed; the call no longer counts as running. */
  onClose(call: ClientCall): void;
  /** Why the session ended, if it did: then a stream without a status was lost with it. */
  lostBecause(): string | undefined;
}

export class ClientCall {
  readonly #stream: ClientHttp2Stream;
  readonly #host: CallHost;
  readonly #queue: MessageQueue;
  #status: StatusObject | undefined;
  /** The server ended its side (trailers, or a trailers-only response). */
  #serverDone = false;
  #cancelled = false;
  #closed = false;
  #streamError: unknown;
  /** While finishing unread: how many more messages may come before the call is cancelled. */
  #dropLimit = -1;
  #dropTimer: NodeJS.Timeout | undefined;
  #onDropEnd: (() => void) | undefined;

  constructor(stream: ClientHttp2Stream, host: CallHost, maxMessageBytes: number) {
    this.#stream = stream;
    this.#host = host;
    this.#queue = new MessageQueue(stream);
    const decoder = createMessageDecoder((message) => {
      if (this.#dropLimit < 0) this.#queue.push(message);
      else if (this.#dropLimit-- === 0) this.cancel();
    }, maxMessageBytes);
    stream.on('response', (headers) => this.#onResponse(headers));
    stream.on('data', (chunk: Buffer) => {
      if (this.#cancelled) return;
      try {
        decoder.push(chunk);
      } catch (error) {
        const code = error instanceof GrpcFramingError ? error.code : GrpcStatus.INTERNAL;
        this.#fail({ code, details: (error as Error).message, metadata: {} });
      }
    });
    stream.on('trailers', (headers) => {
      this.#serverDone = true;
      this.#status ??= statusFromHeaders(headers);
    });
    stream.on('error', (error) => {
      this.#streamError = error;
    });
    stream.on('close', () => {
      this.#closed = true;
      clearTimeout(this.#dropTimer);
      this.#onDropEnd?.();
      this.#host.onClose(this);
      const status = this.#finalStatus(decoder.idle);
      this.#queue.finish(status.code === GrpcStatus.OK ? undefined : new GrpcCallError(status));
    });
  }

  /** The next response message; `undefined` once the call ended OK. Rejects with GrpcCallError. */
  read(): Promise<Uint8Array | undefined> {
    return this.#queue.read();
  }

  /** True once the stream is closed (ended normally, reset, or lost). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Cancels the call: RST_STREAM CANCEL to the server, and `read()` rejects with CANCELLED at
   * once (messages not read yet are dropped). Does nothing once the stream has closed.
   */
  cancel(details = 'Cancelled on client'): void {
    if (this.#closed || this.#cancelled) return;
    this.#abandon(details);
    if (this.#serverDone) {
      // The server has finished (its END_STREAM came with the status): nothing to stop, so
      // no reset; what is still buffered is read and dropped, and the stream closes normally.
      this.#stream.resume();
      return;
    }
    this.#host.onReset();
    this.#stream.close(constants.NGHTTP2_CANCEL);
  }

  /**
   * The reader has left, but the call should end by itself rather than be reset (see
   * FlightClient on the terminal part): `read()` now gives `undefined`, messages still coming
   * are dropped, and the call is cancelled if more than `maxMessages` come or it has not ended
   * within `timeoutMs`. `onEnd` runs when the stream closes.
   */
  finishUnread(maxMessages: number, timeoutMs: number, onEnd: () => void): void {
    if (this.#closed || this.#cancelled) {
      onEnd();
      return;
    }
    this.#dropLimit = maxMessages;
    this.#onDropEnd = onEnd;
    this.#queue.finish(undefined, true);
    this.#stream.resume();
    // With the server's END_STREAM already in, the stream is closing by itself.
    if (this.#serverDone) return;
    this.#dropTimer = setTimeout(() => this.cancel(), timeoutMs);
    this.#dropTimer.unref();
  }

  /** Fails the call as CANCELLED without touching the stream (its session is being destroyed). */
  abandon(details: string): void {
    if (!this.#closed && !this.#cancelled) this.#abandon(details);
  }

  #abandon(details: string): void {
    this.#cancelled = true;
    this.#queue.finish(
      new GrpcCallError({ code: GrpcStatus.CANCELLED, details, metadata: {} }),
      true,
    );
  }

  #onResponse(headers: IncomingHttpHeaders): void {
    const httpStatus = Number(headers[constants.HTTP2_HEADER_STATUS]);
    const contentType = headers[constants.HTTP2_HEADER_CONTENT_TYPE];
    if ('grpc-status' in headers) {
      // Trailers-only: the whole response is this one HEADERS frame.
      this.#serverDone = true;
      this.#status = statusFromHeaders(headers);
    } else if (httpStatus !== 200) {
      this.#fail(statusFromHttpStatus(httpStatus));
    } else if (typeof contentType !== 'string' || !isGrpcContentType(contentType)) {
      this.#fail({
        code: GrpcStatus.UNKNOWN,
        details: `Response is not gRPC: content-type ${String(contentType)}`,
        metadata: {},
      });
    }
  }

  /** A failure found on our side (bad response, bad framing): report it and stop the stream. */
  #fail(status: StatusObject): void {
    if (this.#closed || this.#cancelled) return;
    this.#status = status;
    this.#cancelled = true;
    this.#queue.finish(new GrpcCallError(status), true);
    this.#host.onReset();
    this.#stream.close(constants.NGHTTP2_CANCEL);
  }

  #finalStatus(decoderIdle: boolean): StatusObject {
    const status = this.#status;
    if (status !== undefined) {
      if (status.code === GrpcStatus.OK && !decoderIdle) {
        return { code: GrpcStatus.INTERNAL, details: 'Response ended mid-message', metadata: {} };
      }
      return status;
    }
    if (this.#cancelled) {
      return { code: GrpcStatus.CANCELLED, details: 'Cancelled on client', metadata: {} };
    }
    const error = this.#streamError;
    const lost = this.#host.lostBecause();
    if (lost !== undefined) {
      const why = error instanceof Error && error.message !== '' ? error.message : lost;
      return { code: GrpcStatus.UNAVAILABLE, details: `Connection lost: ${why}`, metadata: {} };
    }
    const resetCode = this.#stream.rstCode;
    if (resetCode !== undefined && resetCode !== constants.NGHTTP2_NO_ERROR) {
      return statusFromResetCode(resetCode);
    }
    return {
      code: error === undefined ? GrpcStatus.INTERNAL : GrpcStatus.UNAVAILABLE,
      details:
        error === undefined
          ? 'The stream ended without a gRPC status'
          : `The stream failed: ${(error as Error).message}`,
      metadata: {},
    };
  }
}
