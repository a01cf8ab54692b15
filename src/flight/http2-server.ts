/**
 * A small gRPC server directly on `node:http2`, speaking gRPC over HTTP/2 (grpc/grpc
 * `doc/PROTOCOL-HTTP2.md`) for the handful of RPC shapes Flight needs. It replaces grpc-js,
 * whose per-call machinery (interceptors, metadata objects, channelz, filters) was the largest
 * cost of the cluster hop (docs/benchmarks.md, finding 7).
 *
 * Per call: a POST with `content-type: application/grpc` is authorized before anything else
 * (refused: UNAUTHENTICATED, trailers-only), routed by `:path` (unknown: UNIMPLEMENTED), and
 * gets a deadline from `grpc-timeout`. Responses are length-prefixed messages after `:status 200`
 * headers, and the status goes in trailers (`grpc-status`, percent-encoded `grpc-message`); a
 * call that fails before its first message answers with one trailers-only HEADERS frame.
 */
import http2, {
  constants,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { createMessageDecoder, GrpcFramingError } from './grpc-framing.ts';
import {
  GrpcStatus,
  grpcResponseContentType,
  isGrpcContentType,
  parseGrpcTimeout,
  type StatusObject,
  statusHeaders,
} from './grpc-protocol.ts';
import { keepSessionAlive } from './http2-keepalive.ts';
import { MessageQueue } from './message-queue.ts';

export interface GrpcMethodHandler {
  /**
   * False: the request is exactly one message, read in full before `handle` runs and passed to
   * it. True: `handle` runs at once and reads the messages from `call.requests()`.
   */
  requestStream: boolean;
  handle(call: GrpcServerCall, request: Uint8Array | undefined): void;
}

export interface GrpcServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** By `:path`, e.g. `/arrow.flight.protocol.FlightService/DoGet`. */
  methods: ReadonlyMap<string, GrpcMethodHandler>;
  /**
   * Checked first; a refused call gets UNAUTHENTICATED and reaches no handler. Once a connection
   * has been authorized with an `authorization` value, later calls on it that carry the same
   * value skip the check: they can only come from the peer that already proved it (the check
   * hashes the secret, a few µs per call).
   */
  authorize(headers: IncomingHttpHeaders): boolean;
  maxMessageBytes: number;
  /** Ping each connection this often; destroy it when a ping is not answered in time. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
}

export interface GrpcServer {
  port: number;
  /** Refuses new connections; cancels calls still running after `graceMs` (0: at once). */
  close(graceMs: number): Promise<void>;
}

const okStatus: StatusObject = { code: GrpcStatus.OK, details: '', metadata: {} };
const okTrailers = statusHeaders(okStatus);
const responseHeaders = {
  [constants.HTTP2_HEADER_STATUS]: 200,
  [constants.HTTP2_HEADER_CONTENT_TYPE]: grpcResponseContentType,
  'grpc-accept-encoding': 'identity',
};
const resolvedTrue = Promise.resolve(true);
const resolvedFalse = Promise.resolve(false);

/** One call on the server: its signal, its request stream, and the writing of its response. */
export class GrpcServerCall {
  readonly headers: IncomingHttpHeaders;
  /** The caller's address, for logs. */
  readonly peer: string;
  readonly #stream: ServerHttp2Stream;
  readonly #controller = new AbortController();
  #responded = false;
  #done = false;
  #requestEnded = false;
  #trailers: Record<string, string> | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #requests: MessageQueue | undefined;

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, peer: string) {
    this.#stream = stream;
    this.headers = headers;
    this.peer = peer;
    stream.on('close', () => {
      clearTimeout(this.#deadline);
      if (this.#done) return;
      // Closed before we gave a status: the client cancelled, or the connection is gone.
      this.#done = true;
      this.#abort(new DOMException('The Flight call was cancelled', 'AbortError'));
    });
  }

  /** Aborted when the call is cancelled, passes its deadline, or loses its connection. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True once a status was given or the call was cancelled. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Writes one framed message. Resolves true when the caller may write the next one: at once,
   * or once the stream has drained if its buffer is full, so that a slow reader slows down the
   * producer instead of growing memory. Resolves false once the call is over.
   */
  send(frame: Buffer): Promise<boolean> {
    // `destroyed` comes a tick before 'close' (a reset just arrived): writing then would throw.
    if (this.#done || this.#stream.destroyed) return resolvedFalse;
    this.#respond();
    if (this.#stream.write(frame)) return resolvedTrue;
    return new Promise((resolve) => {
      const stream = this.#stream;
      const signal = this.#controller.signal;
      const settle = () => {
        stream.off('drain', settle);
        signal.removeEventListener('abort', settle);
        resolve(!this.#done);
      };
      stream.on('drain', settle);
      signal.addEventListener('abort', settle, { once: true });
    });
  }

  /** Ends the call with `status` (OK by default); later calls do nothing. */
  end(status: StatusObject = okStatus): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#deadline);
    this.#requests?.finish(undefined, true);
    const stream = this.#stream;
    if (stream.destroyed) return;
    if (this.#responded) {
      this.#trailers = status === okStatus ? okTrailers : statusHeaders(status);
      stream.end();
    } else {
      this.#responded = true;
      stream.respond({ ...responseHeaders, ...statusHeaders(status) }, { endStream: true });
    }
    // A client still sending gets no RST_STREAM (on Node 22 one sent right after a trailers-only
    // response can overtake it, and the client never sees the status): the rest of its request
    // is read and dropped until it half-closes, which gRPC clients do once they have the status.
    if (!this.#requestEnded) stream.resume();
  }

  /** The request messages as they arrive, for methods with `requestStream`. */
  async *requests(): AsyncGenerator<Uint8Array, void, void> {
    const queue = this.#requests;
    if (queue === undefined) return;
    for (;;) {
      const message = await queue.read();
      if (message === undefined) return;
      yield message;
    }
  }

  /** Reads the request; `onComplete` gets the single message of a unary request. */
  readRequest(
    requestStream: boolean,
    maxMessageBytes: number,
    onComplete: (request: Uint8Array | undefined) => void,
  ): void {
    const stream = this.#stream;
    let request: Uint8Array | undefined;
    let count = 0;
    const queue = requestStream ? new MessageQueue(stream) : undefined;
    this.#requests = queue;
    const decoder = createMessageDecoder((message) => {
      count += 1;
      if (queue !== undefined) queue.push(message);
      else request = message;
    }, maxMessageBytes);
    stream.on('data', (chunk: Buffer) => {
      if (this.#done) return;
      try {
        decoder.push(chunk);
      } catch (error) {
        const code = error instanceof GrpcFramingError ? error.code : GrpcStatus.INTERNAL;
        this.#abort(error);
        this.end({ code, details: (error as Error).message, metadata: {} });
      }
    });
    stream.on('end', () => {
      this.#requestEnded = true;
      if (this.#done) return;
      if (!decoder.idle) {
        this.end({ code: GrpcStatus.INTERNAL, details: 'Request ended mid-message', metadata: {} });
      } else if (queue !== undefined) {
        queue.finish();
      } else if (count !== 1) {
        const details = `Expected one request message, received ${count}`;
        this.end({ code: GrpcStatus.UNIMPLEMENTED, details, metadata: {} });
      } else {
        onComplete(request);
      }
    });
    if (queue !== undefined) onComplete(undefined);
  }

  /** Applies `grpc-timeout`; false (and the call ended) when the header is malformed. */
  startDeadline(): boolean {
    const timeoutMs = parseGrpcTimeout(this.headers['grpc-timeout']);
    if (timeoutMs === undefined) return true;
    if (Number.isNaN(timeoutMs)) {
      const details = `Invalid grpc-timeout value "${String(this.headers['grpc-timeout'])}"`;
      this.end({ code: GrpcStatus.INTERNAL, details, metadata: {} });
      return false;
    }
    this.#deadline = setTimeout(
      () => {
        this.#abort(new DOMException('The Flight call passed its deadline', 'TimeoutError'));
        this.end({
          code: GrpcStatus.DEADLINE_EXCEEDED,
          details: 'Deadline exceeded',
          metadata: {},
        });
      },
      Math.min(timeoutMs, 2 ** 31 - 1),
    );
    return true;
  }

  /** Called by the stream's 'wantTrailers'. */
  sendTrailers(): void {
    const stream = this.#stream;
    if (!stream.destroyed) stream.sendTrailers(this.#trailers ?? okTrailers);
  }

  #respond(): void {
    if (this.#responded) return;
    this.#responded = true;
    this.#stream.respond(responseHeaders, { waitForTrailers: true });
  }

  #abort(reason: unknown): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const server = http2.createServer({
    // Node's default (10 MB) counts every stream's queued output; past it Node refuses new
    // streams with ENHANCE_YOUR_CALM. Flow control and `send`'s wait for 'drain' bound the
    // memory a call holds, so the session-wide cap only gets in the way (grpc-js disables it too).
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
  });
  const sessions = new Set<ServerHttp2Session>();
  server.on('connection', (socket: Socket) => socket.setNoDelay(true));
  const connections = new WeakMap<ServerHttp2Session, Connection>();
  server.on('session', (session) => {
    sessions.add(session);
    connections.set(session, { peer: peerOf(session.socket), authorized: undefined });
    // Errors end the session (and so its calls); they must not crash the process.
    session.on('error', () => {});
    const stopKeepalive = keepSessionAlive(session, options);
    session.once('close', () => {
      stopKeepalive();
      sessions.delete(session);
    });
  });
  server.on('sessionError', () => {});
  server.on('stream', (stream, headers) => {
    const connection = connections.get(stream.session as ServerHttp2Session);
    onStream(stream, headers, connection ?? { peer: 'unknown', authorized: undefined }, options);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    port,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        const destroyAll = () => {
          for (const session of sessions) session.destroy();
        };
        if (graceMs <= 0) {
          destroyAll();
          return;
        }
        // GOAWAY: running calls go on, new ones are refused; whatever still runs at the end
        // of the grace period is cancelled with its connection.
        for (const session of sessions) session.close();
        timer = setTimeout(destroyAll, graceMs);
      }),
  };
}

const peerOf = (socket: {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
}) => {
  const address = socket.remoteAddress ?? 'unknown';
  return `${address.includes(':') ? `[${address}]` : address}:${socket.remotePort ?? 0}`;
};

/** What the server knows about one connection. */
interface Connection {
  /** The peer's address, worked out once rather than per call. */
  peer: string;
  /** The `authorization` value this connection has proved (see `authorize`). */
  authorized: string | undefined;
}

function isAuthorized(
  headers: IncomingHttpHeaders,
  connection: Connection,
  options: GrpcServerOptions,
): boolean {
  const value = headers.authorization;
  if (value !== undefined && value === connection.authorized) return true;
  if (!options.authorize(headers)) return false;
  connection.authorized = value;
  return true;
}

function onStream(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  connection: Connection,
  options: GrpcServerOptions,
): void {
  // Stream errors (a reset, a lost connection) surface as 'close'; unhandled they would throw.
  stream.on('error', () => {});
  const contentType = headers[constants.HTTP2_HEADER_CONTENT_TYPE];
  if (
    headers[constants.HTTP2_HEADER_METHOD] !== 'POST' ||
    typeof contentType !== 'string' ||
    !isGrpcContentType(contentType)
  ) {
    // Not a gRPC request at all (PROTOCOL-HTTP2: 415 for a wrong content type).
    stream.respond({ [constants.HTTP2_HEADER_STATUS]: 415 }, { endStream: true });
    stream.resume();
    return;
  }
  const call = new GrpcServerCall(stream, headers, connection.peer);
  stream.on('wantTrailers', () => call.sendTrailers());
  if (!isAuthorized(headers, connection, options)) {
    call.end(refused);
    return;
  }
  const path = String(headers[constants.HTTP2_HEADER_PATH] ?? '');
  const method = options.methods.get(path);
  if (method === undefined) {
    call.end({
      code: GrpcStatus.UNIMPLEMENTED,
      details: `Method not found: ${path}`,
      metadata: {},
    });
    return;
  }
  if (!call.startDeadline()) return;
  call.readRequest(method.requestStream, options.maxMessageBytes, (request) => {
    try {
      method.handle(call, request);
    } catch {
      // Handlers report their own failures (server.ts); this only keeps a bug from escaping
      // into Node's HTTP/2 event handlers, where it would take the process down.
      call.end({ code: GrpcStatus.INTERNAL, details: 'Internal error', metadata: {} });
    }
  });
}

const refused: StatusObject = {
  code: GrpcStatus.UNAUTHENTICATED,
  details: 'Missing or wrong cluster secret',
  metadata: {},
};
