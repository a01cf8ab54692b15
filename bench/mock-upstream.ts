/**
 * The benchmark's upstream: an OpenAI chat-completions server on node:http that streams
 * `chat.completion.chunk` SSE events shaped by the query string (see protocol.ts). It runs in
 * its own process (forked by run.ts with an IPC channel) so its CPU is not the load
 * generator's, and it reports when a tagged response closes so cancellation latency can be
 * measured against the client's disconnect time.
 *
 * Pacing uses timers scheduled against the stream's start (no drift accumulates), and writes
 * honour backpressure: when `write()` returns false nothing more is written until `drain`.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { drained } from '../src/api/sse.ts';
import {
  epochNow,
  type MockCounters,
  type MockMessage,
  type ParentMessage,
  parseShape,
  type StreamShape,
  type TagProgress,
  tagPrefix,
  upstreamPath,
} from './protocol.ts';

const counters: MockCounters = {
  started: 0,
  completed: 0,
  aborted: 0,
  active: 0,
  connections: 0,
  missingStreamFlags: 0,
};
/** Progress of open tagged streams; an entry is removed when its close is reported. */
const tagged = new Map<string, TagProgress>();
// A bound on the bookkeeping, in case a scenario tags far more streams than it queries.
const maxTagged = 10_000;
// Unpaced streams yield to the event loop this often so other streams get their turn.
const eventsPerSlice = 64;

function send(message: MockMessage): void {
  process.send?.(message);
}

function payloadOf(bytes: number): string {
  // Letters only: nothing to escape in JSON, so the byte count is exact.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz';
  return alphabet.repeat(Math.ceil(bytes / alphabet.length)).slice(0, bytes);
}

interface EncodedStream {
  content: string;
  finish: string;
  usage: string;
}

const encodedByBytes = new Map<number, EncodedStream>();

/** Events are encoded once per payload size; every stream writes the same strings. */
function encodedFor(shape: StreamShape): EncodedStream {
  const cached = encodedByBytes.get(shape.bytes);
  if (cached !== undefined) return cached;
  const head = '{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,';
  const chunk = (choices: string, extra = '') =>
    `data: ${head}"model":"m","choices":${choices}${extra}}\n\n`;
  const encoded: EncodedStream = {
    content: chunk(
      `[{"index":0,"delta":{"content":"${payloadOf(shape.bytes)}"},"finish_reason":null}]`,
    ),
    finish: chunk('[{"index":0,"delta":{},"finish_reason":"stop"}]'),
    usage: chunk('[]', ',"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}'),
  };
  encodedByBytes.set(shape.bytes, encoded);
  return encoded;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function tagOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const messages = (body as { messages?: unknown }).messages;
  if (!Array.isArray(messages)) return undefined;
  const content = (messages[0] as { content?: unknown } | undefined)?.content;
  return typeof content === 'string' && content.startsWith(tagPrefix) ? content : undefined;
}

function hasStreamFlags(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const { stream, stream_options: options } = body as {
    stream?: unknown;
    stream_options?: { include_usage?: unknown };
  };
  return stream === true && options?.include_usage === true;
}

/** Resolves after `milliseconds`, or at once when the response closes first. */
function waitOrClose(response: ServerResponse, milliseconds: number): Promise<void> {
  if (milliseconds <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      response.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, milliseconds);
    response.once('close', done);
  });
}

async function writeStream(
  response: ServerResponse,
  shape: StreamShape,
  progress: TagProgress | undefined,
): Promise<void> {
  const encoded = encodedFor(shape);
  const startedAt = performance.now();
  const closed = () => response.destroyed || response.writableEnded;
  const write = async (text: string) => {
    if (progress !== undefined) {
      progress.bytesWritten += Buffer.byteLength(text);
      progress.eventsWritten += 1;
    }
    if (!response.write(text)) await drained(response);
  };
  await waitOrClose(response, shape.firstDelayMs);
  for (let index = 0; index < shape.events && !closed(); index += 1) {
    if (index === 1) await waitOrClose(response, shape.holdMs);
    if (index > 0 && shape.paceMs > 0) {
      // Scheduled from the start, so a late timer does not push every later event back.
      const due = startedAt + shape.firstDelayMs + shape.holdMs + index * shape.paceMs;
      await waitOrClose(response, due - performance.now());
    } else if (index % eventsPerSlice === 0 && index > 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (closed()) return;
    await write(encoded.content);
  }
  if (closed()) return;
  await write(encoded.finish);
  await write(encoded.usage);
  await write('data: [DONE]\n\n');
  if (!closed()) response.end();
}

async function handleStream(
  request: IncomingMessage,
  response: ServerResponse,
  shape: StreamShape,
): Promise<void> {
  let body: unknown;
  try {
    body = JSON.parse(await readBody(request));
  } catch {
    response.writeHead(400, { 'content-type': 'application/json' });
    response.end('{"error":{"message":"body is not JSON","type":"invalid_request_error"}}');
    return;
  }
  if (!hasStreamFlags(body)) counters.missingStreamFlags += 1;
  const tag = tagOf(body);
  let progress: TagProgress | undefined;
  if (tag !== undefined && tagged.size < maxTagged) {
    progress = { bytesWritten: 0, eventsWritten: 0 };
    tagged.set(tag, progress);
  }
  counters.started += 1;
  counters.active += 1;
  response.once('close', () => {
    // The moment the mock learns the client (Sluice, or the load generator) went away.
    const atEpochMs = epochNow();
    const completed = response.writableFinished;
    counters.active -= 1;
    if (completed) counters.completed += 1;
    else counters.aborted += 1;
    if (tag !== undefined) {
      tagged.delete(tag);
      send({ type: 'closed', tag, atEpochMs, completed });
    }
  });
  response.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  await writeStream(response, shape, progress);
}

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  if (request.method !== 'POST' || url.pathname !== upstreamPath) {
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end('{"error":{"message":"not found","type":"invalid_request_error"}}');
    return;
  }
  handleStream(request, response, parseShape(url.searchParams)).catch((error: unknown) => {
    process.stderr.write(`mock-upstream: ${String(error)}\n`);
    response.destroy();
  });
});
server.on('connection', () => {
  counters.connections += 1;
});
// Longer than Sluice's pooled keep-alive (10 s), so Sluice never reuses a socket being closed.
server.keepAliveTimeout = 65_000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;

process.on('message', (raw: ParentMessage) => {
  if (raw.type === 'reset-counters') {
    counters.started = 0;
    counters.completed = 0;
    counters.aborted = 0;
    counters.connections = 0;
    counters.missingStreamFlags = 0;
    tagged.clear();
    return;
  }
  // Forked with --expose-gc, so the memory scenarios can read RSS without pending garbage.
  if (raw.collectGarbage === true) globalThis.gc?.();
  const progress = raw.tag === undefined ? undefined : tagged.get(raw.tag);
  send({
    type: 'answer',
    requestId: raw.requestId,
    counters: { ...counters },
    rssBytes: process.memoryUsage.rss(),
    heapUsedBytes: process.memoryUsage().heapUsed,
    ...(progress === undefined ? {} : { tag: { ...progress } }),
  });
});
// The parent owns this process: when it goes away (even killed), so does the mock.
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1');
await once(server, 'listening');
send({ type: 'ready', port: (server.address() as AddressInfo).port });
