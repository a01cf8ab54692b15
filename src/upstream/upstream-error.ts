/**
 * Turns what undici, the DNS resolver and TLS throw into ServiceErrors with messages that are safe
 * to show: a fixed phrase per failure kind, never the raw message (it can hold URLs with API keys
 * in the query string, or internal host names).
 */
import type { Readable } from 'node:stream';
import { ErrorCode, ServiceError } from '../domain/errors.ts';

/** The error to raise once the caller's signal fired, whatever the transport threw. */
export function cancellationError(signal: AbortSignal): ServiceError {
  const reason: unknown = signal.reason;
  if (ServiceError.isInstance(reason)) return reason;
  if (typeof reason === 'object' && reason !== null && 'name' in reason) {
    if (reason.name === 'TimeoutError') {
      return new ServiceError(ErrorCode.Timeout, 'The request timed out', { cause: reason });
    }
  }
  return new ServiceError(ErrorCode.Canceled, 'The request was cancelled', { cause: reason });
}

/** Limits that shape the timeout messages. */
export interface TimeoutLimits {
  connectMilliseconds: number;
  headersMilliseconds: number;
  bodyMilliseconds: number;
}

const connectionReasons: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  ENODATA: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EAI_FAIL: 'DNS lookup failed',
  UND_ERR_SOCKET: 'the remote side closed the connection',
  UND_ERR_CLOSED: 'the connection was closed',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'the response was cut short',
};

// Certificate problems are not transient: retrying cannot fix them.
const tlsCodes = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

function seconds(milliseconds: number): string {
  return `${Math.round(milliseconds / 100) / 10}s`;
}

/**
 * Maps a transport failure. Connection-level failures and connect timeouts are marked retryable
 * (nothing reached the provider, or the connection broke); read timeouts are not, since the
 * provider may have done (and billed) the work.
 */
export function toUpstreamError(error: unknown, limits: TimeoutLimits): ServiceError {
  if (ServiceError.isInstance(error)) return error;
  const code = errorCode(error) ?? '';
  const options = { cause: error };
  if (code === 'SLUICE_PRIVATE_ADDRESS') {
    return new ServiceError(ErrorCode.BadRequest, (error as Error).message, options);
  }
  if (code === 'UND_ERR_INVALID_ARG') {
    // undici refuses what cannot be sent (a header value with a line break from a template, an
    // unknown method): the connector's call is at fault, not the network.
    return new ServiceError(
      ErrorCode.BadRequest,
      'The remote call is not valid HTTP (check the connector method and headers)',
      options,
    );
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new ServiceError(
      ErrorCode.Timeout,
      `Connection to remote service timed out after ${seconds(limits.connectMilliseconds)}`,
      { ...options, retryable: true },
    );
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new ServiceError(
      ErrorCode.Timeout,
      `Remote service did not respond within ${seconds(limits.headersMilliseconds)}`,
      options,
    );
  }
  if (code === 'UND_ERR_BODY_TIMEOUT') {
    return new ServiceError(
      ErrorCode.Timeout,
      `Remote service sent no data for ${seconds(limits.bodyMilliseconds)}`,
      options,
    );
  }
  const reason = connectionReasons[code];
  if (reason !== undefined) {
    return new ServiceError(
      ErrorCode.UpstreamUnavailable,
      `Connection to remote service failed: ${reason}`,
      { ...options, retryable: true },
    );
  }
  if (tlsCodes.has(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL')) {
    return new ServiceError(
      ErrorCode.UpstreamUnavailable,
      `Connection to remote service failed: TLS error (${code})`,
      options,
    );
  }
  if (code.startsWith('HPE_')) {
    return new ServiceError(
      ErrorCode.UpstreamProtocol,
      'Remote service sent a malformed HTTP response',
      options,
    );
  }
  return new ServiceError(
    ErrorCode.UpstreamUnavailable,
    `Connection to remote service failed: ${/^[A-Z0-9_]+$/.test(code) ? code : 'network error'}`,
    options,
  );
}

/** A URL for messages: no user info, no query string, no fragment. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const hidden = parsed.search === '' ? '' : '?…';
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}${hidden}`;
  } catch {
    // Unparsable: cut at the first character that could start user info or a query.
    return url.split(/[?#@]/)[0] ?? '';
  }
}

const secretHeaders = new Set([
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'x-amz-security-token',
  'cookie',
]);

/**
 * Removes the call's secrets from text that came back from the provider. Some providers echo the
 * key they rejected; the error message is shown to clients and written to logs.
 */
export function redactSecrets(text: string, headers: Record<string, string>): string {
  let result = text;
  for (const [name, value] of Object.entries(headers)) {
    if (!secretHeaders.has(name.toLowerCase())) continue;
    const token = value.replace(/^(Bearer|Basic|AWS4-HMAC-SHA256)\s+/i, '').trim();
    for (const secret of [value.trim(), token]) {
      // Short values (a stray "x") would shred the message while protecting nothing.
      if (secret.length >= 8) result = result.split(secret).join('***');
    }
  }
  return result;
}

// Enough of a provider's error body to explain it, without relaying a huge page.
const errorBodyReadBytes = 64 * 1024;
const errorMessageChars = 4000;

/**
 * Destroys a response body, which closes its socket unless the body was read to the end. The
 * error undici emits for the early destroy is expected, so it must not become an uncaught one.
 */
export function releaseBody(body: Readable): void {
  body.on('error', ignore);
  body.destroy();
}

function ignore(): void {}

/** A non-2xx answer whose body explains it; `release` closes it. */
export interface ErrorResponse {
  statusCode: number;
  body: AsyncIterable<Uint8Array>;
  release(): void;
}

/**
 * ServiceError(upstream) for a non-2xx answer, carrying the provider's status and the start of
 * its body. A provider that sends error headers and then stalls must not hold the call, hence
 * the timer; the rest of the body is dropped with the socket.
 */
export async function providerError(
  response: ErrorResponse,
  sentHeaders: Record<string, string>,
  timeoutMilliseconds: number,
  signal: AbortSignal,
): Promise<ServiceError> {
  const { body, statusCode } = response;
  const timer =
    timeoutMilliseconds > 0 ? setTimeout(() => response.release(), timeoutMilliseconds) : undefined;
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= errorBodyReadBytes) break;
    }
  } catch {
    // A broken error body still yields what arrived; the status tells the story.
  } finally {
    clearTimeout(timer);
    response.release();
  }
  if (signal.aborted) return cancellationError(signal);
  const text = redactSecrets(Buffer.concat(chunks).toString('utf8'), sentHeaders);
  const shown = text.length > errorMessageChars ? `${text.slice(0, errorMessageChars)}…` : text;
  return new ServiceError(ErrorCode.Upstream, `Error from remote service: ${shown}`, {
    // A redirect is no client error of ours: report it as a bad gateway.
    status: statusCode >= 400 ? statusCode : 502,
    retryable: statusCode === 429 || statusCode >= 500,
  });
}
