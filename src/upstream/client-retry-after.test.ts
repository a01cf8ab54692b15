import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import type { OutgoingHttpHeaders } from 'node:http';
import { after, describe, it } from 'node:test';
import type { ServiceError } from '../domain/errors.ts';
import {
  client,
  closeAll,
  config,
  httpServer,
  isError,
  noSignal,
  openPolicy,
  post,
} from './client.fixtures.ts';
import { abortableSleep, type RetryTools } from './retry.ts';

after(closeAll);

/** Answers 429 with `headers` first, then 200 `ok`; remembers when each request arrived. */
async function throttledOnce(headers: OutgoingHttpHeaders) {
  const arrivals: number[] = [];
  const server = await httpServer((_request, response, hit) => {
    arrivals.push(performance.now());
    if (hit === 1) {
      response.writeHead(429, headers);
      response.end('{"error":"slow down"}');
    } else {
      response.end('ok');
    }
  });
  return { ...server, arrivals };
}

async function text(body: AsyncIterable<Uint8Array>): Promise<string> {
  let result = '';
  for await (const chunk of body) result += Buffer.from(chunk).toString('utf8');
  return result;
}

/** Real waits, but the wait is aborted as soon as it starts; records what was asked. */
function abortingSleep(controller: AbortController, waits: number[]): Partial<RetryTools> {
  return {
    sleep: (milliseconds, signal) => {
      waits.push(milliseconds);
      const sleeping = abortableSleep(milliseconds, signal);
      setTimeout(() => controller.abort(), 10);
      return sleeping;
    },
  };
}

// A timer may fire up to a millisecond early (libuv counts whole milliseconds).
const timerSlack = 1;
// The backoff stays well below the advertised delay, so only the header explains the wait.
const retryOnce = config({ max_retry_times: 1, retry_backoff_millis: 1 });

describe('UpstreamClient honours Retry-After before the first byte', () => {
  it('send(): the retry waits the advertised retry-after-ms', async () => {
    const server = await throttledOnce({ 'retry-after-ms': '150', 'retry-after': '20' });
    const response = await client().send(post(server.url), retryOnce, noSignal());
    assert.equal(response.status, 200);
    assert.equal(response.body, 'ok');
    const [first = 0, second = 0] = server.arrivals;
    assert.ok(second - first >= 150 - timerSlack, `retried after ${second - first} ms`);
  });

  it('open(): the retry waits the advertised Retry-After', async () => {
    const server = await throttledOnce({ 'Retry-After': '0.15' });
    const stream = await client().open(post(server.url), retryOnce, noSignal());
    assert.equal(await text(stream.body), 'ok');
    const [first = 0, second = 0] = server.arrivals;
    assert.ok(second - first >= 150 - timerSlack, `retried after ${second - first} ms`);
  });

  it('send(): a Retry-After past retry_timeout_seconds returns the 429 at once', async () => {
    const server = await throttledOnce({ 'Retry-After': '3600' });
    const started = performance.now();
    const response = await client().send(
      post(server.url),
      config({ max_retry_times: 5, retry_timeout_seconds: 30 }),
      noSignal(),
    );
    assert.equal(response.status, 429);
    assert.equal(response.body, '{"error":"slow down"}');
    assert.equal(server.hits(), 1);
    assert.ok(performance.now() - started < 1000);
  });

  it("open(): a Retry-After past budget or deadline is the provider's 429 at once", async () => {
    const started = performance.now();
    const farDate = new Date(Date.now() + 86_400_000).toUTCString();
    const cases = [
      { headers: { 'Retry-After': farDate }, options: {} },
      { headers: { 'retry-after-ms': '5000' }, options: { firstByteTimeoutMs: 1000 } },
    ];
    for (const { headers, options } of cases) {
      const server = await throttledOnce(headers);
      await assert.rejects(
        client().open(post(server.url), config({ max_retry_times: 5 }), noSignal(), options),
        (error: unknown) => {
          isError('upstream', /^Error from remote service: \{"error":"slow down"\}$/)(error);
          assert.equal((error as ServiceError).status, 429);
          return true;
        },
      );
      assert.equal(server.hits(), 1);
    }
    assert.ok(performance.now() - started < 1000);
  });

  for (const method of ['send', 'open'] as const) {
    it(`${method}(): an abort during a Retry-After wait rejects at once`, async () => {
      const server = await throttledOnce({ 'Retry-After': '20' });
      const controller = new AbortController();
      const waits: number[] = [];
      const upstream = client(openPolicy, { retryTools: abortingSleep(controller, waits) });
      const started = performance.now();
      const calling =
        method === 'send'
          ? upstream.send(post(server.url), retryOnce, controller.signal)
          : upstream.open(post(server.url), retryOnce, controller.signal);
      await assert.rejects(calling, isError('canceled'));
      assert.deepEqual(waits, [20_000]);
      assert.ok(performance.now() - started < 1000);
      assert.equal(server.hits(), 1);
      assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    });
  }
});
