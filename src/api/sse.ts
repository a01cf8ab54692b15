/**
 * Writes an open stream to the client as SSE on the raw response: headers that stop every
 * intermediary from buffering, each batch written the moment it exists, `write() === false`
 * honoured by waiting for `drain` (the upstream is not read meanwhile), and a client disconnect
 * cancelling the upstream at once.
 */
import type { ServerResponse } from 'node:http';
import type { StreamPart, Usage } from '../domain/stream-part.ts';
import type { OpenStream } from '../predict/stream-service.ts';
import { encodeBatch } from './stream-events.ts';

// No `connection` header: Node answers keep-alive or close as the request and the server's state
// require. Setting `keep-alive` by hand kept a `Connection: close` client's socket open.
export const sseHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;

export interface StreamOutcome {
  outcome: 'completed' | 'failed' | 'client_closed';
  error?: string;
  finishReason?: string;
  usage?: Usage;
  events: number;
  firstEventMs: number | undefined;
  durationMs: number;
}

/**
 * The client leaving is handled by whoever owns the stream's controller (the route: see
 * client-signal.ts), which stops the upstream at once; here it only ends the writing.
 */
export async function writeSse(
  response: ServerResponse,
  stream: OpenStream,
  startedAt: number,
): Promise<StreamOutcome> {
  const outcome: StreamOutcome = {
    outcome: 'completed',
    events: 0,
    firstEventMs: undefined,
    durationMs: 0,
  };
  try {
    response.writeHead(200, sseHeaders);
    for await (const batch of stream.batches) {
      if (response.destroyed) break;
      outcome.firstEventMs ??= performance.now() - startedAt;
      outcome.events += batch.length;
      record(outcome, batch.at(-1));
      if (!response.write(encodeBatch(batch))) await drained(response);
      if (response.destroyed) break;
    }
  } finally {
    if (response.destroyed && !response.writableFinished) {
      outcome.outcome = 'client_closed';
      // Also when the loop ended because the stream failed the moment the client left.
      stream.cancel();
    }
    if (!response.writableEnded) response.end();
    outcome.durationMs = performance.now() - startedAt;
  }
  return outcome;
}

function record(outcome: StreamOutcome, last: StreamPart | undefined): void {
  if (last?.type === 'finish') {
    outcome.finishReason = last.finishReason.unified;
    if (last.usage !== undefined) outcome.usage = last.usage;
  } else if (last?.type === 'error') {
    outcome.outcome = 'failed';
    outcome.error = last.message;
  }
}

/** Resolves on `drain`, or on `close` if the client leaves while the writer waits. */
export function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}
