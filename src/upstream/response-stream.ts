/**
 * One streaming upstream response, read straight from undici's dispatch handler callbacks.
 *
 * Why not `undici.request()`: its body is a Readable, read here through the Readable's async
 * iterator and one more generator. Per stream that machinery cost about a third more CPU than
 * the callbacks below (docs/benchmarks.md, finding 1), and a stream's body is all Sluice reads.
 *
 * What it keeps from a Readable:
 * - Coalescing: every chunk undici parses from one socket read is queued before the consumer
 *   wakes (the wake-up is a microtask, the parse is synchronous), so the consumer gets them as one
 *   buffer and writes the events that arrived together in one write.
 * - Backpressure: once `highWaterMark` bytes wait unread, undici is paused (it stops reading the
 *   socket, and TCP pushes back on the provider); the consumer's next read resumes it.
 * - Pooled sockets: a consumer that stops at the provider's end marker leaves a few bytes unread
 *   (`data: [DONE]`, the chunked terminator). They are read and dropped (at most 64 KiB, at most a
 *   second) so the socket returns to the pool instead of being destroyed.
 */
import type { Dispatcher } from 'undici';

export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface ResponseHead {
  status: number;
  headers: ResponseHeaders;
}

const highWaterMark = 64 * 1024;
const drainLimitBytes = 64 * 1024;
const drainLimitMilliseconds = 1000;

/** Why undici is told to stop when the consumer releases the stream. */
class ReleasedError extends Error {
  readonly code = 'SLUICE_RELEASED';
}

export class ResponseStream implements Dispatcher.DispatchHandler, AsyncIterableIterator<Buffer> {
  /** Settles once the status line and headers arrived, or with the failure before that. */
  readonly head: Promise<ResponseHead>;
  readonly #signal: AbortSignal;
  /** Maps what undici reports (or the signal's reason) to what the consumer is told. */
  readonly #failure: (error: unknown) => unknown;
  #resolveHead!: (head: ResponseHead) => void;
  #rejectHead!: (error: unknown) => void;
  #headSettled = false;
  #controller: Dispatcher.DispatchController | undefined;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #ended = false;
  #error: unknown;
  #failed = false;
  #wake: (() => void) | undefined;
  /** The consumer left before the end: incoming bytes are dropped, within the drain limits. */
  #draining = false;
  #drainedBytes = 0;
  #drainTimer: NodeJS.Timeout | undefined;

  constructor(signal: AbortSignal, failure: (error: unknown) => unknown) {
    this.#signal = signal;
    this.#failure = failure;
    this.head = new Promise<ResponseHead>((resolve, reject) => {
      this.#resolveHead = resolve;
      this.#rejectHead = reject;
    });
    // A caller that gives up early must not see an unhandled rejection.
    this.head.catch(() => undefined);
    if (signal.aborted) this.#onAbort();
    else signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  // ---- undici's side ------------------------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // Aborted while the request waited for a pooled connection: stop before it is written.
    if (this.#signal.aborted || this.#failed) controller.abort(new ReleasedError('aborted'));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
  ): void {
    // 1xx (100 Continue) is not the answer; the final status follows.
    if (this.#headSettled || statusCode < 200) return;
    this.#headSettled = true;
    this.#resolveHead({ status: statusCode, headers });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#draining) {
      this.#drainedBytes += chunk.length;
      if (this.#drainedBytes > drainLimitBytes) controller.abort(new ReleasedError('drained'));
      return;
    }
    this.#queue.push(chunk);
    this.#queuedBytes += chunk.length;
    if (this.#queuedBytes >= highWaterMark) controller.pause();
    this.#wakeConsumer();
  }

  onResponseEnd(): void {
    this.#ended = true;
    this.#finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(error);
  }

  /** Fails the response as undici would, for a request undici refused to start. */
  fail(error: unknown): void {
    this.#fail(error);
  }

  // ---- the consumer's side ------------------------------------------------------------------

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** For one consumer at a time (`for await` never overlaps calls): there is one wake-up slot. */
  async next(): Promise<IteratorResult<Buffer, undefined>> {
    while (this.#queue.length === 0 && !this.#ended && !this.#failed) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
    if (this.#queue.length > 0) {
      const value = this.#queue.length === 1 ? this.#queue[0] : Buffer.concat(this.#queue);
      this.#queue = [];
      this.#queuedBytes = 0;
      if (this.#controller?.paused) this.#controller.resume();
      return { value: value as Buffer, done: false };
    }
    if (this.#failed) throw this.#failure(this.#error);
    return { value: undefined, done: true };
  }

  /** The consumer stops reading: let a nearly finished body end, close anything else. */
  async return(): Promise<IteratorResult<Buffer, undefined>> {
    this.#queue = [];
    this.#queuedBytes = 0;
    if (this.#ended || this.#failed || this.#draining) return { value: undefined, done: true };
    if (this.#signal.aborted) {
      this.release();
      return { value: undefined, done: true };
    }
    this.#draining = true;
    this.#drainTimer = setTimeout(() => this.release(), drainLimitMilliseconds);
    this.#drainTimer.unref();
    if (this.#controller?.paused) this.#controller.resume();
    return { value: undefined, done: true };
  }

  /** Closes the response now (its socket is not reused). Safe to call at any time. */
  release(): void {
    if (this.#ended || this.#failed) return;
    const reason = new ReleasedError('released');
    this.#fail(reason);
    this.#controller?.abort(reason);
  }

  // ---- shared -------------------------------------------------------------------------------

  readonly #onAbort = (): void => {
    const reason = new ReleasedError('aborted');
    this.#fail(reason);
    this.#controller?.abort(reason);
  };

  #fail(error: unknown): void {
    if (this.#ended || this.#failed) return;
    this.#failed = true;
    this.#error = error;
    // Bytes that arrived before a transport failure are still handed out, then the failure:
    // the events they hold reach the client. Released by the consumer: nobody wants them.
    if (error instanceof ReleasedError) {
      this.#queue = [];
      this.#queuedBytes = 0;
    }
    if (!this.#headSettled) {
      this.#headSettled = true;
      this.#rejectHead(this.#failure(error));
    }
    this.#finish();
  }

  #finish(): void {
    this.#signal.removeEventListener('abort', this.#onAbort);
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    this.#wakeConsumer();
  }

  #wakeConsumer(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** True for the reason this module gives undici when the consumer closed the stream. */
export function isReleased(error: unknown): boolean {
  return error instanceof ReleasedError;
}
