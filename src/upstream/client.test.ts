import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { type ClientConfig, defaultClientConfig } from '../domain/connector.ts';
import { ServiceError } from '../domain/errors.ts';
import type { UpstreamCall } from '../domain/provider.ts';
import { type EndpointPolicy, UpstreamClient, type UpstreamClientOptions } from './client.ts';
import { abortableSleep, type RetryTools } from './retry.ts';

type Handler = (request: IncomingMessage, response: ServerResponse, hit: number) => void;

interface TestServer {
  url: string;
  port: number;
  hits: () => number;
  connections: () => number;
  /** Resolves with the next accepted socket (or the one already accepted but not yet taken). */
  nextSocket: () => Promise<Socket>;
}

const servers: Server[] = [];
const clients: UpstreamClient[] = [];

after(async () => {
  await Promise.all(clients.map((client) => client.close()));
  for (const server of servers) {
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  }
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

function track(server: Server, port: number, scheme: string, hits: () => number): TestServer {
  const accepted: Socket[] = [];
  const waiting: ((socket: Socket) => void)[] = [];
  let connections = 0;
  server.on('connection', (socket: Socket) => {
    connections += 1;
    const waiter = waiting.shift();
    if (waiter) waiter(socket);
    else accepted.push(socket);
  });
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    hits,
    connections: () => connections,
    nextSocket: () => {
      const socket = accepted.shift();
      return socket ? Promise.resolve(socket) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

async function httpServer(handler: Handler): Promise<TestServer> {
  let hits = 0;
  const server = createServer((request, response) => {
    hits += 1;
    request.resume();
    handler(request, response, hits);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return track(server, port, 'http', () => hits);
}

/** Accepts TCP and never speaks: an https client stays in its TLS handshake ("connecting"). */
async function silentTcpServer(): Promise<TestServer> {
  const server = createTcpServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return track(server, port, 'https', () => 0);
}

const closed = (socket: Socket): Promise<void> =>
  socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', resolve));

const openPolicy: EndpointPolicy = { trustedEndpointsRegex: ['.*'], privateIpEnabled: true };

function client(
  policy: EndpointPolicy = openPolicy,
  options: Omit<UpstreamClientOptions, 'endpointPolicy'> = {},
): UpstreamClient {
  const created = new UpstreamClient({ endpointPolicy: () => policy, ...options });
  clients.push(created);
  return created;
}

function config(overrides: Partial<ClientConfig> = {}): ClientConfig {
  return { ...defaultClientConfig, ...overrides };
}

function post(url: string, headers: Record<string, string> = {}): UpstreamCall {
  return {
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    body: '{}',
  };
}

/** Retries without waiting: the clock only moves when the loop sleeps. */
function instantRetries(): Partial<RetryTools> {
  let clock = 0;
  return {
    now: () => clock,
    sleep: async (milliseconds) => {
      clock += milliseconds;
    },
  };
}

function isError(code: string, message?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(ServiceError.isInstance(error), `expected a ServiceError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  };
}

const statusSequence =
  (...statuses: number[]): Handler =>
  (_request, response, hit) => {
    response.statusCode = statuses[Math.min(hit, statuses.length) - 1] ?? 200;
    response.end(`{"hit":${hit}}`);
  };

const noSignal = (): AbortSignal => new AbortController().signal;

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
      trustedEndpointsRegex: ['^https://api\\.openai\\.com/.*$'],
      privateIpEnabled: true,
    });
    await assert.rejects(
      upstream.send(post(server.url), config(), noSignal()),
      isError('bad_request', /not matching the trusted connector endpoint regex/),
    );
    assert.equal(server.connections(), 0);
  });

  it('refuses loopback literals and loopback host names when private IPs are disabled', async () => {
    const server = await httpServer(statusSequence(200));
    const upstream = client({ trustedEndpointsRegex: ['.*'], privateIpEnabled: false });
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
    const policy = { trustedEndpointsRegex: ['.*'], privateIpEnabled: true };
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

describe('UpstreamClient.open', () => {
  it('streams the body chunk by chunk and removes its listeners when done', async () => {
    const server = await httpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: one\n\n');
      response.write('data: two\n\n');
      response.end('data: [DONE]\n\n');
    });
    const controller = new AbortController();
    const stream = await client().open(post(server.url), config(), controller.signal);
    assert.equal(stream.status, 200);
    assert.equal(stream.headers['content-type'], 'text/event-stream');
    let text = '';
    for await (const chunk of stream.body) text += Buffer.from(chunk).toString('utf8');
    assert.equal(text, 'data: one\n\ndata: two\n\ndata: [DONE]\n\n');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  it('retries a 503 before any body byte is handed out', async () => {
    const server = await httpServer((_request, response, hit) => {
      response.statusCode = hit === 1 ? 503 : 200;
      response.end(hit === 1 ? 'busy' : 'ok');
    });
    const upstream = client(openPolicy, { retryTools: instantRetries() });
    const stream = await upstream.open(
      post(server.url),
      config({ max_retry_times: 1 }),
      noSignal(),
    );
    let text = '';
    for await (const chunk of stream.body) text += Buffer.from(chunk).toString('utf8');
    assert.equal(text, 'ok');
    assert.equal(server.hits(), 2);
  });

  it('turns a non-2xx answer into ServiceError(upstream) with the provider status and body', async () => {
    const server = await httpServer((request, response) => {
      response.statusCode = 401;
      response.end(`{"error":"bad key ${request.headers.authorization}"}`);
    });
    await assert.rejects(
      client().open(
        post(server.url, { Authorization: 'Bearer sk-very-secret-key' }),
        config(),
        noSignal(),
      ),
      (error: unknown) => {
        isError('upstream', /^Error from remote service: \{"error":"bad key \*\*\*"\}$/)(error);
        assert.equal((error as ServiceError).status, 401);
        assert.doesNotMatch((error as ServiceError).message, /sk-very-secret-key/);
        return true;
      },
    );
  });

  it('truncates a huge error body', async () => {
    const server = await httpServer((_request, response) => {
      response.statusCode = 500;
      response.end('e'.repeat(100_000));
    });
    await assert.rejects(
      client().open(post(server.url), config(), noSignal()),
      (error: unknown) => {
        isError('upstream')(error);
        assert.ok((error as ServiceError).message.length < 5000);
        assert.equal((error as ServiceError).status, 500);
        return true;
      },
    );
  });

  it('an abort while connecting destroys the half-open socket at once', {
    timeout: 10_000,
  }, async () => {
    const server = await silentTcpServer();
    const controller = new AbortController();
    // connection_timeout is long on purpose: only the abort can end this attempt quickly.
    const opening = client().open(
      post(server.url),
      config({ connection_timeout: 60 }),
      controller.signal,
    );
    const socket = await server.nextSocket();
    controller.abort();
    await assert.rejects(opening, isError('canceled'));
    await closed(socket);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  it('an abort while waiting for headers closes the connection', { timeout: 10_000 }, async () => {
    const controller = new AbortController();
    const server = await httpServer(() => controller.abort());
    const opening = client().open(
      post(server.url),
      config({ read_timeout: 60 }),
      controller.signal,
    );
    const socket = await server.nextSocket();
    await assert.rejects(opening, isError('canceled'));
    await closed(socket);
  });

  it('an abort mid-body closes the connection and fails the iteration', {
    timeout: 10_000,
  }, async () => {
    const server = await httpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: first\n\n');
    });
    const controller = new AbortController();
    const stream = await client().open(post(server.url), config(), controller.signal);
    const socket = await server.nextSocket();
    const iterator = stream.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(Buffer.from(first.value ?? []).toString('utf8'), 'data: first\n\n');
    controller.abort();
    await assert.rejects(iterator.next(), isError('canceled'));
    await closed(socket);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  it('a connection reset mid-body is an error, never a clean end', async () => {
    const server = await httpServer((request, response) => {
      response.writeHead(200);
      response.write('data: first\n\n', () => request.socket.destroy());
    });
    const stream = await client().open(post(server.url), config(), noSignal());
    const received: string[] = [];
    await assert.rejects(
      async () => {
        for await (const chunk of stream.body) received.push(Buffer.from(chunk).toString('utf8'));
      },
      isError('upstream_unavailable', /^Connection to remote service failed: /),
    );
    assert.deepEqual(received, ['data: first\n\n']);
  });

  it('abort() releases the socket early', { timeout: 10_000 }, async () => {
    const server = await httpServer((_request, response) => {
      response.writeHead(200);
      response.write('partial');
    });
    const controller = new AbortController();
    const stream = await client().open(post(server.url), config(), controller.signal);
    const socket = await server.nextSocket();
    stream.abort();
    await closed(socket);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  it('breaking out of the loop releases the socket', { timeout: 10_000 }, async () => {
    const server = await httpServer((_request, response) => {
      response.writeHead(200);
      response.write('partial');
    });
    const stream = await client().open(post(server.url), config(), noSignal());
    const socket = await server.nextSocket();
    for await (const _chunk of stream.body) break;
    await closed(socket);
  });

  it('an abort while queued for a pooled connection ends the call at once', {
    timeout: 10_000,
  }, async () => {
    const server = await httpServer((_request, response) => {
      response.writeHead(200);
      response.write('holding the only connection');
    });
    const upstream = client();
    const single = config({ max_connection: 1 });
    const holder = await upstream.open(post(server.url), single, noSignal());
    const controller = new AbortController();
    const queued = upstream.open(post(server.url), single, controller.signal);
    controller.abort();
    await assert.rejects(queued, isError('canceled'));
    holder.abort();
    assert.equal(server.hits(), 1);
  });

  it('uses firstByteTimeoutMs for the wait on headers', async () => {
    const server = await httpServer(() => {});
    await assert.rejects(
      client().open(post(server.url), config({ read_timeout: 60 }), noSignal(), {
        firstByteTimeoutMs: 200,
      }),
      isError('timeout', /did not respond within 0\.2s/),
    );
  });

  it('reports a connection refused while opening as upstream_unavailable', async () => {
    const server = createTcpServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    await assert.rejects(
      client().open(post(`http://127.0.0.1:${port}/`), config(), noSignal()),
      isError('upstream_unavailable', /connection refused/),
    );
  });
});
