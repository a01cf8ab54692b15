/**
 * ServiceError ⇄ gRPC status, the one place where Flight failures change form.
 *
 * A ServiceError raised on the ML node crosses the hop intact: the gRPC code is the nearest
 * standard one (so generic Flight clients such as pyarrow see a sensible error), and trailers
 * carry the exact Sluice code, HTTP status and retry flag for a Sluice client to rebuild it.
 * A status without those trailers comes from the transport (peer gone, deadline, refused
 * secret) and is mapped by its gRPC code.
 */
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import { GrpcStatus, type StatusObject } from './grpc-protocol.ts';

const codeTrailer = 'sluice-error-code';
const statusTrailer = 'sluice-error-status';
const typeTrailer = 'sluice-error-type';
const retryableTrailer = 'sluice-error-retryable';

const grpcCodeOf: Record<ErrorCode, GrpcStatus> = {
  bad_request: GrpcStatus.INVALID_ARGUMENT,
  forbidden: GrpcStatus.PERMISSION_DENIED,
  not_found: GrpcStatus.NOT_FOUND,
  conflict: GrpcStatus.FAILED_PRECONDITION,
  payload_too_large: GrpcStatus.RESOURCE_EXHAUSTED,
  too_many_requests: GrpcStatus.RESOURCE_EXHAUSTED,
  upstream: GrpcStatus.INTERNAL,
  upstream_unavailable: GrpcStatus.UNAVAILABLE,
  upstream_protocol: GrpcStatus.INTERNAL,
  timeout: GrpcStatus.DEADLINE_EXCEEDED,
  canceled: GrpcStatus.CANCELLED,
  internal: GrpcStatus.INTERNAL,
};

const errorCodes = new Set<string>(Object.values(ErrorCode));

/** The status a server sends for a failure; `ServiceError.from` hides unknown errors' text. */
export function statusFromError(error: unknown): StatusObject {
  const failure = ServiceError.from(error);
  return {
    code: grpcCodeOf[failure.code],
    details: failure.message,
    metadata: {
      [codeTrailer]: failure.code,
      [statusTrailer]: String(failure.status),
      [typeTrailer]: failure.type,
      [retryableTrailer]: String(failure.retryable),
    },
  };
}

/** Transport-level failures: the peer is gone or unreachable, not a verdict on the request. */
const transportFailures = new WeakSet<ServiceError>();

/**
 * True when the call failed because the Flight peer could not be reached or was lost (connection
 * refused or dropped, peer shut down, keep-alive timeout), as opposed to an error the peer
 * reported, which may carry the same code (e.g. its own upstream being unavailable).
 */
export function isFlightTransportFailure(error: unknown): boolean {
  return ServiceError.isInstance(error) && transportFailures.has(error);
}

interface GrpcError {
  code: number;
  details: string;
  metadata?: Readonly<Record<string, string>>;
}

const isGrpcError = (value: unknown): value is GrpcError =>
  typeof value === 'object' &&
  value !== null &&
  'code' in value &&
  typeof value.code === 'number' &&
  'details' in value &&
  typeof value.details === 'string';

function trailer(
  metadata: Readonly<Record<string, string>> | undefined,
  key: string,
): string | undefined {
  const value = metadata?.[key];
  return typeof value === 'string' ? value : undefined;
}

/** Rebuilds the ServiceError a Sluice server sent, if the trailers say it was one. */
function reportedError(error: GrpcError): ServiceError | undefined {
  const code = trailer(error.metadata, codeTrailer);
  if (code === undefined || !errorCodes.has(code)) return undefined;
  const httpStatus = Number(trailer(error.metadata, statusTrailer));
  const type = trailer(error.metadata, typeTrailer);
  return new ServiceError(code as ErrorCode, error.details, {
    ...(Number.isInteger(httpStatus) && httpStatus >= 400 && httpStatus <= 599
      ? { status: httpStatus }
      : {}),
    ...(type === undefined ? {} : { type }),
    retryable: trailer(error.metadata, retryableTrailer) === 'true',
    cause: error,
  });
}

function transportFailure(message: string, cause: unknown): ServiceError {
  const failure = new ServiceError(ErrorCode.UpstreamUnavailable, message, {
    retryable: true,
    cause,
  });
  transportFailures.add(failure);
  return failure;
}

/** What a client call failed with, as a ServiceError; `signal` tells our cancel from theirs. */
export function errorFromCall(error: unknown, signal: AbortSignal): ServiceError {
  if (signal.aborted) return abortError(signal);
  if (ServiceError.isInstance(error)) return error;
  if (!isGrpcError(error)) {
    return new ServiceError(ErrorCode.Internal, 'Flight call failed', { cause: error });
  }
  const reported = reportedError(error);
  if (reported !== undefined) return reported;
  const details = error.details;
  switch (error.code) {
    case GrpcStatus.UNAVAILABLE:
      return transportFailure(`Flight peer unavailable: ${details}`, error);
    case GrpcStatus.CANCELLED:
      // We did not cancel (signal not aborted), so the peer did: it is shutting down.
      return transportFailure(`Flight peer cancelled the call: ${details}`, error);
    case GrpcStatus.UNAUTHENTICATED:
      return new ServiceError(
        ErrorCode.Internal,
        `Flight peer rejected the cluster secret: ${details}`,
        { cause: error },
      );
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new ServiceError(ErrorCode.Timeout, `Flight call timed out: ${details}`, {
        cause: error,
      });
    default:
      return new ServiceError(ErrorCode.Internal, `Flight call failed: ${details}`, {
        cause: error,
      });
  }
}

/** The error for a call we cancelled: the abort reason if it is one, else `canceled`/`timeout`. */
export function abortError(signal: AbortSignal): ServiceError {
  const reason: unknown = signal.reason;
  if (ServiceError.isInstance(reason)) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new ServiceError(ErrorCode.Timeout, 'The Flight call timed out', { cause: reason });
  }
  return new ServiceError(ErrorCode.Canceled, 'The Flight call was cancelled', { cause: reason });
}
