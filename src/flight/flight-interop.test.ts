/**
 * Interop with grpc-js, an independent gRPC implementation, both ways: grpc-js as the client of
 * our server (DoGet, DoAction, errors, unknown methods, cancellation) and as the server for our
 * FlightClient. Together with pyarrow.test.ts (Arrow C++ as client) this is what shows the
 * hand-written transport speaks standard gRPC over HTTP/2. (ListActions, Handshake and refused
 * secrets through grpc-js are in flight-rpcs.test.ts.)
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import {
  type ServiceError as GrpcServiceError,
  Metadata,
  Server,
  ServerCredentials,
  type ServerWritableStream,
  status,
} from '@grpc/grpc-js';
import { badRequest, ErrorCode, ServiceError } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import {
  authorized,
  collect,
  deferred,
  everyKind,
  type Harness,
  never,
  secret,
  startHarness,
  within,
} from './__fixtures__/harness.ts';
import { FlightClient } from './client.ts';
import { encodeRecordBatchMessage, encodeSchemaMessage, FlightStreamDecoder } from './ipc.ts';
import type { Action, FlightData, Result, Ticket } from './protocol.ts';
import {
  assertStreamPartSchema,
  partsToRecordBatch,
  recordBatchToParts,
  streamPartSchema,
} from './record-batch.ts';
import { flightService } from './service.ts';
import { statusFromError } from './status.ts';

const ticketOf = (text: string) => new TextEncoder().encode(text);
const empty = new Uint8Array(0);

describe('grpc-js client → our server', () => {
  const cancelled = deferred<unknown>();
  let harness: Harness;
  const started = startHarness({
    async *doGet(ticket, context) {
      const text = new TextDecoder().decode(ticket);
      if (text === 'fail') throw badRequest('Modèle « m1 » introuvable: 100% sûr\nligne 2');
      if (text === 'wait') {
        yield [{ type: 'text-delta', text: 'first' }];
        await once(context.signal, 'abort');
        cancelled.resolve(context.signal.reason);
        return;
      }
      yield* everyKind;
    },
    async doAction(type, body) {
      return Buffer.concat([Buffer.from(`${type}:`), body]);
    },
  }).then((value) => {
    harness = value;
  });
  after(() => harness.close());

  /** A DoGet through grpc-js: the messages it got and how the call ended. */
  async function doGet(ticket: string) {
    await started;
    const call = harness.raw.makeServerStreamRequest(
      flightService.DoGet.path,
      flightService.DoGet.requestSerialize,
      flightService.DoGet.responseDeserialize,
      { ticket: ticketOf(ticket) },
      authorized(),
    );
    const messages: FlightData[] = [];
    call.on('data', (message: FlightData) => messages.push(message));
    const ended = await new Promise<{ code: number; details: string; metadata: Metadata }>(
      (resolve) => {
        call.on('error', (error: GrpcServiceError) => resolve(error));
        call.on('status', (final) => {
          if (final.code === status.OK) resolve(final);
        });
      },
    );
    return { messages, ...ended };
  }

  test('DoGet: the schema, then every batch, then OK', async () => {
    const { messages, code } = await doGet('every-kind');
    assert.equal(code, status.OK);
    const decoder = new FlightStreamDecoder(assertStreamPartSchema);
    const batches: StreamPart[][] = [];
    for (const message of messages) {
      const batch = decoder.read({ header: message.dataHeader, body: message.dataBody });
      if (batch !== undefined) batches.push(recordBatchToParts(batch));
    }
    assert.deepStrictEqual(batches, everyKind);
  });

  test('DoGet: a handler error arrives as status, percent-encoded message and trailers', async () => {
    const { messages, code, details, metadata } = await doGet('fail');
    assert.equal(messages.length, 1, 'only the schema');
    assert.equal(code, status.INVALID_ARGUMENT);
    assert.equal(details, 'Modèle « m1 » introuvable: 100% sûr\nligne 2');
    assert.deepEqual(metadata.get('sluice-error-code'), ['bad_request']);
    assert.deepEqual(metadata.get('sluice-error-status'), ['400']);
  });

  test('DoGet: a grpc-js cancel aborts the handler', async () => {
    await started;
    const call = harness.raw.makeServerStreamRequest(
      flightService.DoGet.path,
      flightService.DoGet.requestSerialize,
      flightService.DoGet.responseDeserialize,
      { ticket: ticketOf('wait') },
      authorized(),
    );
    call.on('error', () => {});
    await once(call, 'data'); // the schema
    await once(call, 'data'); // the first batch
    call.cancel();
    await within(cancelled.promise, 1_000, 'handler signal not aborted');
  });

  test('DoAction: one result, then OK', async () => {
    await started;
    const call = harness.raw.makeServerStreamRequest(
      flightService.DoAction.path,
      flightService.DoAction.requestSerialize,
      flightService.DoAction.responseDeserialize,
      { type: 'echo', body: ticketOf('ping') },
      authorized(),
    );
    const results: Result[] = [];
    call.on('data', (result: Result) => results.push(result));
    const [final] = (await once(call, 'status')) as [{ code: number }];
    assert.equal(final.code, status.OK);
    assert.deepEqual(
      results.map((result) => Buffer.from(result.body).toString()),
      ['echo:ping'],
    );
  });

  test('an unknown method is UNIMPLEMENTED, in this service or another', async () => {
    await started;
    for (const path of ['/arrow.flight.protocol.FlightService/DoMagic', '/other.Service/Call']) {
      const error = await new Promise<GrpcServiceError | null>((resolve) =>
        harness.raw.makeUnaryRequest(
          path,
          (value: Buffer) => value,
          (value: Buffer) => value,
          Buffer.alloc(0),
          authorized(),
          (failure) => resolve(failure),
        ),
      );
      assert.equal(error?.code, status.UNIMPLEMENTED, path);
    }
  });
});

describe('our FlightClient → grpc-js server', () => {
  const secretsSeen: string[] = [];
  const cancelled = deferred();
  const server = new Server();
  const toGrpcMetadata = (trailers: Readonly<Record<string, string>>) => {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
    return metadata;
  };
  const flightData = (message: { header: Uint8Array; body: Uint8Array }): FlightData => ({
    dataHeader: message.header,
    appMetadata: empty,
    dataBody: message.body,
  });
  server.addService(
    { DoGet: flightService.DoGet, DoAction: flightService.DoAction },
    {
      DoGet(call: ServerWritableStream<Ticket, FlightData>) {
        secretsSeen.push(String(call.metadata.get('authorization')[0]));
        const ticket = new TextDecoder().decode(call.request.ticket);
        call.write(flightData(encodeSchemaMessage(streamPartSchema)));
        if (ticket === 'fail') {
          const failure = statusFromError(
            new ServiceError(ErrorCode.TooManyRequests, 'Slow down — 100%', {
              status: 429,
              retryable: true,
            }),
          );
          call.emit('error', { ...failure, metadata: toGrpcMetadata(failure.metadata) });
          return;
        }
        if (ticket === 'wait') {
          call.write(
            flightData(
              encodeRecordBatchMessage(partsToRecordBatch([{ type: 'text-delta', text: 'first' }])),
            ),
          );
          call.on('cancelled', () => cancelled.resolve());
          return;
        }
        for (const parts of everyKind) {
          call.write(flightData(encodeRecordBatchMessage(partsToRecordBatch(parts))));
        }
        call.end();
      },
      DoAction(call: ServerWritableStream<Action, Result>) {
        call.write({ body: Buffer.from(`${call.request.type}:${Buffer.from(call.request.body)}`) });
        call.end();
      },
    },
  );
  let client: FlightClient;
  const bound = new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) =>
      error === null ? resolve(port) : reject(error),
    ),
  ).then((port) => {
    client = new FlightClient(`127.0.0.1:${port}`, { clusterSecret: secret });
  });
  after(() => {
    client.close();
    server.forceShutdown();
  });

  test('DoGet streams every batch, and the secret went out as authorization metadata', async () => {
    await bound;
    assert.deepStrictEqual(await collect(client.doGet(ticketOf('every-kind'), never)), everyKind);
    assert.equal(secretsSeen.at(-1), `Bearer ${secret}`);
  });

  test('a grpc-js status with Sluice trailers becomes the original ServiceError', async () => {
    await bound;
    await assert.rejects(collect(client.doGet(ticketOf('fail'), never)), (error) => {
      assert.ok(ServiceError.isInstance(error));
      assert.equal(error.code, ErrorCode.TooManyRequests);
      assert.equal(error.message, 'Slow down — 100%');
      assert.equal(error.status, 429);
      assert.equal(error.retryable, true);
      return true;
    });
  });

  test('aborting our call cancels it on the grpc-js server', async () => {
    await bound;
    const controller = new AbortController();
    const iterator = client.doGet(ticketOf('wait'), controller.signal);
    assert.deepStrictEqual((await iterator.next()).value, [{ type: 'text-delta', text: 'first' }]);
    controller.abort();
    await assert.rejects(iterator.next(), (error) => ServiceError.isInstance(error));
    await within(cancelled.promise, 1_000, 'grpc-js did not see the cancel');
  });

  test('DoAction returns the single result', async () => {
    await bound;
    const result = await client.doAction('echo', ticketOf('pong'), never);
    assert.equal(Buffer.from(result).toString(), 'echo:pong');
  });
});
