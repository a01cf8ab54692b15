/**
 * The committed part of a stream, shared by a local stream and one relayed from an ML node: the
 * first batch (already read), then the rest until a terminal part. The stream always ends with
 * exactly one terminal part: a failure while reading becomes one `error` part, and a source that
 * stops without a terminal part is reported as ended early, never as a normal end. Whatever ends
 * it, `onEnd` runs once and the source is closed; `abort` runs when it did not finish (client
 * gone, consumer returned early) so the upstream stops at once.
 */
import type { ServiceError } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { isTerminal } from './read-parts.ts';

export interface RelayOptions {
  /** Maps what the source threw to what the client is told. */
  failure: (error: unknown) => ServiceError;
  endedEarly: string;
  abort: () => void;
  onEnd: () => void;
}

export async function* relayBatches(
  first: StreamPart[],
  rest: AsyncIterator<StreamPart[], void>,
  options: RelayOptions,
): AsyncGenerator<StreamPart[], void, void> {
  let finished = false;
  try {
    yield first;
    if (isTerminal(first.at(-1))) {
      finished = true;
      return;
    }
    for (;;) {
      const result = await rest.next();
      if (result.done) {
        finished = true;
        yield [{ type: 'error', message: options.endedEarly, status: 502 }];
        return;
      }
      yield result.value;
      if (isTerminal(result.value.at(-1))) {
        finished = true;
        return;
      }
    }
  } catch (error) {
    finished = true;
    const failure = options.failure(error);
    yield [{ type: 'error', message: failure.message, status: failure.status }];
  } finally {
    options.onEnd();
    if (!finished) options.abort();
    await rest.return?.();
  }
}
