/**
 * The body of an opened stream: errors mapped to ServiceError, and the socket released or
 * returned to the pool once the consumer is done.
 */

import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { UpstreamStream } from './client.ts';
import {
  cancellationError,
  releaseBody,
  type TimeoutLimits,
  toUpstreamError,
} from './upstream-error.ts';

/**
 * After the provider's end marker a few bytes may still follow (`data: [DONE]`, the chunked
 * terminator). Reading them lets the connection return to the pool; a body that keeps talking
 * (more than 64 KiB or longer than a second) is destroyed instead.
 */
function drainRemainder(body: Readable): void {
  if (body.readableEnded || body.destroyed) return;
  let bytes = 0;
  const timer = setTimeout(() => releaseBody(body), 1000);
  timer.unref();
  const stop = () => clearTimeout(timer);
  body.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > 64 * 1024) {
      stop();
      releaseBody(body);
    }
  });
  body.once('end', stop);
  body.once('close', stop);
  body.on('error', stop);
  body.resume();
}

export function streamOf(
  response: Dispatcher.ResponseData,
  signal: AbortSignal,
  limits: TimeoutLimits,
): UpstreamStream {
  const { body } = response;
  let released = false;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let failed = false;
    try {
      // destroyOnReturn: false — a consumer that stops at the provider's end marker must not
      // destroy a body that is about to end anyway (that costs the pooled connection and an error
      // object per stream); the finally below decides.
      for await (const chunk of body.iterator({ destroyOnReturn: false }))
        yield chunk as Uint8Array;
    } catch (error) {
      failed = true;
      if (signal.aborted) throw cancellationError(signal);
      if (released) throw new ServiceError(ErrorCode.Canceled, 'The upstream stream was released');
      throw toUpstreamError(error, limits);
    } finally {
      if (failed || signal.aborted || released) releaseBody(body);
      else drainRemainder(body);
    }
  }
  return {
    status: response.statusCode,
    headers: response.headers,
    body: chunks(),
    abort: () => {
      released = true;
      releaseBody(body);
    },
  };
}
