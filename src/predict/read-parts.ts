/**
 * Bytes of one upstream response → batches of stream parts: wire decoder (framing) → provider
 * frame decoder → parts. A batch holds the parts decoded from one network chunk, so events that
 * arrived together are written together and nothing waits for more.
 *
 * Pulling drives reading: while the consumer does not ask for the next batch, the upstream body
 * is not read, so TCP backpressure reaches the provider and memory stays bounded.
 */
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { Frame, FrameDecoder, Framing } from '../domain/provider.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { createEventStreamDecoder } from '../wire/event-stream.ts';
import { createNdjsonDecoder } from '../wire/ndjson.ts';
import { createSseDecoder } from '../wire/sse.ts';
import type { StreamTimers } from './stream-timers.ts';

export function isTerminal(part: StreamPart | undefined): boolean {
  return part !== undefined && (part.type === 'finish' || part.type === 'error');
}

export async function* readParts(
  body: AsyncIterable<Uint8Array>,
  framing: Framing,
  decoder: FrameDecoder,
  timers: StreamTimers,
): AsyncGenerator<StreamPart[], void, void> {
  let pending: StreamPart[] = [];
  let terminal = false;
  const emit = (part: StreamPart) => {
    if (terminal) return;
    pending.push(part);
    terminal = isTerminal(part);
  };
  const onFrame = (frame: Frame) => {
    if (!terminal) decoder.decode(frame, emit);
  };
  const wire = createWireDecoder(framing, onFrame);
  for await (const chunk of body) {
    try {
      wire.push(chunk);
    } catch (error) {
      // Events decoded before the broken one in the same chunk still reach the client first.
      if (pending.length > 0) yield pending;
      throw error;
    }
    if (pending.length === 0) continue;
    timers.activity();
    const batch = pending;
    pending = [];
    if (terminal) {
      // Anything the upstream sends after its end marker is not read.
      yield batch;
      return;
    }
    timers.pause();
    yield batch;
    timers.resume();
  }
  wire.end();
  decoder.end(emit);
  if (!terminal) {
    throw new ServiceError(
      ErrorCode.UpstreamProtocol,
      'The remote service ended the stream before it was complete',
    );
  }
  yield pending;
}

function createWireDecoder(framing: Framing, onFrame: (frame: Frame) => void) {
  switch (framing) {
    case 'sse':
      return createSseDecoder(onFrame);
    case 'ndjson':
      return createNdjsonDecoder(onFrame);
    case 'aws-event-stream':
      return createEventStreamDecoder(onFrame);
  }
}
