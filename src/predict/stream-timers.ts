/**
 * The deadlines of one stream, kept apart as PRODUCT.md asks: time to first token, idle time
 * between events, and an optional total. Each deadline aborts the upstream with a ServiceError
 * naming which one passed. One timer object per deadline, re-armed with `refresh()` (no allocation
 * per event); all cleared by `dispose()`.
 */
import { ErrorCode, ServiceError } from '../domain/errors.ts';

export interface StreamDeadlines {
  firstTokenMs: number;
  idleMs: number;
  totalMs: number | undefined;
}

export class StreamTimers {
  readonly #abort: (reason: ServiceError) => void;
  readonly #deadlines: StreamDeadlines;
  #firstToken: NodeJS.Timeout | undefined;
  #idle: NodeJS.Timeout | undefined;
  #total: NodeJS.Timeout | undefined;
  #paused = false;

  constructor(deadlines: StreamDeadlines, abort: (reason: ServiceError) => void) {
    this.#deadlines = deadlines;
    this.#abort = abort;
    this.#firstToken = setTimeout(
      () =>
        this.#fire(
          `No token arrived within ${seconds(deadlines.firstTokenMs)} (first token timeout)`,
        ),
      deadlines.firstTokenMs,
    );
    if (deadlines.totalMs !== undefined) {
      this.#total = setTimeout(
        () =>
          this.#fire(`The stream exceeded its total time of ${seconds(deadlines.totalMs ?? 0)}`),
        deadlines.totalMs,
      );
    }
  }

  /** Call on every decoded event: the first one ends the first-token wait, each resets idle. */
  activity(): void {
    if (this.#idle !== undefined) {
      this.#idle.refresh();
      return;
    }
    clearTimeout(this.#firstToken);
    this.#firstToken = undefined;
    this.#idle = setTimeout(() => {
      // While the client is slow Sluice stops reading the upstream on purpose; that silence is
      // not the upstream's. The timer is re-armed by resume().
      if (this.#paused) return;
      this.#fire(`No event arrived for ${seconds(this.#deadlines.idleMs)} (read timeout)`);
    }, this.#deadlines.idleMs);
  }

  /** Sluice is waiting on the client (backpressure): the idle deadline does not run. */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    // refresh() re-arms a timer even if it already fired during the pause.
    this.#idle?.refresh();
  }

  dispose(): void {
    clearTimeout(this.#firstToken);
    clearTimeout(this.#idle);
    clearTimeout(this.#total);
    this.#firstToken = undefined;
    this.#idle = undefined;
    this.#total = undefined;
  }

  #fire(message: string): void {
    this.dispose();
    this.#abort(new ServiceError(ErrorCode.Timeout, message));
  }
}

function seconds(milliseconds: number): string {
  return `${milliseconds / 1000} s`;
}
