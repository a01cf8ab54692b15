/**
 * The Flight service beyond DoGet, mostly through grpc-js as an independent client:
 * authentication on every RPC, DoAction, ListActions, Handshake (the one duplex) and
 * UNIMPLEMENTED for the rest.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import {
  type Client,
  type ServiceError as GrpcServiceError,
  Metadata,
  status,
} from '@grpc/grpc-js';
import { badRequest, ErrorCode, ServiceError } from '../domain/errors.ts';
import {
  authorized,
  collect,
  type Harness,
  never,
  startHarness,
  within,
} from './__fixtures__/harness.ts';
import { FlightClient } from './client.ts';
import type { Handshake } from './protocol.ts';
import type { FlightHandlers } from './server.ts';
import { flightService } from './service.ts';

let calls = 0;
const handlers: FlightHandlers = {
  async *doGet() {
    calls++;
    yield [{ type: 'text-delta', text: 'secret data' }];
  },
  async doAction(type, body) {
    calls++;
    if (type !== 'echo') throw badRequest(`Unknown action ${type}`);
    return body;
  },
};

let harness: Harness;
const started = startHarness(handlers, {
  actions: [{ type: 'echo', description: 'Returns the body' }],
}).then((value) => {
  harness = value;
});
after(() => harness.close());

/** A raw server-streaming call: every response and the final status (or error). */
function rawStream(
  client: Client,
  method: keyof typeof flightService,
  request: unknown,
  metadata: Metadata,
): Promise<{ responses: unknown[]; code: number; details: string }> {
  const definition = flightService[method];
  const call = client.makeServerStreamRequest(
    definition.path,
    definition.requestSerialize as (value: unknown) => Buffer,
    definition.responseDeserialize as (bytes: Buffer) => unknown,
    request,
    metadata,
  );
  const responses: unknown[] = [];
  call.on('data', (response) => responses.push(response));
  return new Promise((resolve) => {
    call.on('error', (error: GrpcServiceError) =>
      resolve({ responses, code: error.code, details: error.details }),
    );
    call.on('status', (final) => {
      if (final.code === status.OK)
        resolve({ responses, code: final.code, details: final.details });
    });
  });
}

function rawUnary(client: Client, metadata: Metadata): Promise<GrpcServiceError | null> {
  const definition = flightService.GetFlightInfo;
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      Buffer.alloc(0),
      metadata,
      (error) => resolve(error),
    );
  });
}

describe('authentication', () => {
  test('a call without the secret is refused and never reaches the handler', async () => {
    await started;
    calls = 0;
    const missing = await rawStream(
      harness.raw,
      'DoGet',
      { ticket: new Uint8Array(1) },
      new Metadata(),
    );
    assert.equal(missing.code, status.UNAUTHENTICATED);
    assert.deepEqual(missing.responses, []);
    const wrongBearer = authorized();
    wrongBearer.set('authorization', 'Bearer nope');
    const wrong = await rawStream(harness.raw, 'DoGet', { ticket: new Uint8Array(1) }, wrongBearer);
    assert.equal(wrong.code, status.UNAUTHENTICATED);
    assert.equal(calls, 0);
  });

  test('FlightClient with a wrong secret gets an internal "cluster secret" error', async () => {
    await started;
    calls = 0;
    const client = new FlightClient(harness.address, { clusterSecret: 'wrong-secret' });
    try {
      for (const attempt of [
        () => collect(client.doGet(new Uint8Array(1), never)),
        () => client.doAction('echo', new Uint8Array(1), never),
      ]) {
        await assert.rejects(attempt(), (error) => {
          assert.ok(ServiceError.isInstance(error));
          assert.equal(error.code, ErrorCode.Internal);
          assert.match(error.message, /rejected the cluster secret/);
          return true;
        });
      }
    } finally {
      client.close();
    }
    assert.equal(calls, 0);
  });

  test('unimplemented RPCs also ask for the secret first', async () => {
    await started;
    assert.equal((await rawUnary(harness.raw, new Metadata()))?.code, status.UNAUTHENTICATED);
    assert.equal((await rawUnary(harness.raw, authorized()))?.code, status.UNIMPLEMENTED);
    const listFlights = await rawStream(harness.raw, 'ListFlights', Buffer.alloc(0), authorized());
    assert.equal(listFlights.code, status.UNIMPLEMENTED);
  });

  test('an empty cluster secret is refused at start', async () => {
    await assert.rejects(startHarness(handlers, { clusterSecret: '' }), /non-empty cluster secret/);
    assert.throws(() => new FlightClient('127.0.0.1:1', { clusterSecret: '' }), /non-empty/);
  });
});

describe('DoAction and ListActions', () => {
  test('DoAction returns the handler result; its errors cross as ServiceErrors', async () => {
    await started;
    const body = new TextEncoder().encode('{"ok":"✓"}');
    assert.deepEqual([...(await harness.client.doAction('echo', body, never))], [...body]);
    await assert.rejects(harness.client.doAction('other', body, never), (error) => {
      assert.ok(ServiceError.isInstance(error));
      assert.equal(error.code, ErrorCode.BadRequest);
      assert.equal(error.message, 'Unknown action other');
      return true;
    });
  });

  test('DoAction without a handler is UNIMPLEMENTED', async () => {
    const bare = await startHarness({ doGet: handlers.doGet });
    try {
      await assert.rejects(bare.client.doAction('echo', new Uint8Array(0), never), /DoAction/);
    } finally {
      await bare.close();
    }
  });

  test('ListActions lists the configured action types', async () => {
    await started;
    const listed = await rawStream(harness.raw, 'ListActions', {}, authorized());
    assert.equal(listed.code, status.OK);
    assert.deepEqual(listed.responses, [{ type: 'echo', description: 'Returns the body' }]);
  });
});

describe('Handshake, the one duplex RPC (where grpc-js had trap G2)', () => {
  /** Sends two handshake requests, half-closes, and waits for the responses and OK status. */
  async function handshake(client: Client) {
    const definition = flightService.Handshake;
    const call = client.makeBidiStreamRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      authorized(),
    );
    const responses: Handshake[] = [];
    call.on('data', (response: Handshake) => responses.push(response));
    const finished = new Promise<number>((resolve) => {
      call.on('status', (final) => resolve(final.code));
      call.on('error', () => {});
    });
    call.write({ protocolVersion: 1, payload: new Uint8Array(0) });
    call.write({ protocolVersion: 1, payload: new Uint8Array(0) });
    call.end();
    return { code: await within(finished, 1_000, 'handshake hung'), responses, call };
  }

  test('the server answers each request and ends with OK after the client half-closes', async () => {
    await started;
    const { code, responses } = await handshake(harness.raw);
    assert.equal(code, status.OK);
    assert.equal(responses.length, 2);
    assert.equal(responses[0]?.protocolVersion, 1);
  });

  test('each request is answered as it arrives, before the client half-closes', async () => {
    // Arrow's token flow writes, reads the answer, and only then writes again or ends.
    await started;
    const definition = flightService.Handshake;
    const call = harness.raw.makeBidiStreamRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      authorized(),
    );
    const finished = new Promise<number>((resolve) => {
      call.on('status', (final) => resolve(final.code));
      call.on('error', () => {});
    });
    for (const protocolVersion of [7, 8]) {
      call.write({ protocolVersion, payload: new Uint8Array(0) });
      const [response] = (await within(once(call, 'data'), 1_000, 'no answer')) as [Handshake];
      assert.equal(response.protocolVersion, protocolVersion);
    }
    call.end();
    assert.equal(await within(finished, 1_000, 'handshake hung'), status.OK);
  });
});
