/**
 * node-postgres failures as ServiceErrors, converted once at the store's edge (habit 7).
 *
 * A store that cannot reach PostgreSQL (refused, reset, timed out, server restarting) fails the
 * call with a retryable 503: the pool opens a new connection on the next call, so retrying
 * later works once the server is back. Messages name the kind of failure, never the connection
 * string (it holds the password).
 *
 * SQLSTATEs: https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
import { badRequest, ErrorCode, ServiceError } from '../domain/errors.ts';

/** Node's socket and DNS errors that mean "the server cannot be reached right now". */
const networkCodes: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
};

/** Server-side SQLSTATEs of the same kind: the server is going away, coming up, or full. */
const unavailableStates: Record<string, string> = {
  '57P01': 'the server is shutting down',
  '57P02': 'the server crashed',
  '57P03': 'the server is starting up',
  '53300': 'too many connections',
};

/** Contention: trying the same call again normally succeeds. */
const busyStates: Record<string, string> = {
  '40001': 'serialization failure',
  '40P01': 'deadlock',
  '55P03': 'lock not available',
  '57014': 'statement cancelled',
};

/** node-postgres's own errors for a lost or never-made connection carry no code. */
const lostConnection =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection closed|Client was closed/i;

export function toServiceError(error: unknown): ServiceError {
  if (ServiceError.isInstance(error)) return error;
  const code = errorCode(error);
  const unavailable = unavailableReason(error, code);
  if (unavailable !== undefined) {
    return new ServiceError(
      ErrorCode.Internal,
      `The PostgreSQL store is unavailable: ${unavailable}; retry later`,
      { status: 503, retryable: true, cause: error },
    );
  }
  if (code !== undefined && busyStates[code] !== undefined) {
    return new ServiceError(
      ErrorCode.Internal,
      `The PostgreSQL store is busy: ${busyStates[code]}`,
      {
        status: 503,
        retryable: true,
        cause: error,
      },
    );
  }
  if (code === '22021' || code === '22P05') {
    // Only documents are stored as JSON text (which escapes NUL); plain text columns cannot
    // hold it.
    return badRequest('PostgreSQL cannot store text containing NUL characters', { cause: error });
  }
  if (code?.startsWith('28')) {
    return new ServiceError(ErrorCode.Internal, 'PostgreSQL refused the credentials of the store', {
      cause: error,
    });
  }
  return ServiceError.from(error);
}

/**
 * Whether the error came from a pooled connection that had already broken (the server ended it:
 * a restart, an administrator), as opposed to failing to connect. Another connection may well
 * work at once, so calls that are safe to repeat try again.
 */
export function isBrokenConnection(error: unknown): boolean {
  const code = errorCode(error);
  if (code === '57P01' || code === '57P02' || code === 'ECONNRESET' || code === 'EPIPE') {
    return true;
  }
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated unexpectedly|Client has encountered a connection error/.test(
    message,
  );
}

export function isUniqueViolation(error: unknown): boolean {
  return errorCode(error) === '23505';
}

/** The constraint or unique index a failed statement violated, as PostgreSQL names it. */
export function violatedConstraint(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('constraint' in error)) return undefined;
  return typeof error.constraint === 'string' ? error.constraint : undefined;
}

/** Whether the connection the error came from is still usable (a server-side SQL error). */
export function isStatementError(error: unknown): boolean {
  const code = errorCode(error);
  return (
    code !== undefined &&
    /^[0-9A-Z]{5}$/.test(code) &&
    unavailableReason(error, code) === undefined &&
    !code.startsWith('08')
  );
}

function unavailableReason(error: unknown, code: string | undefined): string | undefined {
  if (code !== undefined) {
    const known = networkCodes[code] ?? unavailableStates[code];
    if (known !== undefined) return `${known} (${code})`;
    if (code.startsWith('08')) return `connection failure (${code})`;
  }
  const message = error instanceof Error ? error.message : '';
  if (lostConnection.test(message)) {
    return /timeout/i.test(message) ? 'connection timed out' : 'connection lost';
  }
  return undefined;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  if ('code' in error && typeof error.code === 'string') return error.code;
  // Connecting to a name with several addresses (localhost → ::1, 127.0.0.1) fails with an
  // AggregateError of the per-address errors.
  if (error instanceof AggregateError) return errorCode(error.errors[0]);
  return undefined;
}

/** The text with every secret replaced, for messages that quote a driver's error. */
export function redact(text: string, secrets: readonly string[]): string {
  let redacted = text;
  for (const secret of secrets) {
    if (secret !== '') redacted = redacted.split(secret).join('***');
  }
  return redacted;
}
