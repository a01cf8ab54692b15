/**
 * The ML node's Arrow Flight endpoint. `DoGet` streams the handler's parts as record batches of
 * the one stream-part schema: the schema message first, then one batch per group of parts the
 * handler yields, each written the moment it exists. `DoAction` runs a unary action.
 *
 * Every call must carry the cluster secret; a call without it gets UNAUTHENTICATED and never
 * reaches a handler. RPCs Sluice does not serve answer UNIMPLEMENTED. Cancelling a call (client
 * cancel, deadline, lost connection) aborts the handler's signal, which the caller wires to the
 * upstream LLM request.
 */
import {
  type Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type StatusObject,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import type { StreamPart } from '../domain/stream-part.ts';
import { authorizationKey, createAuthorizationCheck } from './auth.ts';
import { encodeRecordBatchMessage, encodeSchemaMessage } from './ipc.ts';
import type { Action, ActionType, FlightData, Handshake, Result, Ticket } from './protocol.ts';
import { partsToRecordBatch, streamPartSchema } from './record-batch.ts';
import { type FlightMethodName, flightService } from './service.ts';
import { statusFromError } from './status.ts';

export interface FlightCallContext {
  /** Aborted when the call is cancelled, times out, or loses its connection. */
  signal: AbortSignal;
  /** The call's text metadata (gRPC headers), without `authorization`. */
  metadata: Readonly<Record<string, string>>;
  /** The caller's address, for logs. */
  peer: string;
}

export interface FlightHandlers {
  /** Each yielded array becomes one record batch; empty arrays are skipped. */
  doGet(ticket: Uint8Array, context: FlightCallContext): AsyncIterable<StreamPart[]>;
  doAction?(type: string, body: Uint8Array, context: FlightCallContext): Promise<Uint8Array>;
}

export interface FlightServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  clusterSecret: string;
  handlers: FlightHandlers;
  /** What ListActions reports; describe the types `doAction` accepts. */
  actions?: readonly ActionType[];
  /** Told about handler failures (the client only sees their safe message). */
  onError?: (error: unknown, method: FlightMethodName) => void;
}

export interface FlightServer {
  port: number;
  /**
   * Stops the server. In-flight calls are cancelled (their handlers' signals abort) at once, or
   * after `graceMs` if they have not finished by then.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** Tickets carry whole prediction requests (prompts, images): allow more than gRPC's 4 MiB. */
const maxMessageBytes = 64 * 1024 * 1024;
const empty = new Uint8Array(0);
const schemaMessage = encodeSchemaMessage(streamPartSchema);
const schemaData: FlightData = {
  dataHeader: schemaMessage.header,
  appMetadata: empty,
  dataBody: schemaMessage.body,
};

/** What authorizing or refusing a streaming call needs from it. */
interface StreamCall {
  metadata: Metadata;
  emit(event: 'error', status: Partial<StatusObject>): boolean;
}

/** What cancellation and the handler context need from any server call. */
interface ServerCall {
  cancelled: boolean;
  metadata: Metadata;
  getPeer(): string;
  on(event: 'cancelled', listener: () => void): unknown;
  off(event: 'cancelled', listener: () => void): unknown;
}

export async function startFlightServer(options: FlightServerOptions): Promise<FlightServer> {
  const isAuthorized = createAuthorizationCheck(options.clusterSecret);
  const { handlers } = options;
  const report = (error: unknown, method: FlightMethodName) => {
    try {
      options.onError?.(error, method);
    } catch {
      // A failing logger must not take the call down with it.
    }
  };

  /** Refuses a call without the secret; grpc-js sends a stream's status on 'error'. */
  const authorize = (call: StreamCall) => {
    if (isAuthorized(call.metadata)) return true;
    call.emit('error', unauthenticated);
    return false;
  };

  const implementation = {
    DoGet(call: ServerWritableStream<Ticket, FlightData>) {
      if (!authorize(call)) return;
      streamParts(call, handlers, report).catch((error: unknown) => report(error, 'DoGet'));
    },

    DoAction(call: ServerWritableStream<Action, Result>) {
      if (!authorize(call)) return;
      if (handlers.doAction === undefined) {
        call.emit('error', unimplemented('DoAction'));
        return;
      }
      const { signal, release } = cancellationOf(call);
      const { type, body } = call.request;
      // Called on `handlers` (it may be a class instance) and inside a promise, so that a
      // synchronous throw becomes an error status rather than an exception inside grpc-js.
      Promise.resolve()
        .then(() => handlers.doAction?.(type, body, contextOf(call, signal)) ?? empty)
        .then(
          (result) => {
            release();
            if (signal.aborted) return;
            call.write({ body: result });
            call.end();
          },
          (error: unknown) => {
            release();
            if (signal.aborted) return;
            report(error, 'DoAction');
            call.emit('error', statusFromError(error));
          },
        );
    },

    ListActions(call: ServerWritableStream<Record<string, never>, ActionType>) {
      if (!authorize(call)) return;
      for (const action of options.actions ?? []) call.write(action);
      call.end();
    },

    /**
     * Flight's authentication exchange. Sluice authenticates every call by its metadata, so this
     * only answers each request with an empty response (clients that always handshake first,
     * and Arrow's "write, read until end" token flow, both complete). The duplex is iterated
     * with `destroyOnReturn: false`: a plain `for await` destroys the call when the loop ends, and
     * the final `end()` (the OK status) would silently vanish (DEPENDENCIES.md §2.4 G2).
     */
    Handshake(call: ServerDuplexStream<Handshake, Handshake>) {
      if (!authorize(call)) return;
      void (async () => {
        try {
          for await (const request of call.iterator({ destroyOnReturn: false })) {
            const handshake = request as Handshake;
            call.write({ protocolVersion: handshake.protocolVersion, payload: empty });
          }
          call.end();
        } catch (error) {
          if (!call.cancelled) call.emit('error', statusFromError(error));
        }
      })();
    },

    ListFlights: refuseStream('ListFlights'),
    DoPut: refuseStream('DoPut'),
    DoExchange: refuseStream('DoExchange'),
    GetFlightInfo: refuseUnary('GetFlightInfo'),
    PollFlightInfo: refuseUnary('PollFlightInfo'),
    GetSchema: refuseUnary('GetSchema'),
  };

  function refuseStream(method: FlightMethodName) {
    return (call: StreamCall) => {
      if (authorize(call)) call.emit('error', unimplemented(method));
    };
  }

  function refuseUnary(method: FlightMethodName) {
    return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      callback(isAuthorized(call.metadata) ? unimplemented(method) : unauthenticated);
    };
  }

  const server = new Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    // Ping clients so that a coordinator that vanished without closing its socket is noticed:
    // its calls are cancelled and their upstream LLM requests aborted.
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
  });
  server.addService(flightService, implementation);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${formatHost(options.host)}:${options.port}`,
      ServerCredentials.createInsecure(),
      (error, boundPort) => (error === null ? resolve(boundPort) : reject(error)),
    );
  });

  return {
    port,
    close: ({ graceMs = 0 } = {}) =>
      new Promise<void>((resolve) => {
        if (graceMs <= 0) {
          server.forceShutdown();
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

const unauthenticated: Partial<StatusObject> = {
  code: status.UNAUTHENTICATED,
  details: 'Missing or wrong cluster secret',
};

const unimplemented = (method: string): Partial<StatusObject> => ({
  code: status.UNIMPLEMENTED,
  details: `This Flight server does not implement ${method}`,
});

/** IPv6 literals need brackets in a gRPC target. */
const formatHost = (host: string): string =>
  host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;

function textMetadata(metadata: Metadata): Record<string, string> {
  const text: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (key !== authorizationKey && typeof value === 'string') text[key] = value;
  }
  return text;
}

const contextOf = (call: ServerCall, signal: AbortSignal): FlightCallContext => ({
  signal,
  metadata: textMetadata(call.metadata),
  peer: call.getPeer(),
});

/** An AbortSignal that follows the call's 'cancelled' event; `release` stops listening. */
function cancellationOf(call: ServerCall): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onCancelled = () =>
    controller.abort(new DOMException('The Flight call was cancelled', 'AbortError'));
  call.on('cancelled', onCancelled);
  if (call.cancelled) onCancelled();
  return { signal: controller.signal, release: () => call.off('cancelled', onCancelled) };
}

/**
 * Writes one message, then waits for 'drain' if grpc-js says its buffer is full: a slow reader
 * must slow down the handler (and through it the upstream), not grow this process's memory.
 * Returns false once the call is cancelled.
 */
async function write(
  call: ServerWritableStream<Ticket, FlightData>,
  data: FlightData,
  signal: AbortSignal,
): Promise<boolean> {
  if (signal.aborted) return false;
  if (call.write(data)) return true;
  await new Promise<void>((resolve) => {
    const done = () => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.on('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
  return !signal.aborted;
}

async function streamParts(
  call: ServerWritableStream<Ticket, FlightData>,
  handlers: FlightHandlers,
  report: (error: unknown, method: FlightMethodName) => void,
): Promise<void> {
  const { signal, release } = cancellationOf(call);
  let iterator: AsyncIterator<StreamPart[]> | undefined;
  let exhausted = false;
  try {
    // The schema goes out before the handler runs, so the reader is ready for the first token.
    if (!(await write(call, schemaData, signal))) return;
    iterator = handlers.doGet(call.request.ticket, contextOf(call, signal))[Symbol.asyncIterator]();
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) {
        exhausted = true;
        break;
      }
      if (next.value.length === 0) continue;
      const message = encodeRecordBatchMessage(partsToRecordBatch(next.value));
      const data = { dataHeader: message.header, appMetadata: empty, dataBody: message.body };
      if (!(await write(call, data, signal))) break;
    }
    if (!signal.aborted) call.end();
  } catch (error) {
    exhausted = true;
    // After a cancel the handler fails with our abort; nobody is listening for that status.
    if (signal.aborted) return;
    report(error, 'DoGet');
    call.emit('error', statusFromError(error));
  } finally {
    release();
    // Leaving early (cancelled): let the handler's finally blocks run and free the upstream.
    if (iterator !== undefined && !exhausted) {
      await iterator.return?.().catch(() => {});
    }
  }
}
