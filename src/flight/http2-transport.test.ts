/**
 * The gRPC-over-HTTP/2 transport below Flight: `startGrpcServer` and `GrpcChannel` against each
 * other and against plain `node:http2` peers, for what the Flight tests cannot reach: message
 * reassembly end to end, size limits, `grpc-timeout`, non-gRPC requests, and which calls end
 * with an RST_STREAM.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2, { type IncomingHttpHeaders } from 'node:http2';
import { after, describe, test } from 'node:test';
import { frameType, startFrameCounter } from './__fixtures__/frame-counter.ts';
import { deferred, within } from './__fixtures__/harness.ts';
import { frameMessage } from './grpc-framing.ts';
import { GrpcCallError, GrpcStatus } from './grpc-protocol.ts';
import type { ClientCall } from './http2-call.ts';
import { GrpcChannel } from './http2-channel.ts';
import { type GrpcMethodHandler, type GrpcServer, startGrpcServer } from './http2-server.ts';

const timedOut = deferred<unknown>();

/** Answers each method with what its name says. */
const methods = new Map<string, GrpcMethodHandler>([
  [
    '/test/Echo',
    {
      requestStream: false,
      handle: (call, request) => {
        void call.send(frameMessage(request ?? new Uint8Array(0))).then(() => call.end());
      },
    },
  ],
  [
    '/test/Many',
    {
      // 2,000 tiny messages (several per DATA frame), then one of 200 kB (many DATA frames).
      requestStream: false,
      handle: (call) => {
        void (async () => {
          for (let index = 0; index < 2_000; index++) {
            await call.send(frameMessage(Uint8Array.of(index % 256)));
          }
          await call.send(frameMessage(new Uint8Array(200_000).fill(7)));
          call.end();
        })();
      },
    },
  ],
  [
    '/test/Wait',
    {
      requestStream: false,
      handle: (call) => {
        call.signal.addEventListener('abort', () => timedOut.resolve(call.signal.reason));
      },
    },
  ],
]);

const servers: GrpcServer[] = [];
const channels: GrpcChannel[] = [];
after(async () => {
  for (const channel of channels) channel.close();
  await Promise.all(servers.map((server) => server.close(0)));
});

async function serverAndChannel(maxMessageBytes = 1024 * 1024, clientMax = 1024 * 1024) {
  const server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    methods,
    authorize: () => true,
    maxMessageBytes,
    keepaliveTimeMs: 10_000,
    keepaliveTimeoutMs: 5_000,
  });
  servers.push(server);
  const channel = new GrpcChannel(`127.0.0.1:${server.port}`, {
    metadata: {},
    maxMessageBytes: clientMax,
    keepaliveTimeMs: 10_000,
    keepaliveTimeoutMs: 5_000,
  });
  channels.push(channel);
  return { server, channel };
}

async function readAll(call: ClientCall): Promise<Uint8Array[]> {
  const messages: Uint8Array[] = [];
  for (;;) {
    const message = await call.read();
    if (message === undefined) return messages;
    messages.push(message);
  }
}

async function failure(promise: Promise<unknown>): Promise<GrpcCallError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof GrpcCallError, `expected a GrpcCallError, got ${error}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

/** A plain HTTP/2 request to `port`; resolves with the response headers and trailers. */
async function rawRequest(port: number, headers: Record<string, string>, body: Uint8Array) {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const stream = session.request({ ':method': 'POST', ...headers });
    stream.end(body);
    let trailers: IncomingHttpHeaders = {};
    stream.on('trailers', (received) => {
      trailers = received;
    });
    const [response] = (await once(stream, 'response')) as [IncomingHttpHeaders];
    stream.resume();
    await once(stream, 'close');
    return { response, trailers };
  } finally {
    session.close();
  }
}

describe('messages', () => {
  test('tiny messages packed together and a large one split over frames arrive intact', async () => {
    const { channel } = await serverAndChannel();
    const messages = await readAll(channel.start('/test/Many', new Uint8Array(0)));
    assert.equal(messages.length, 2_001);
    assert.ok(messages.slice(0, 2_000).every((message, index) => message[0] === index % 256));
    const large = messages[2_000];
    assert.equal(large?.length, 200_000);
    assert.ok(large?.every((byte) => byte === 7));
  });

  test('a request over the server limit is RESOURCE_EXHAUSTED', async () => {
    const { channel } = await serverAndChannel(1_000);
    const ok = await readAll(channel.start('/test/Echo', new Uint8Array(1_000)));
    assert.equal(ok[0]?.length, 1_000);
    const error = await failure(readAll(channel.start('/test/Echo', new Uint8Array(1_001))));
    assert.equal(error.code, GrpcStatus.RESOURCE_EXHAUSTED);
    assert.match(error.details, /larger than max \(1001 vs\. 1000\)/);
  });

  test('a response over the client limit is RESOURCE_EXHAUSTED', async () => {
    const { channel } = await serverAndChannel(1024 * 1024, 500);
    const error = await failure(readAll(channel.start('/test/Echo', new Uint8Array(501))));
    assert.equal(error.code, GrpcStatus.RESOURCE_EXHAUSTED);
  });

  test('an unknown method is UNIMPLEMENTED', async () => {
    const { channel } = await serverAndChannel();
    const error = await failure(readAll(channel.start('/test/Nope', new Uint8Array(0))));
    assert.equal(error.code, GrpcStatus.UNIMPLEMENTED);
    assert.match(error.details, /\/test\/Nope/);
  });
});

describe('requests that are not plain gRPC calls', () => {
  test('grpc-timeout is honoured: the handler is aborted and the status is DEADLINE_EXCEEDED', async () => {
    const { server } = await serverAndChannel();
    const { response, trailers } = await rawRequest(
      server.port,
      { ':path': '/test/Wait', 'content-type': 'application/grpc', 'grpc-timeout': '100m' },
      frameMessage(new Uint8Array(0)),
    );
    assert.equal(response[':status'], 200);
    const status = trailers['grpc-status'] ?? response['grpc-status'];
    assert.equal(status, String(GrpcStatus.DEADLINE_EXCEEDED));
    const reason = await within(timedOut.promise, 1_000, 'handler not aborted');
    assert.equal((reason as Error).name, 'TimeoutError');
  });

  test('a malformed grpc-timeout is refused', async () => {
    const { server } = await serverAndChannel();
    const { response } = await rawRequest(
      server.port,
      { ':path': '/test/Echo', 'content-type': 'application/grpc', 'grpc-timeout': 'soon' },
      frameMessage(new Uint8Array(0)),
    );
    assert.equal(response['grpc-status'], String(GrpcStatus.INTERNAL));
  });

  test('a request that is not gRPC gets HTTP 415', async () => {
    const { server } = await serverAndChannel();
    const { response } = await rawRequest(
      server.port,
      { ':path': '/test/Echo', 'content-type': 'application/json' },
      new TextEncoder().encode('{}'),
    );
    assert.equal(response[':status'], 415);
  });

  test('a request with two messages where one is expected is refused', async () => {
    const { server } = await serverAndChannel();
    const twice = Buffer.concat([frameMessage(Uint8Array.of(1)), frameMessage(Uint8Array.of(2))]);
    const { response, trailers } = await rawRequest(
      server.port,
      { ':path': '/test/Echo', 'content-type': 'application/grpc' },
      twice,
    );
    assert.equal(
      trailers['grpc-status'] ?? response['grpc-status'],
      String(GrpcStatus.UNIMPLEMENTED),
    );
  });
});

describe('which calls end with an RST_STREAM (counted on the wire)', () => {
  test('a call read to the end sends none; a call cancelled mid-stream sends one', async () => {
    const { server } = await serverAndChannel();
    const wire = await startFrameCounter(server.port);
    const channel = new GrpcChannel(`127.0.0.1:${wire.port}`, {
      metadata: {},
      maxMessageBytes: 1024 * 1024,
      keepaliveTimeMs: 10_000,
      keepaliveTimeoutMs: 5_000,
    });
    try {
      for (let round = 0; round < 20; round++) {
        assert.equal((await readAll(channel.start('/test/Echo', Uint8Array.of(round)))).length, 1);
      }
      // Frames keep their order on the connection: a reset sent for any call above would have
      // passed the relay before this call's response came back.
      assert.equal((await readAll(channel.start('/test/Many', new Uint8Array(0)))).length, 2_001);
      assert.equal(wire.fromClients(frameType.rstStream), 0);

      const waiting = channel.start('/test/Wait', new Uint8Array(0));
      waiting.cancel();
      assert.equal((await failure(waiting.read())).code, GrpcStatus.CANCELLED);
      await readAll(channel.start('/test/Echo', new Uint8Array(0)));
      assert.equal(wire.fromClients(frameType.rstStream), 1);
    } finally {
      channel.close();
      await wire.close();
    }
  });
});
