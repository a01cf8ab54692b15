import type { ServerResponse } from 'node:http';

/**
 * An AbortController that is aborted when the client goes away before the response is
 * complete. The listener goes with the response ('close' is its last event), so nothing outlives
 * the request. A stream shares this controller with its upstream call (one per request:
 * creating them is not free, see docs/benchmarks.md finding 1 C).
 */
export function clientGoneController(response: ServerResponse): AbortController {
  const controller = new AbortController();
  response.once('close', () => {
    if (!response.writableFinished)
      controller.abort(new DOMException('Client disconnected', 'AbortError'));
  });
  return controller;
}

/** The signal of `clientGoneController`, for calls that only need to hear about it. */
export function clientGoneSignal(response: ServerResponse): AbortSignal {
  return clientGoneController(response).signal;
}
