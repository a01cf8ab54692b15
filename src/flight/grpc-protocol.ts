/**
 * The gRPC-over-HTTP/2 vocabulary both sides share (grpc/grpc `doc/PROTOCOL-HTTP2.md`): status
 * codes, the headers of a call, `grpc-message` percent-encoding, `grpc-timeout`, and the codes a
 * client derives when the peer sent no `grpc-status` (an HTTP error status, an RST_STREAM, a
 * lost connection).
 */
import { constants, type IncomingHttpHeaders } from 'node:http2';

/** gRPC status codes (`grpc/status.h`); an `as const` object so Node can strip the types. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatus = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** A call's outcome: code, message, and the other (text) trailers. */
export interface StatusObject {
  code: number;
  details: string;
  metadata: Readonly<Record<string, string>>;
}

/** How a client call fails: the status the peer sent, or the one derived from the transport. */
export class GrpcCallError extends Error {
  override readonly name = 'GrpcCallError';
  readonly code: number;
  readonly details: string;
  readonly metadata: Readonly<Record<string, string>>;

  constructor(status: StatusObject) {
    super(`${status.code} ${codeName(status.code)}: ${status.details}`);
    this.code = status.code;
    this.details = status.details;
    this.metadata = status.metadata;
  }
}

const codeNames = new Map<number, string>(
  Object.entries(GrpcStatus).map(([name, code]) => [code, name]),
);
export const codeName = (code: number): string => codeNames.get(code) ?? 'UNKNOWN';

export const grpcContentType = 'application/grpc';
/** The `+proto` form is what grpc-js and grpc C++ send; both accept either. */
export const grpcResponseContentType = 'application/grpc+proto';

/** `application/grpc`, optionally followed by `+<format>` or parameters. */
export function isGrpcContentType(value: string | undefined): boolean {
  if (value === undefined || !value.startsWith(grpcContentType)) return false;
  const next = value[grpcContentType.length];
  return next === undefined || next === '+' || next === ';';
}

/**
 * Headers that belong to the protocol rather than to the application, left out of the metadata
 * a handler or a status sees.
 */
const reservedHeaders = new Set([
  'content-type',
  'te',
  'user-agent',
  'grpc-status',
  'grpc-message',
  'grpc-timeout',
  'grpc-encoding',
  'grpc-accept-encoding',
]);

/** The text metadata in `headers`: no pseudo-headers, protocol headers or binary (`-bin`) keys. */
export function textMetadata(
  headers: IncomingHttpHeaders,
  exclude?: string,
): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(':') || key === exclude || reservedHeaders.has(key)) continue;
    if (key.endsWith('-bin') || typeof value !== 'string') continue;
    metadata[key] = value;
  }
  return metadata;
}

/**
 * `grpc-message` is percent-encoded UTF-8: bytes outside printable ASCII, and `%` itself, become
 * `%XX` (PROTOCOL-HTTP2, "Responses").
 */
export function encodeGrpcMessage(text: string): string {
  let plain = true;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x20 || code > 0x7e || code === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return text;
  let encoded = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    encoded +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(byte);
  }
  return encoded;
}

/** The inverse; a malformed escape is kept as it is, as the protocol asks of receivers. */
export function decodeGrpcMessage(encoded: string): string {
  if (!encoded.includes('%')) return encoded;
  const bytes: number[] = [];
  for (let index = 0; index < encoded.length; index++) {
    const code = encoded.charCodeAt(index);
    const hex = encoded.slice(index + 1, index + 3);
    if (code === 0x25 && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      index += 2;
    } else {
      bytes.push(...Buffer.from(encoded[index] ?? '', 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The trailers (or trailers-only headers) that carry `status`. */
export function statusHeaders(status: StatusObject): Record<string, string> {
  return {
    ...status.metadata,
    'grpc-status': String(status.code),
    'grpc-message': encodeGrpcMessage(status.details),
  };
}

/** Reads the status from trailers, or from the headers of a trailers-only response. */
export function statusFromHeaders(headers: IncomingHttpHeaders): StatusObject {
  const raw = headers['grpc-status'];
  const code = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : undefined;
  const message = headers['grpc-message'];
  return {
    code: code ?? GrpcStatus.UNKNOWN,
    details:
      code === undefined
        ? `Invalid or missing grpc-status: ${String(raw)}`
        : decodeGrpcMessage(typeof message === 'string' ? message : ''),
    // Only a failure's trailers are read (they carry the Sluice error); skip the work for OK.
    metadata: code === GrpcStatus.OK ? {} : textMetadata(headers),
  };
}

const timeoutUnitsMs: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/**
 * `grpc-timeout`: 1–8 digits and a unit (Hours, Minutes, Seconds, milli, micro, nano). Returns
 * milliseconds, `undefined` when absent, `NaN` when malformed.
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === 'string' ? /^(\d{1,8})([HMSmun])$/.exec(value) : null;
  const unit = timeoutUnitsMs[match?.[2] ?? ''];
  if (match === null || unit === undefined) return Number.NaN;
  return Number(match[1]) * unit;
}

/** What a client makes of a response whose HTTP status is not 200 (PROTOCOL-HTTP2 mapping). */
export function statusFromHttpStatus(httpStatus: number): StatusObject {
  return {
    code: httpStatusCode(httpStatus),
    details: `Received HTTP status ${httpStatus}`,
    metadata: {},
  };
}

function httpStatusCode(httpStatus: number): GrpcStatus {
  switch (httpStatus) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** What a client makes of a stream the peer reset without a status (PROTOCOL-HTTP2 "Errors"). */
export function statusFromResetCode(resetCode: number): StatusObject {
  return {
    code: resetStatusCode(resetCode),
    details: `Stream reset by the peer with code ${resetCode}`,
    metadata: {},
  };
}

function resetStatusCode(resetCode: number): GrpcStatus {
  switch (resetCode) {
    case constants.NGHTTP2_REFUSED_STREAM:
      return GrpcStatus.UNAVAILABLE;
    case constants.NGHTTP2_CANCEL:
      return GrpcStatus.CANCELLED;
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case constants.NGHTTP2_INADEQUATE_SECURITY:
      return GrpcStatus.PERMISSION_DENIED;
    default:
      return GrpcStatus.INTERNAL;
  }
}
