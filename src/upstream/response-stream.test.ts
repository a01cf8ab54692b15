/**
 * What the streaming body keeps from a Readable (response-stream.ts): coalescing, backpressure,
 * the pooled socket after an early stop. Cancellation and failures are in client-open.test.ts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { drained } from '../api/sse.ts';
import { client, closeAll, config, httpServer, noSignal, post } from './client.fixtures.ts';

after(closeAll);

const text = (chunk: Uint8Array) => Buffer.from(chunk).toString('utf8');

describe('the streaming response body', () => {
  it('hands out the chunks of one socket read as one buffer', async () => {
    const events = Array.from({ length: 20 }, (_, index) => `data: ${index}\n\n`);
    const server = await httpServer((_request, response) => {
      response.writeHead(200);
      response.flushHeaders();
      // After the headers, so the body's chunks travel in one segment of their own.
      setTimeout(() => {
        response.socket?.cork();
        for (const event of events) response.write(event);
        response.end();
        process.nextTick(() => response.socket?.uncork());
      }, 20);
    });
    const stream = await client().open(post(server.url), config(), noSignal());
    const received: string[] = [];
    for await (const chunk of stream.body) received.push(text(chunk));
    assert.equal(received.join(''), events.join(''));
    assert.equal(received.length, 1, 'twenty HTTP chunks from one read, one buffer');
  });

  it('stops reading while the consumer does not pull, then resumes without loss', async () => {
    const piece = 'x'.repeat(16 * 1024);
    const total = 2000;
    let written = 0;
    const server = await httpServer(async (_request, response) => {
      response.writeHead(200);
      for (let index = 0; index < total && !response.destroyed; index++) {
        written += 1;
        if (!response.write(piece)) await drained(response);
      }
      response.end();
    });
    const stream = await client().open(post(server.url), config(), noSignal());
    const iterator = stream.body[Symbol.asyncIterator]();
    await iterator.next();
    // Not pulling: the server's writes stop once the socket buffers and the queue are full.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const whilePaused = written;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(written, whilePaused, 'the server is held back while nobody reads');
    assert.ok(whilePaused < total, `held back after ${whilePaused} of ${total} pieces`);
    let bytes = 0;
    for (;;) {
      const result = await iterator.next();
      if (result.done) break;
      bytes += result.value.length;
    }
    assert.ok(written === total);
    // The first pull's bytes were dropped above; everything after it arrived.
    assert.ok(bytes >= (total - 1) * piece.length - 64 * 1024, `read ${bytes} bytes`);
  });

  it('a consumer that stops at the end marker leaves the socket in the pool', async () => {
    const server = await httpServer((_request, response) => {
      response.writeHead(200);
      response.write('data: last\n\n');
      // The tail the consumer never reads: a done marker and the chunked terminator.
      setTimeout(() => response.end('data: [DONE]\n\n'), 20);
    });
    const upstream = client();
    for (let round = 0; round < 3; round++) {
      const stream = await upstream.open(post(server.url), config(), noSignal());
      for await (const chunk of stream.body) {
        assert.equal(text(chunk), 'data: last\n\n');
        break;
      }
      // Let the tail arrive and the socket go back to the pool.
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    assert.equal(server.hits(), 3);
    assert.equal(server.connections(), 1, 'one connection served every stream');
  });

  it('a body that keeps talking after the consumer left is closed', async () => {
    const server = await httpServer(async (_request, response) => {
      response.writeHead(200);
      while (!response.destroyed) {
        if (!response.write('y'.repeat(8 * 1024))) await drained(response);
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    const stream = await client().open(post(server.url), config(), noSignal());
    const socket = await server.nextSocket();
    for await (const _chunk of stream.body) break;
    // More than the drain allowance arrives within milliseconds: closed long before 1 s.
    await once(socket, 'close');
  });
});
