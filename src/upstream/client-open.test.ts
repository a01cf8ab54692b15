import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer as createTcpServer } from 'node:net';
import { after, describe, it } from 'node:test';
import type { ServiceError } from '../domain/errors.ts';
import {
  client,
  closeAll,
  closed,
  config,
  httpServer,
  instantRetries,
  isError,
  noSignal,
  openPolicy,
  post,
  silentTcpServer,
} from './client.fixtures.ts';

after(closeAll);

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
