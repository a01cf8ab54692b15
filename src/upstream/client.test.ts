import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer as createTcpServer } from 'node:net';
import { after, describe, it } from 'node:test';
import type { ServiceError } from '../domain/errors.ts';
import type { UpstreamCall } from '../domain/provider.ts';
import {
  client,
  closeAll,
  config,
  httpServer,
  instantRetries,
  isError,
  noSignal,
  openPolicy,
  post,
  statusSequence,
} from './client.fixtures.ts';
import { abortableSleep } from './retry.ts';

after(closeAll);

describe('UpstreamClient.send', () => {
  it('retries 503, 503 then succeeds with max_retry_times 2', async () => {
    const server = await httpServer(statusSequence(503, 503, 200));
    const upstream = client(openPolicy, { retryTools: instantRetries() });
    const response = await upstream.send(
      post(server.url),
      config({ max_retry_times: 2 }),
      noSignal(),
    );
    assert.equal(response.status, 200);
    assert.equal(response.body, '{"hit":3}');
    assert.equal(server.hits(), 3);
  });

  it('does not retry a 400 and returns it to the caller', async () => {
    const server = await httpServer(statusSequence(400, 200));
    const upstream = client(openPolicy, { retryTools: instantRetries() });
    const response = await upstream.send(
      post(server.url),
      config({ max_retry_times: 3 }),
      noSignal(),
    );
    assert.equal(response.status, 400);
    assert.equal(server.hits(), 1);
  });

  it('retries a 429', async () => {
    const server = await httpServer(statusSequence(429, 200));
    const upstream = client(openPolicy, { retryTools: instantRetries() });
    const response = await upstream.send(
      post(server.url),
      config({ max_retry_times: 1 }),
      noSignal(),
    );
    assert.equal(response.status, 200);
    assert.equal(server.hits(), 2);
  });

  it('with max_retry_times -1, stops once retry_timeout_seconds has passed', async () => {
    const server = await httpServer(statusSequence(503));
    const upstream = client(openPolicy, { retryTools: instantRetries() });
    const response = await upstream.send(
      post(server.url),
      config({ max_retry_times: -1, retry_backoff_millis: 250, retry_timeout_seconds: 1 }),
      noSignal(),
    );
    assert.equal(response.status, 503);
    // Failures at 0, 250, 500 and 750 ms are retried; the one at 1000 ms is final.
    assert.equal(server.hits(), 5);
  });

  it('an abort during the backoff wait ends the call at once', async () => {
    const server = await httpServer(statusSequence(503));
    const controller = new AbortController();
    const upstream = client(openPolicy, {
      retryTools: {
        sleep: (milliseconds, signal) => {
          const sleeping = abortableSleep(milliseconds, signal);
          controller.abort();
          return sleeping;
        },
      },
    });
    await assert.rejects(
      upstream.send(
        post(server.url),
        config({ max_retry_times: 5, retry_backoff_millis: 600_000 }),
        controller.signal,
      ),
      isError('canceled'),
    );
    assert.equal(server.hits(), 1);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  it('signs every attempt again', async () => {
    const seen: (string | string[] | undefined)[] = [];
    const server = await httpServer((request, response, hit) => {
      seen.push(request.headers['x-signed']);
      response.statusCode = hit === 1 ? 503 : 200;
      response.end();
    });
    let signatures = 0;
    const sign = async (call: UpstreamCall): Promise<UpstreamCall> => {
      signatures += 1;
      return { ...call, headers: { ...call.headers, 'x-signed': `attempt-${signatures}` } };
    };
    const upstream = client(openPolicy, { retryTools: instantRetries() });
    await upstream.send(post(server.url), config({ max_retry_times: 1 }), noSignal(), sign);
    assert.deepEqual(seen, ['attempt-1', 'attempt-2']);
  });

  it('reports a refused connection as upstream_unavailable', async () => {
    const server = createTcpServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const upstream = client();
    await assert.rejects(
      upstream.send(post(`http://127.0.0.1:${port}/`), config(), noSignal()),
      (error: unknown) =>
        isError(
          'upstream_unavailable',
          /^Connection to remote service failed: connection refused$/,
        )(error) && (error as ServiceError).retryable,
    );
  });

  it('caps the response body', async () => {
    const server = await httpServer((request, response) => {
      if (request.url === '/declared') response.setHeader('content-length', 2000);
      response.end('x'.repeat(2000));
    });
    const upstream = client(openPolicy, { maxResponseBytes: 1000 });
    for (const path of ['/declared', '/chunked']) {
      await assert.rejects(
        upstream.send(post(server.url + path), config(), noSignal()),
        isError('upstream_protocol', /larger than 1000 bytes/),
      );
    }
  });

  it('turns a missing response into a timeout', async () => {
    const server = await httpServer(() => {});
    const upstream = client();
    await assert.rejects(
      upstream.send(post(server.url), config({ read_timeout: 0.2 }), noSignal()),
      isError('timeout', /did not respond/),
    );
  });

  it('refuses a call undici cannot send as bad_request, without echoing the header', async () => {
    const server = await httpServer(statusSequence(200));
    await assert.rejects(
      client().send(post(server.url, { 'x-token': 'secret\r\nvalue' }), config(), noSignal()),
      (error: unknown) =>
        isError('bad_request')(error) && !(error as ServiceError).message.includes('secret'),
    );
    assert.equal(server.hits(), 0);
  });

  it('leaves no listener on a long-lived signal', async () => {
    const server = await httpServer(statusSequence(200));
    const controller = new AbortController();
    const upstream = client();
    await upstream.send(post(server.url), config(), controller.signal);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });
});

describe('endpoint checks on every call', () => {
  it('refuses a URL outside the trusted regex before connecting', async () => {
    const server = await httpServer(statusSequence(200));
    const upstream = client({
      ...openPolicy,
      trustedEndpointsRegex: ['^https://api\\.openai\\.com/.*$'],
    });
    await assert.rejects(
      upstream.send(post(server.url), config(), noSignal()),
      isError('bad_request', /not matching the trusted connector endpoint regex/),
    );
    assert.equal(server.connections(), 0);
  });

  it('refuses loopback literals and loopback host names when private IPs are disabled', async () => {
    const server = await httpServer(statusSequence(200));
    const upstream = client({ ...openPolicy, privateIpEnabled: false });
    await assert.rejects(
      upstream.send(post(server.url), config(), noSignal()),
      isError('bad_request', /^Remote inference host name has private ip address: 127\.0\.0\.1$/),
    );
    await assert.rejects(
      upstream.open(post(`http://localhost:${server.port}/`), config(), noSignal()),
      isError('bad_request', /^Remote inference host name has private ip address: localhost$/),
    );
    assert.equal(server.connections(), 0);
  });

  it('reads the policy again for each call', async () => {
    const server = await httpServer(statusSequence(200));
    const policy = { ...openPolicy };
    const upstream = client(policy);
    assert.equal((await upstream.send(post(server.url), config(), noSignal())).status, 200);
    policy.privateIpEnabled = false;
    await assert.rejects(
      upstream.send(post(`http://localhost:${server.port}/`), config(), noSignal()),
      isError('bad_request'),
    );
    assert.equal(server.hits(), 1);
  });
});
