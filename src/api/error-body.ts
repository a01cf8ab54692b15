/**
 * The one place errors become HTTP answers: OpenSearch's error shape
 * `{"error":{"root_cause":[{"type","reason"}],"type","reason"},"status":N}`, which ml-commons
 * clients parse.
 */
import { ErrorCode, ServiceError } from '../domain/errors.ts';

export interface ErrorBody {
  error: { root_cause: Array<{ type: string; reason: string }>; type: string; reason: string };
  status: number;
}

export function errorBody(error: ServiceError): ErrorBody {
  const cause = { type: error.type, reason: error.message };
  return { error: { root_cause: [cause], ...cause }, status: error.status };
}

interface FrameworkError {
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  message?: unknown;
}

/**
 * Converts what the HTTP framework throws (body parsing, validation, size limits) into a
 * ServiceError with a clear 4xx; anything else is an internal error whose text is not shown.
 */
export function fromFrameworkError(error: unknown): ServiceError {
  if (ServiceError.isInstance(error)) return error;
  const framework = (typeof error === 'object' && error !== null ? error : {}) as FrameworkError;
  const message = typeof framework.message === 'string' ? framework.message : 'Bad request';
  if (framework.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new ServiceError(
      ErrorCode.PayloadTooLarge,
      'The request body is larger than the configured limit (SLUICE_MAX_BODY_BYTES)',
      {
        type: 'content_too_long_exception',
      },
    );
  }
  if (framework.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return new ServiceError(
      ErrorCode.BadRequest,
      'The request body is empty; a JSON object is expected',
      {
        type: 'parse_exception',
      },
    );
  }
  if (framework.validation !== undefined) {
    return new ServiceError(ErrorCode.BadRequest, message, { type: 'illegal_argument_exception' });
  }
  if (error instanceof SyntaxError || framework.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new ServiceError(
      ErrorCode.BadRequest,
      `Failed to parse the request body as JSON: ${message}`,
      {
        type: 'parse_exception',
      },
    );
  }
  if (
    typeof framework.statusCode === 'number' &&
    framework.statusCode >= 400 &&
    framework.statusCode < 500
  ) {
    return new ServiceError(ErrorCode.BadRequest, message, {
      status: framework.statusCode,
      type: 'status_exception',
    });
  }
  return ServiceError.from(error);
}
