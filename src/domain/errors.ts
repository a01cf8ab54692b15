/**
 * The one error type of Sluice. Every failure that can reach a client is a `ServiceError` with a
 * code from the closed set below; edges (HTTP, upstream, store, Flight) convert once with
 * `ServiceError.from()` and never guess again.
 *
 * `type` is the OpenSearch exception name shown in the error body
 * (`{"error":{"root_cause":[{"type":…,"reason":…}],"type":…,"reason":…},"status":N}`) so ml-commons
 * clients that switch on it keep working.
 */

export const ErrorCode = {
  /** Malformed or invalid input from the caller. */
  BadRequest: 'bad_request',
  /** The caller may not do this (e.g. the model is disabled). */
  Forbidden: 'forbidden',
  NotFound: 'not_found',
  /** The request conflicts with stored state (e.g. deleting a connector that a model uses). */
  Conflict: 'conflict',
  PayloadTooLarge: 'payload_too_large',
  /** A rate limit of Sluice itself refused the call. */
  TooManyRequests: 'too_many_requests',
  /** The remote provider answered with an error status; `status` carries the provider's status. */
  Upstream: 'upstream',
  /** The remote provider could not be reached or broke the connection. */
  UpstreamUnavailable: 'upstream_unavailable',
  /** The remote provider sent something Sluice cannot decode. */
  UpstreamProtocol: 'upstream_protocol',
  /** A connect, first-token, idle or total deadline passed. */
  Timeout: 'timeout',
  /** The client went away; never reported to the client, only logged. */
  Canceled: 'canceled',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const defaultStatus: Record<ErrorCode, number> = {
  bad_request: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  too_many_requests: 429,
  upstream: 502,
  upstream_unavailable: 502,
  upstream_protocol: 502,
  timeout: 504,
  canceled: 499,
  internal: 500,
};

const defaultType: Record<ErrorCode, string> = {
  bad_request: 'illegal_argument_exception',
  forbidden: 'status_exception',
  not_found: 'status_exception',
  conflict: 'status_exception',
  payload_too_large: 'status_exception',
  too_many_requests: 'status_exception',
  upstream: 'status_exception',
  upstream_unavailable: 'status_exception',
  upstream_protocol: 'status_exception',
  timeout: 'status_exception',
  canceled: 'status_exception',
  internal: 'status_exception',
};

export interface ServiceErrorOptions {
  /** HTTP status to answer with; defaults from the code. */
  status?: number;
  /** OpenSearch exception type for the error body; defaults from the code. */
  type?: string;
  /** Whether trying the same call again may succeed (used by client_config retries). */
  retryable?: boolean;
  cause?: unknown;
}

const marker = Symbol.for('sluice.service-error');

export class ServiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  readonly retryable: boolean;
  readonly [marker] = true;

  constructor(code: ErrorCode, message: string, options: ServiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServiceError';
    this.code = code;
    this.status = options.status ?? defaultStatus[code];
    this.type = options.type ?? defaultType[code];
    this.retryable = options.retryable ?? false;
  }

  /** Works across duplicated module copies, unlike `instanceof`. */
  static isInstance(value: unknown): value is ServiceError {
    return typeof value === 'object' && value !== null && marker in value;
  }

  /**
   * Converts anything thrown into a ServiceError. Unknown errors become `internal` with a
   * generic message: their text may hold internals (paths, secrets), so it is not shown.
   */
  static from(value: unknown): ServiceError {
    if (ServiceError.isInstance(value)) return value;
    if (isAbortError(value)) {
      return new ServiceError(ErrorCode.Canceled, 'The request was cancelled', { cause: value });
    }
    return new ServiceError(ErrorCode.Internal, 'Internal error', { cause: value });
  }
}

export function isAbortError(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    'name' in value &&
    (value.name === 'AbortError' || value.name === 'TimeoutError')
  );
}

export const badRequest = (message: string, options?: ServiceErrorOptions): ServiceError =>
  new ServiceError(ErrorCode.BadRequest, message, options);

export const notFound = (message: string): ServiceError =>
  new ServiceError(ErrorCode.NotFound, message);
