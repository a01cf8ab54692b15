/**
 * Node's HTTP/2 server limits incoming RST_STREAM frames (nghttp2's "rapid reset" guard: a burst
 * of 1,000, then 33 per second) and answers more with GOAWAY INTERNAL_ERROR, failing every
 * stream on the connection. Coordinators cancel Flight calls for real reasons (their clients
 * disconnect mid-stream), so a burst of genuine cancellations must not take down the streams
 * that are still flowing. See `http2-channel.ts` for the measurements and the reset budget that
 * avoids the trap; the first test shows the trap (and that this test can trip it), the second
 * that FlightClient does not fall into it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2, { constants } from 'node:http2';
import { after, describe, test } from 'node:test';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { frameType, startFrameCounter } from './__fixtures__/frame-counter.ts';
import { deferred, type Harness, secret, sleep, startHarness } from './__fixtures__/harness.ts';
import { FlightClient } from './client.ts';
import { frameMessage } from './grpc-framing.ts';
import { encodeTicket } from './protocol.ts';
import { flightService } from './service.ts';

const cancellations = 1_500;
const concurrency = 50;
const longTokens = 200;

const text = (value: string): StreamPart[] => [{ type: 'text-delta', text: value }];

/** Handlers whose signal aborted, by ticket. */
const aborted = new Map<string, number>();
/** Released when a test's burst of cancellations is over. */
let burstOver = deferred();

let harness: Harness;
const started = startHarness({
  async *doGet(ticket, context) {
    const name = new TextDecoder().decode(ticket);
    if (name === 'long') {
      // A stream that keeps flowing during the whole burst, and ends after it.
      for (let index = 0; index < longTokens; index++) {
        yield text(`token ${index}`);
        await sleep(1);
      }
      await burstOver.promise;
      yield [{ type: 'finish', finishReason: { unified: 'stop', raw: 'stop' } }];
      return;
    }
    yield text('first');
    await once(context.signal, 'abort');
    aborted.set(name, (aborted.get(name) ?? 0) + 1);
  },
}).then((value) => {
  harness = value;
});
after(() => harness.close());

/** Runs `task` `count` times, `concurrency` at a time. */
async function repeat(count: number, task: () => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      await task();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

describe(`${cancellations} cancellations mid-stream while another stream flows`, () => {
  test('the trap: on one plain HTTP/2 connection, Node closes the connection', async () => {
    await started;
    burstOver = deferred();
    const wire = await startFrameCounter(harness.server.port);
    const session = http2.connect(`http://127.0.0.1:${wire.port}`);
    session.on('error', () => {});
    const request = (ticket: string) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': flightService.DoGet.path,
        'content-type': 'application/grpc',
        te: 'trailers',
        authorization: `Bearer ${secret}`,
      });
      stream.on('error', () => {});
      stream.end(frameMessage(encodeTicket({ ticket: new TextEncoder().encode(ticket) })));
      return stream;
    };
    try {
      const long = request('long');
      const longClosed = new Promise((resolve) => long.once('close', resolve));
      long.resume();
      let refused = 0;
      await repeat(cancellations, async () => {
        if (session.destroyed || session.closed) {
          refused += 1;
          return;
        }
        const stream = request('short, plain');
        const closed = new Promise((resolve) => stream.once('close', resolve));
        await Promise.race([new Promise((resolve) => stream.once('data', resolve)), closed]);
        // A genuine cancellation: the client leaves while the server is still streaming.
        stream.close(constants.NGHTTP2_CANCEL);
        await closed;
      });
      burstOver.resolve();
      await longClosed;
      assert.ok(wire.fromServer(frameType.goaway) >= 1, 'the server sent no GOAWAY');
      assert.notEqual(long.rstCode, constants.NGHTTP2_NO_ERROR, 'the long stream survived');
      assert.ok(refused > 0, 'every cancellation went through on the one connection');
    } finally {
      burstOver.resolve();
      session.destroy();
      await wire.close();
    }
  });

  test('FlightClient: the burst is spread over connections, nothing else fails', async () => {
    await started;
    burstOver = deferred();
    const wire = await startFrameCounter(harness.server.port);
    const client = new FlightClient(`127.0.0.1:${wire.port}`, { clusterSecret: secret });
    try {
      const long = (async () => {
        const parts: StreamPart[] = [];
        for await (const batch of client.doGet(new TextEncoder().encode('long'), never())) {
          parts.push(...batch);
        }
        return parts;
      })();
      const unexpected: unknown[] = [];
      const ticket = new TextEncoder().encode('short, FlightClient');
      await repeat(cancellations, async () => {
        const controller = new AbortController();
        try {
          const iterator = client.doGet(ticket, controller.signal);
          await iterator.next();
          controller.abort();
          await iterator.next();
        } catch (error) {
          if (!ServiceError.isInstance(error) || error.code !== ErrorCode.Canceled) {
            unexpected.push(error);
          }
        }
      });
      burstOver.resolve();
      const parts = await long;
      assert.deepEqual(unexpected, []);
      assert.equal(parts.length, longTokens + 1);
      assert.equal(parts.at(-1)?.type, 'finish');
      assert.equal(wire.fromServer(frameType.goaway), 0, 'the server sent GOAWAY');
      assert.ok(wire.fromClients(frameType.rstStream) >= cancellations, 'not genuine resets');
      assert.ok(wire.connections() >= 2, 'all resets went over one connection');
      // Every handler saw its cancellation (the last ones may still be arriving).
      const abortedHere = () => aborted.get('short, FlightClient') ?? 0;
      for (let tries = 0; abortedHere() < cancellations && tries < 100; tries++) await sleep(10);
      assert.equal(abortedHere(), cancellations);
    } finally {
      burstOver.resolve();
      client.close();
      await wire.close();
    }
  });
});

const never = () => new AbortController().signal;
