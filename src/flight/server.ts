/**
 * The ML node's Arrow Flight endpoint. `DoGet` streams the handler's parts as record batches of
 * the one stream-part schema: the schema message first, then one batch per group of parts the
 * handler yields, each written the moment it exists. `DoAction` runs a unary action.
 *
 * Every call must carry the cluster secret; a call without it gets UNAUTHENTICATED and never
 * reaches a handler. RPCs Sluice does not serve answer UNIMPLEMENTED. Cancelling a call (client
 * cancel, deadline, lost connection) aborts the handler's signal, which the caller wires to the
 * upstream LLM request. The gRPC transport is `http2-server.ts`.
 */
import type { StreamPart } from '../domain/stream-part.ts';
import { authorizationKey, createAuthorizationCheck } from './auth.ts';
import { frameMessage, messagePrefixBytes, writeMessagePrefix } from './grpc-framing.ts';
import { GrpcStatus, type StatusObject, textMetadata } from './grpc-protocol.ts';
import { type GrpcMethodHandler, type GrpcServerCall, startGrpcServer } from './http2-server.ts';
import { encodeSchemaMessage, type IpcMessage } from './ipc.ts';
import { encodePartsMessage } from './part-codec.ts';
import {
  type ActionType,
  decodeAction,
  decodeHandshake,
  decodeTicket,
  encodeActionType,
  encodeFlightData,
  encodeHandshake,
  encodeResult,
} from './protocol.ts';
import { streamPartSchema } from './record-batch.ts';
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

/**
 * A FlightData frame ready to write, prefix included, encoded without an extra copy. Batches of
 * parts are encoded by part-codec.ts (the fixed schema written directly, byte for byte what
 * apache-arrow writes, about 13× cheaper).
 */
const flightDataFrame = (message: IpcMessage): Buffer =>
  writeMessagePrefix(
    encodeFlightData(
      { dataHeader: message.header, appMetadata: empty, dataBody: message.body },
      messagePrefixBytes,
    ),
  );

const schemaFrame = flightDataFrame(encodeSchemaMessage(streamPartSchema));

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

  const implementations: Record<FlightMethodName, GrpcMethodHandler> = {
    DoGet: unary((call, request) => {
      streamParts(call, decodeTicket(request).ticket, handlers, report).catch((error: unknown) =>
        report(error, 'DoGet'),
      );
    }),

    DoAction: unary((call, request) => {
      const doAction = handlers.doAction;
      if (doAction === undefined) {
        call.end(unimplemented('DoAction'));
        return;
      }
      const { type, body } = decodeAction(request);
      // Called on `handlers` (it may be a class instance) and inside a promise, so that a
      // synchronous throw becomes an error status.
      Promise.resolve()
        .then(() => doAction.call(handlers, type, body, contextOf(call)))
        .then(
          async (result) => {
            if (await call.send(frameMessage(encodeResult({ body: result })))) call.end();
          },
          (error: unknown) => {
            if (call.done) return;
            report(error, 'DoAction');
            call.end(statusFromError(error));
          },
        );
    }),

    ListActions: unary((call) => {
      void (async () => {
        for (const action of options.actions ?? []) {
          if (!(await call.send(frameMessage(encodeActionType(action))))) return;
        }
        call.end();
      })();
    }),

    /**
     * Flight's authentication exchange. Sluice authenticates every call by its metadata, so this
     * only answers each request with an empty response (clients that always handshake first,
     * and Arrow's "write, read until end" token flow, both complete). The OK status goes out
     * after the client half-closes: ending earlier would lose the client's later messages, the
     * trap of DEPENDENCIES.md §2.4 G2 in another form.
     */
    Handshake: {
      requestStream: true,
      handle(call) {
        void (async () => {
          try {
            for await (const request of call.requests()) {
              const { protocolVersion } = decodeHandshake(request);
              const response = encodeHandshake({ protocolVersion, payload: empty });
              if (!(await call.send(frameMessage(response)))) return;
            }
            call.end();
          } catch (error) {
            call.end(statusFromError(error));
          }
        })();
      },
    },

    ListFlights: refuse('ListFlights'),
    DoPut: refuse('DoPut'),
    DoExchange: refuse('DoExchange'),
    GetFlightInfo: refuse('GetFlightInfo'),
    PollFlightInfo: refuse('PollFlightInfo'),
    GetSchema: refuse('GetSchema'),
  };

  const methods = new Map<string, GrpcMethodHandler>();
  for (const [name, implementation] of Object.entries(implementations)) {
    methods.set(flightService[name as FlightMethodName].path, implementation);
  }

  const server = await startGrpcServer({
    host: options.host,
    port: options.port,
    methods,
    authorize: isAuthorized,
    maxMessageBytes,
    // Ping clients so that a coordinator that vanished without closing its socket is noticed:
    // its calls are cancelled and their upstream LLM requests aborted.
    keepaliveTimeMs: 10_000,
    keepaliveTimeoutMs: 5_000,
  });

  return {
    port: server.port,
    close: ({ graceMs = 0 } = {}) => server.close(graceMs),
  };
}

/** A method whose request is one message; a request that does not decode fails the call. */
function unary(handle: (call: GrpcServerCall, request: Uint8Array) => void): GrpcMethodHandler {
  return {
    requestStream: false,
    handle(call, request) {
      try {
        handle(call, request ?? empty);
      } catch (error) {
        call.end(statusFromError(error));
      }
    },
  };
}

/** Protocol RPCs Sluice does not serve (listed so that they still ask for the secret first). */
function refuse(method: FlightMethodName): GrpcMethodHandler {
  return {
    // Answer at once, without waiting for a request stream that may never end.
    requestStream: true,
    handle: (call) => call.end(unimplemented(method)),
  };
}

const unimplemented = (method: string): StatusObject => ({
  code: GrpcStatus.UNIMPLEMENTED,
  details: `This Flight server does not implement ${method}`,
  metadata: {},
});

/** The handler's view of a call; the metadata is only worked out if a handler asks. */
const contextOf = (call: GrpcServerCall): FlightCallContext => ({
  signal: call.signal,
  get metadata() {
    return textMetadata(call.headers, authorizationKey);
  },
  peer: call.peer,
});

async function streamParts(
  call: GrpcServerCall,
  ticket: Uint8Array,
  handlers: FlightHandlers,
  report: (error: unknown, method: FlightMethodName) => void,
): Promise<void> {
  const { signal } = call;
  let iterator: AsyncIterator<StreamPart[]> | undefined;
  let exhausted = false;
  try {
    // The schema goes out before the handler runs, so the reader is ready for the first token.
    if (!(await call.send(schemaFrame))) return;
    iterator = handlers.doGet(ticket, contextOf(call))[Symbol.asyncIterator]();
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) {
        exhausted = true;
        break;
      }
      if (next.value.length === 0) continue;
      // `send` resolves at once unless the stream's buffer is full (a slow reader): then the
      // handler is not pulled again until it drains.
      if (!(await call.send(flightDataFrame(encodePartsMessage(next.value))))) break;
    }
    call.end();
  } catch (error) {
    exhausted = true;
    // After a cancel the handler fails with our abort; nobody is listening for that status.
    if (signal.aborted || call.done) return;
    report(error, 'DoGet');
    call.end(statusFromError(error));
  } finally {
    // Leaving early (cancelled): let the handler's finally blocks run and free the upstream.
    if (iterator !== undefined && !exhausted) {
      await iterator.return?.().catch(() => {});
    }
  }
}
