/**
 * The two ways a decoded stream fails, worded once for every decoder: the remote service
 * reported an error inside the stream (an `error` part, with the status the same failure gets
 * before the stream starts), or the body ended before the provider's end marker (thrown).
 * Each decoder keeps its own mapping from the provider's error words to a status.
 */
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { StreamPart } from '../../domain/stream-part.ts';

export type ErrorPart = Extract<StreamPart, { type: 'error' }>;

/** The error part for the remote service's own words, prefixed as ml-commons does. */
export function remoteErrorPart(message: string, status: number): ErrorPart {
  return { type: 'error', message: `Error from remote service: ${message}`, status };
}

/** A body that ended early: `detail` says where (`before message_stop`). */
export function endedEarly(detail: string): ServiceError {
  return new ServiceError(
    ErrorCode.UpstreamProtocol,
    `The remote service ended the stream ${detail}`,
  );
}
