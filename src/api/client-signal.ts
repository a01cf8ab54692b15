import type { ServerResponse } from 'node:http';

/**
 * An AbortSignal that fires when the client goes away before the response is complete. The
 * listener is removed once the response ends either way, so nothing outlives the request.
 */
export function clientGoneSignal(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  const onClose = () => {
    if (!response.writableFinished)
      controller.abort(new DOMException('Client disconnected', 'AbortError'));
  };
  response.once('close', onClose);
  return controller.signal;
}
