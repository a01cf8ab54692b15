/**
 * Messages between an HTTP/2 stream's 'data' events and a reader that pulls them one at a time.
 *
 * A message is handed to a waiting reader the moment it is decoded (no look-ahead, G1). Messages
 * nobody is waiting for are queued, and once `highWaterBytes` of them wait the source is paused:
 * Node then stops reading the stream, stops returning HTTP/2 flow-control credit, and the
 * sender's writes start to wait. The source resumes when the reader has emptied the queue.
 */

const resolvedEnd = Promise.resolve(undefined);

export class MessageQueue {
  #items: Uint8Array[] = [];
  #head = 0;
  #queuedBytes = 0;
  #paused = false;
  #waiter:
    | { resolve: (message: Uint8Array | undefined) => void; reject: (error: unknown) => void }
    | undefined;
  #end: { error: unknown } | undefined;
  readonly #source: { pause(): void; resume(): void };
  readonly #highWaterBytes: number;

  constructor(source: { pause(): void; resume(): void }, highWaterBytes = 64 * 1024) {
    this.#source = source;
    this.#highWaterBytes = highWaterBytes;
  }

  /** True once `finish` was called (messages may still be queued). */
  get finished(): boolean {
    return this.#end !== undefined;
  }

  push(message: Uint8Array): void {
    if (this.#end !== undefined) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve(message);
      return;
    }
    this.#items.push(message);
    this.#queuedBytes += message.length;
    if (!this.#paused && this.#queuedBytes >= this.#highWaterBytes) {
      this.#paused = true;
      this.#source.pause();
    }
  }

  /**
   * No more messages: queued ones are still read, then `read()` gives `undefined` (or rejects
   * with `error`). With `discard`, queued messages are dropped and the error comes at once.
   */
  finish(error?: unknown, discard = false): void {
    if (this.#end !== undefined) return;
    this.#end = { error };
    if (discard) this.#clear();
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    this.#waiter = undefined;
    if (error === undefined) waiter.resolve(undefined);
    else waiter.reject(error);
  }

  /** The next message; `undefined` after the last one. Only one read may wait at a time. */
  read(): Promise<Uint8Array | undefined> {
    if (this.#head < this.#items.length) {
      const message = this.#items[this.#head] as Uint8Array;
      this.#head += 1;
      this.#queuedBytes -= message.length;
      if (this.#head === this.#items.length) this.#clear();
      return Promise.resolve(message);
    }
    const end = this.#end;
    if (end !== undefined) {
      return end.error === undefined ? resolvedEnd : Promise.reject(end.error);
    }
    if (this.#waiter !== undefined) throw new Error('MessageQueue.read() while a read waits');
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  #clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    if (this.#paused) {
      this.#paused = false;
      if (this.#end === undefined) this.#source.resume();
    }
  }
}
