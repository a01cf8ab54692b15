/**
 * `arrow.flight.protocol.FlightService`: every RPC of the protocol with its path and the
 * serializers of `protocol.ts`. Methods Sluice does not implement carry their messages as opaque
 * bytes: they are never read. The shape is grpc-js's `MethodDefinition`, so the tests can hand
 * these definitions to grpc-js, an independent gRPC implementation, as client and as server.
 */
import {
  type Action,
  type ActionType,
  decodeAction,
  decodeActionType,
  decodeEmpty,
  decodeFlightData,
  decodeHandshake,
  decodeResult,
  decodeTicket,
  encodeAction,
  encodeActionType,
  encodeEmpty,
  encodeFlightData,
  encodeHandshake,
  encodeResult,
  encodeTicket,
  type FlightData,
  type Handshake,
  type Result,
  type Ticket,
} from './protocol.ts';

const servicePath = '/arrow.flight.protocol.FlightService';

interface Codec<Message> {
  encode: (message: Message) => Buffer;
  decode: (bytes: Buffer) => Message;
}

export interface FlightMethod<Request, Response> {
  /** `/arrow.flight.protocol.FlightService/<Method>`, the HTTP/2 `:path` of a call. */
  path: string;
  originalName: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize: (message: Request) => Buffer;
  requestDeserialize: (bytes: Buffer) => Request;
  responseSerialize: (message: Response) => Buffer;
  responseDeserialize: (bytes: Buffer) => Response;
}

const codecs = {
  flightData: { encode: encodeFlightData, decode: decodeFlightData },
  ticket: { encode: encodeTicket, decode: decodeTicket },
  action: { encode: encodeAction, decode: decodeAction },
  result: { encode: encodeResult, decode: decodeResult },
  actionType: { encode: encodeActionType, decode: decodeActionType },
  handshake: { encode: encodeHandshake, decode: decodeHandshake },
  empty: { encode: encodeEmpty, decode: decodeEmpty },
  opaque: { encode: (bytes: Buffer) => bytes, decode: (bytes: Buffer) => bytes },
};

function method<Request, Response>(
  name: string,
  requestStream: boolean,
  responseStream: boolean,
  request: Codec<Request>,
  response: Codec<Response>,
): FlightMethod<Request, Response> {
  return {
    path: `${servicePath}/${name}`,
    originalName: name,
    requestStream,
    responseStream,
    requestSerialize: request.encode,
    requestDeserialize: request.decode,
    responseSerialize: response.encode,
    responseDeserialize: response.decode,
  };
}

export const flightService = {
  Handshake: method<Handshake, Handshake>(
    'Handshake',
    true,
    true,
    codecs.handshake,
    codecs.handshake,
  ),
  ListFlights: method<Buffer, Buffer>('ListFlights', false, true, codecs.opaque, codecs.opaque),
  GetFlightInfo: method<Buffer, Buffer>(
    'GetFlightInfo',
    false,
    false,
    codecs.opaque,
    codecs.opaque,
  ),
  PollFlightInfo: method<Buffer, Buffer>(
    'PollFlightInfo',
    false,
    false,
    codecs.opaque,
    codecs.opaque,
  ),
  GetSchema: method<Buffer, Buffer>('GetSchema', false, false, codecs.opaque, codecs.opaque),
  DoGet: method<Ticket, FlightData>('DoGet', false, true, codecs.ticket, codecs.flightData),
  DoPut: method<Buffer, Buffer>('DoPut', true, true, codecs.opaque, codecs.opaque),
  DoExchange: method<Buffer, Buffer>('DoExchange', true, true, codecs.opaque, codecs.opaque),
  DoAction: method<Action, Result>('DoAction', false, true, codecs.action, codecs.result),
  ListActions: method<Record<string, never>, ActionType>(
    'ListActions',
    false,
    true,
    codecs.empty,
    codecs.actionType,
  ),
} as const;

export type FlightMethodName = keyof typeof flightService;
