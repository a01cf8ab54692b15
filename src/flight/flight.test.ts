/**
 * FlightClient against the Flight server over real gRPC on 127.0.0.1 (port 0): round trip,
 * latency (G1), cancellation both ways, errors, auth, backpressure and a dying server.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { frameType, startFrameCounter } from './__fixtures__/frame-counter.ts';
import {
  collect,
  deferred,
  everyKind,
  type Harness,
  never,
  secret,
  sleep,
  startHarness,
  within,
} from './__fixtures__/harness.ts';
import { FlightClient, isFlightTransportFailure } from './client.ts';
import type { FlightCallContext } from './server.ts';

const text = (value: string): StreamPart[] => [{ type: 'text-delta', text: value }];
const ticketOf = (value: string) => new TextEncoder().encode(value);

function assertServiceError(error: unknown, code: ErrorCode, pattern?: RegExp): ServiceError {
  assert.ok(ServiceError.isInstance(error), `expected a ServiceError, got ${String(error)}`);
  assert.equal(error.code, code, `code of: ${error.message}`);
  if (pattern !== undefined) assert.match(error.message, pattern);
  return error;
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the call to fail');
}

const harnesses: Harness[] = [];
async function harness(...args: Parameters<typeof startHarness>): Promise<Harness> {
  const started = await startHarness(...args);
  harnesses.push(started);
  return started;
}
after(async () => {
  await Promise.all(harnesses.map((started) => started.close()));
});

describe('DoGet', () => {
  test('every part kind arrives in its batches, in order; the ticket reaches the handler', async () => {
    let seenTicket = '';
    const { client } = await harness({
      async *doGet(ticket) {
        seenTicket = new TextDecoder().decode(ticket);
        yield [];
        yield* everyKind;
      },
    });
    const received = await collect(client.doGet(ticketOf('{"model":"m—1"}'), never));
    assert.deepStrictEqual(received, everyKind);
    assert.equal(seenTicket, '{"model":"m—1"}');
  });

  test('an empty stream ends cleanly', async () => {
    const { client } = await harness({ async *doGet() {} });
    assert.deepStrictEqual(await collect(client.doGet(ticketOf('x'), never)), []);
  });

  test('G1: each batch reaches the client before the next one is produced', async () => {
    const rounds = 5;
    const received = Array.from({ length: rounds }, () => deferred());
    const { client } = await harness({
      async *doGet() {
        for (let round = 0; round < rounds; round++) {
          yield text(`token ${round}`);
          // A reader with look-ahead would wait for the next batch here: deadlock.
          await within(received[round]?.promise ?? Promise.resolve(), 2_000, `batch ${round}`);
        }
      },
    });
    const latencies: number[] = [];
    let sentAt = performance.now();
    let round = 0;
    for await (const parts of client.doGet(ticketOf('x'), never)) {
      latencies.push(performance.now() - sentAt);
      assert.deepStrictEqual(parts, text(`token ${round}`));
      sentAt = performance.now();
      received[round++]?.resolve();
    }
    assert.equal(round, rounds);
    assert.ok(Math.max(...latencies) < 500, `latencies ${latencies.join(', ')} ms`);
  });

  test('the handler gets the call metadata without the secret, and a live signal', async () => {
    const seen = deferred<FlightCallContext>();
    const { client } = await harness({
      async *doGet(_ticket, context) {
        seen.resolve(context);
        yield text('x');
      },
    });
    await collect(client.doGet(ticketOf('x'), never));
    const context = await seen.promise;
    assert.equal(context.metadata['authorization'], undefined);
    assert.equal(context.signal.aborted, false);
    assert.match(context.peer, /127\.0\.0\.1/);
  });
});

describe('cancellation', () => {
  /** A handler that sends one batch, then waits for its signal and records what happened. */
  function waitingHandler() {
    const aborted = deferred<unknown>();
    const finalized = deferred();
    return {
      aborted,
      finalized,
      handlers: {
        async *doGet(_ticket: Uint8Array, context: FlightCallContext) {
          try {
            yield text('first');
            await once(context.signal, 'abort');
            aborted.resolve(context.signal.reason);
            yield text('never sent');
          } finally {
            finalized.resolve();
          }
        },
      },
    };
  }

  test("aborting the client's signal aborts the handler's signal", async () => {
    const { aborted, finalized, handlers } = waitingHandler();
    const { client } = await harness(handlers);
    const controller = new AbortController();
    const iterator = client.doGet(ticketOf('x'), controller.signal);
    assert.deepStrictEqual((await iterator.next()).value, text('first'));
    controller.abort();
    assertServiceError(await failureOf(iterator.next()), ErrorCode.Canceled);
    await within(aborted.promise, 1_000, 'handler signal not aborted');
    await within(finalized.promise, 1_000, 'handler not finalized');
  });

  test('an abort reason that is a ServiceError is what the iteration throws', async () => {
    const { handlers } = waitingHandler();
    const { client } = await harness(handlers);
    const controller = new AbortController();
    const iterator = client.doGet(ticketOf('x'), controller.signal);
    await iterator.next();
    controller.abort(new ServiceError(ErrorCode.Timeout, 'first token took too long'));
    assertServiceError(await failureOf(iterator.next()), ErrorCode.Timeout, /first token/);
    assertServiceError(
      await failureOf(client.doGet(ticketOf('x'), AbortSignal.abort()).next()),
      ErrorCode.Canceled,
    );
  });

  test('leaving the loop early cancels the server side too', async () => {
    const { aborted, handlers } = waitingHandler();
    const { client } = await harness(handlers);
    for await (const parts of client.doGet(ticketOf('x'), never)) {
      assert.deepStrictEqual(parts, text('first'));
      break;
    }
    await within(aborted.promise, 1_000, 'handler signal not aborted');
  });

  const finish: StreamPart[] = [{ type: 'finish', finishReason: { unified: 'stop', raw: 'stop' } }];

  test('leaving right after the terminal part lets the call end with its status, not a cancel', async () => {
    // Cancelling costs an RST_STREAM per completed stream; Node's HTTP/2 server answers a
    // sustained rate of those by closing the connection (rapid-reset protection).
    let signal: AbortSignal | undefined;
    const ended = deferred();
    const { client } = await harness({
      async *doGet(_ticket, context) {
        signal = context.signal;
        yield text('first');
        yield finish;
        // A cancel sent when the consumer leaves would arrive while the handler is still here.
        await sleep(100);
        ended.resolve();
      },
    });
    for await (const parts of client.doGet(ticketOf('x'), never)) {
      if (parts.at(-1)?.type === 'finish') break;
    }
    await within(ended.promise, 1_000, 'handler did not end');
    await sleep(20);
    assert.equal(signal?.aborted, false);
  });

  test('leaving right after the terminal part sends no RST_STREAM at all (seen on the wire)', async () => {
    const { server } = await harness({
      async *doGet() {
        yield text('first');
        yield finish;
      },
    });
    const wire = await startFrameCounter(server.port);
    const client = new FlightClient(`127.0.0.1:${wire.port}`, { clusterSecret: secret });
    try {
      for (let round = 0; round < 50; round++) {
        for await (const parts of client.doGet(ticketOf('x'), never)) {
          if (parts.at(-1)?.type === 'finish') break;
        }
      }
      // Frames keep their order on the connection: any reset sent above has passed the relay
      // by the time this call's answer is back.
      await collect(client.doGet(ticketOf('x'), never));
      assert.equal(wire.fromClients(frameType.rstStream), 0);
    } finally {
      client.close();
      await wire.close();
    }
  });

  test('a call that goes on after the terminal part is still cancelled, within a second', async () => {
    const aborted = deferred<unknown>();
    const { client } = await harness({
      async *doGet(_ticket, context) {
        yield finish;
        await once(context.signal, 'abort');
        aborted.resolve(context.signal.reason);
      },
    });
    for await (const parts of client.doGet(ticketOf('x'), never)) {
      if (parts.at(-1)?.type === 'finish') break;
    }
    await within(aborted.promise, 2_000, 'handler signal not aborted');
  });

  test('closing the client cancels its running calls and refuses new ones', async () => {
    const { aborted, handlers } = waitingHandler();
    const { address } = await harness(handlers);
    const client = new FlightClient(address, { clusterSecret: secret });
    const iterator = client.doGet(ticketOf('x'), never);
    await iterator.next();
    client.close();
    assertServiceError(await failureOf(iterator.next()), ErrorCode.Canceled, /closed/);
    await within(aborted.promise, 1_000, 'handler signal not aborted');
    assertServiceError(
      await failureOf(client.doAction('x', new Uint8Array(0), never)),
      ErrorCode.Canceled,
    );
  });

  test('a client deadline cancels the handler', async () => {
    const { aborted, handlers } = waitingHandler();
    const { raw } = await harness(handlers);
    const { authorized } = await import('./__fixtures__/harness.ts');
    const { flightService } = await import('./service.ts');
    const call = raw.makeServerStreamRequest(
      flightService.DoGet.path,
      flightService.DoGet.requestSerialize,
      flightService.DoGet.responseDeserialize,
      { ticket: ticketOf('x') },
      authorized(),
      { deadline: Date.now() + 300 },
    );
    const failed = once(call, 'error');
    call.resume();
    const [error] = (await within(failed, 2_000, 'no deadline error')) as [{ code: number }];
    assert.equal(error.code, status.DEADLINE_EXCEEDED);
    await within(aborted.promise, 1_000, 'handler signal not aborted');
  });
});

describe('the connection', () => {
  test('after the connection is lost, the next call reconnects', async () => {
    const { server } = await harness({
      async *doGet() {
        yield text('x');
      },
    });
    const wire = await startFrameCounter(server.port);
    const client = new FlightClient(`127.0.0.1:${wire.port}`, { clusterSecret: secret });
    try {
      assert.deepStrictEqual(await collect(client.doGet(ticketOf('x'), never)), [text('x')]);
      assert.deepStrictEqual(await collect(client.doGet(ticketOf('x'), never)), [text('x')]);
      assert.equal(wire.connections(), 1, 'calls share one connection');
      wire.dropConnections();
      // The loss may or may not have been noticed before the next call starts; either way
      // that call fails as unavailable or succeeds, and the one after it succeeds.
      await collect(client.doGet(ticketOf('x'), never)).catch((error: unknown) => {
        assertServiceError(error, ErrorCode.UpstreamUnavailable);
      });
      assert.deepStrictEqual(await collect(client.doGet(ticketOf('x'), never)), [text('x')]);
      assert.equal(wire.connections(), 2);
    } finally {
      client.close();
      await wire.close();
    }
  });
});

describe('errors from the handler', () => {
  test('before the first batch: code, status and message cross the hop', async () => {
    const { client } = await harness({
      // biome-ignore lint/correctness/useYield: fails before yielding anything
      async *doGet() {
        throw new ServiceError(ErrorCode.Upstream, 'Provider said: invalid API key', {
          status: 401,
        });
      },
    });
    const error = assertServiceError(
      await failureOf(client.doGet(ticketOf('x'), never).next()),
      ErrorCode.Upstream,
      /^Provider said: invalid API key$/,
    );
    assert.equal(error.status, 401);
    assert.equal(error.retryable, false);
    assert.equal(isFlightTransportFailure(error), false);
  });

  test('after the first batch: the batch arrives, then the error', async () => {
    const { client } = await harness({
      async *doGet() {
        yield text('partial');
        throw new ServiceError(ErrorCode.UpstreamUnavailable, 'Provider connection reset', {
          retryable: true,
        });
      },
    });
    const iterator = client.doGet(ticketOf('x'), never);
    assert.deepStrictEqual((await iterator.next()).value, text('partial'));
    const error = assertServiceError(
      await failureOf(iterator.next()),
      ErrorCode.UpstreamUnavailable,
      /connection reset/,
    );
    assert.equal(error.retryable, true);
    // The node reported it; it is not the node being unreachable.
    assert.equal(isFlightTransportFailure(error), false);
  });

  test("an unexpected error's text stays on the server; onError sees it", async () => {
    const reported: unknown[] = [];
    const { client } = await harness(
      {
        async *doGet() {
          yield text('x');
          throw new Error('ENOENT /etc/secret-path');
        },
      },
      { onError: (error) => reported.push(error) },
    );
    const error = await failureOf(collect(client.doGet(ticketOf('x'), never)));
    assertServiceError(error, ErrorCode.Internal, /^Internal error$/);
    assert.match(String(reported[0]), /secret-path/);
  });
});

describe('backpressure', () => {
  test('a slow consumer holds the handler back instead of filling memory', async () => {
    let pulled = 0;
    const chunk = 'x'.repeat(16 * 1024);
    const { client } = await harness({
      async *doGet(_ticket, context) {
        while (!context.signal.aborted) {
          pulled++;
          yield text(chunk);
        }
      },
    });
    const controller = new AbortController();
    const iterator = client.doGet(ticketOf('x'), controller.signal);
    await iterator.next();
    await sleep(300);
    const afterPause = pulled;
    await sleep(300);
    assert.equal(pulled, afterPause, 'the handler kept being pulled while nobody read');
    // Bounded by the HTTP/2 window and the two sides' stream buffers, not by the stream length.
    assert.ok(afterPause < 100, `handler ran ${afterPause} batches ahead`);
    for (let read = 0; read < 200; read++) await iterator.next();
    assert.ok(pulled > 200, 'reading again resumes the handler');
    controller.abort();
  });
});
