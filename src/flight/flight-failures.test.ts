/**
 * A node that is not there, or dies mid-stream: the client's iteration must fail promptly with a
 * retryable `upstream_unavailable` that `isFlightTransportFailure` recognises.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import { deferred, never, secret, startHarness, within } from './__fixtures__/harness.ts';
import { FlightClient, isFlightTransportFailure } from './client.ts';

function assertNodeLost(error: unknown): void {
  assert.ok(ServiceError.isInstance(error), `expected a ServiceError, got ${String(error)}`);
  assert.equal(error.code, ErrorCode.UpstreamUnavailable, error.message);
  assert.equal(error.retryable, true);
  assert.ok(isFlightTransportFailure(error));
}

/** Reads until the iteration fails; returns the error and how long after `from` it came. */
async function failureAfter(iterator: AsyncIterator<unknown>, from: () => number) {
  for (;;) {
    try {
      const result = await iterator.next();
      if (result.done === true) assert.fail('the stream ended instead of failing');
    } catch (error) {
      return { error, elapsedMs: performance.now() - from() };
    }
  }
}

describe('a node that is not there', () => {
  test('nothing listening: the first next() fails as unavailable', async () => {
    const harness = await startHarness({ async *doGet() {} });
    await harness.close();
    const client = new FlightClient(harness.address, { clusterSecret: secret });
    try {
      const started = performance.now();
      const { error } = await failureAfter(client.doGet(new Uint8Array(1), never), () => started);
      assertNodeLost(error);
    } finally {
      client.close();
    }
  });
});

describe('a node that dies mid-stream', () => {
  test('server shut down: the client fails within a second, the handler is aborted', async () => {
    const aborted = deferred();
    const harness = await startHarness({
      async *doGet(_ticket, context) {
        context.signal.addEventListener('abort', () => aborted.resolve());
        yield [{ type: 'text-delta', text: 'first' }];
        await new Promise(() => {}); // an upstream that never answers again
      },
    });
    try {
      const iterator = harness.client.doGet(new Uint8Array(1), never);
      await iterator.next();
      let stoppedAt = 0;
      const failure = failureAfter(iterator, () => stoppedAt);
      stoppedAt = performance.now();
      await harness.server.close();
      const { error, elapsedMs } = await within(failure, 2_000, 'client did not notice');
      assertNodeLost(error);
      assert.ok(elapsedMs < 1_000, `noticed after ${elapsedMs} ms`);
      await within(aborted.promise, 1_000, 'handler signal not aborted');
    } finally {
      await harness.close();
    }
  });

  test('process killed (SIGKILL): the client fails within a second', async () => {
    const fixture = fileURLToPath(new URL('./__fixtures__/server-process.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, secret], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [firstLine] = (await within(once(child.stdout, 'data'), 20_000, 'no port')) as [Buffer];
      const port = Number.parseInt(firstLine.toString(), 10);
      const client = new FlightClient(`127.0.0.1:${port}`, { clusterSecret: secret });
      try {
        const iterator = client.doGet(new Uint8Array(1), never);
        await iterator.next();
        await iterator.next(); // tokens are flowing
        let killedAt = 0;
        const failure = failureAfter(iterator, () => killedAt);
        killedAt = performance.now();
        child.kill('SIGKILL');
        const { error, elapsedMs } = await within(failure, 2_000, 'client did not notice');
        assertNodeLost(error);
        assert.ok(elapsedMs < 1_000, `noticed after ${elapsedMs} ms`);
      } finally {
        client.close();
      }
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('a peer that goes silent without closing its socket', () => {
  test('keep-alive pings notice it and fail the stream', async () => {
    const harness = await startHarness({
      async *doGet() {
        yield [{ type: 'text-delta', text: 'first' }];
        await new Promise(() => {});
      },
    });
    // A TCP relay that can turn into a black hole: sockets stay open, nothing gets through,
    // like a partitioned network or a frozen machine.
    let silent = false;
    const sockets: Socket[] = [];
    const relay = createServer((inbound) => {
      const outbound = connect(harness.server.port, '127.0.0.1');
      sockets.push(inbound, outbound);
      for (const [from, to] of [
        [inbound, outbound],
        [outbound, inbound],
      ] as const) {
        from.on('data', (chunk) => {
          if (!silent) to.write(chunk);
        });
        from.on('error', () => {});
        from.on('close', () => to.destroy());
      }
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const { port } = relay.address() as AddressInfo;
    const client = new FlightClient(`127.0.0.1:${port}`, {
      clusterSecret: secret,
      keepaliveTimeMs: 200,
      keepaliveTimeoutMs: 200,
    });
    try {
      const iterator = client.doGet(new Uint8Array(1), never);
      await iterator.next();
      const silencedAt = performance.now();
      silent = true;
      const { error, elapsedMs } = await within(
        failureAfter(iterator, () => silencedAt),
        3_000,
        'client did not notice',
      );
      assertNodeLost(error);
      assert.ok(elapsedMs < 1_500, `noticed after ${elapsedMs} ms`);
    } finally {
      client.close();
      for (const socket of sockets) socket.destroy();
      relay.close();
      await harness.close();
    }
  });
});

describe('a node that shuts down with a grace period', () => {
  test('running calls may finish; new ones are refused; the rest is cancelled at the end', async () => {
    const release = deferred();
    const aborted = deferred();
    const harness = await startHarness({
      async *doGet(ticket, context) {
        yield [{ type: 'text-delta', text: 'first' }];
        if (new TextDecoder().decode(ticket) === 'quick') {
          await release.promise;
          yield [{ type: 'text-delta', text: 'last' }];
          return;
        }
        await once(context.signal, 'abort');
        aborted.resolve();
      },
    });
    try {
      const quick = harness.client.doGet(new TextEncoder().encode('quick'), never);
      const slow = harness.client.doGet(new TextEncoder().encode('slow'), never);
      await quick.next();
      await slow.next();
      const closed = harness.server.close({ graceMs: 300 });
      release.resolve();
      assert.deepStrictEqual((await quick.next()).value, [{ type: 'text-delta', text: 'last' }]);
      assert.equal((await quick.next()).done, true);
      const { error: refused } = await failureAfter(
        harness.client.doGet(new Uint8Array(1), never),
        () => 0,
      );
      assertNodeLost(refused);
      const { error } = await within(
        failureAfter(slow, () => 0),
        2_000,
        'slow call not ended',
      );
      assertNodeLost(error);
      await within(aborted.promise, 1_000, 'handler signal not aborted');
      await within(closed, 1_000, 'close() did not resolve');
    } finally {
      await harness.close();
    }
  });
});
