/**
 * The gRPC message framer against every way HTTP/2 can cut a stream: messages split across
 * chunks, several messages in one chunk, one byte at a time, random cuts; and against garbage,
 * which must fail cleanly (never crash otherwise, hang, or keep more than it was given).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  createMessageDecoder,
  frameMessage,
  GrpcFramingError,
  messagePrefixBytes,
  writeMessagePrefix,
} from './grpc-framing.ts';
import { GrpcStatus } from './grpc-protocol.ts';

/** Cuts `bytes` at the given offsets (any order, duplicates and out-of-range values allowed). */
function cut(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((offset) => Math.min(Math.max(offset, 0), bytes.length)))];
  points.sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    // Fresh memory per chunk, as Node's HTTP/2 streams hand it out.
    chunks.push(bytes.slice(start, point));
    start = point;
  }
  return chunks;
}

interface Outcome {
  messages: Uint8Array[];
  idle: boolean;
  error?: unknown;
}

function decode(chunks: Iterable<Uint8Array>, maxMessageBytes = 1024 * 1024): Outcome {
  const messages: Uint8Array[] = [];
  const decoder = createMessageDecoder((message) => messages.push(message), maxMessageBytes);
  try {
    for (const chunk of chunks) decoder.push(chunk);
    return { messages, idle: decoder.idle };
  } catch (error) {
    return { messages, idle: decoder.idle, error };
  }
}

const stream = (messages: readonly Uint8Array[]): Uint8Array =>
  Buffer.concat(messages.map(frameMessage));

/** Comparable form: hex per message (fast to compare, readable in a failure). */
const plain = (messages: readonly Uint8Array[]) =>
  messages.map((message) => Buffer.from(message).toString('hex'));

const someMessages = [
  Uint8Array.from([1, 2, 3]),
  new Uint8Array(0),
  new Uint8Array(2_000).map((_, index) => index % 251),
  Uint8Array.from([0]),
  new Uint8Array(0),
];

describe('framing', () => {
  test('a frame is flag 0, the length as uint32 big-endian, then the message', () => {
    assert.deepEqual([...frameMessage(Uint8Array.from([7, 8]))], [0, 0, 0, 0, 2, 7, 8]);
    const headroom = Buffer.alloc(messagePrefixBytes + 300, 9);
    assert.deepEqual([...writeMessagePrefix(headroom).subarray(0, 5)], [0, 0, 0, 1, 44]);
  });
});

describe('any chunking gives the same messages', () => {
  const bytes = stream(someMessages);

  test('every two-piece split', () => {
    for (let point = 0; point <= bytes.length; point++) {
      const outcome = decode(cut(bytes, [point]));
      assert.equal(outcome.error, undefined, `split at ${point}`);
      assert.deepEqual(plain(outcome.messages), plain(someMessages), `split at ${point}`);
      assert.equal(outcome.idle, true);
    }
  });

  test('one byte at a time, also through a message larger than an HTTP/2 frame', () => {
    const messages = [...someMessages, new Uint8Array(40_000).map((_, index) => index % 253)];
    const all = stream(messages);
    const outcome = decode(
      cut(
        all,
        Array.from({ length: all.length }, (_, index) => index),
      ),
    );
    assert.deepEqual(plain(outcome.messages), plain(messages));
    assert.equal(outcome.idle, true);
  });

  test('random messages, random cuts (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
        fc.array(fc.nat({ max: 4_000 }), { maxLength: 40 }),
        (messages, offsets) => {
          const outcome = decode(cut(stream(messages), offsets));
          assert.equal(outcome.error, undefined);
          assert.deepEqual(plain(outcome.messages), plain(messages));
          assert.equal(outcome.idle, true);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('a stream cut mid-message is not idle', () => {
    const bytes = stream([Uint8Array.from([1, 2, 3])]);
    for (let length = 1; length < bytes.length; length++) {
      const outcome = decode([bytes.slice(0, length)]);
      assert.deepEqual(outcome.messages, []);
      assert.equal(outcome.idle, false, `after ${length} bytes`);
    }
  });
});

describe('bad input', () => {
  function assertFraming(error: unknown, code: GrpcStatus, pattern: RegExp) {
    assert.ok(error instanceof GrpcFramingError, `expected a GrpcFramingError, got ${error}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
  }

  test('a declared length over the limit fails at the prefix, before any body arrives', () => {
    const prefix = Uint8Array.from([0, 0, 0, 4, 1]); // 1025 bytes announced
    const outcome = decode([prefix], 1024);
    assertFraming(
      outcome.error,
      GrpcStatus.RESOURCE_EXHAUSTED,
      /larger than max \(1025 vs\. 1024\)/,
    );
    assert.equal(decode([prefix.slice(0, 4), prefix.slice(4)], 1024).error instanceof Error, true);
    assert.deepEqual(decode([stream([new Uint8Array(1024)])], 1024).messages.length, 1);
  });

  test('a huge announced message costs only the bytes that actually came', () => {
    const before = process.memoryUsage().arrayBuffers;
    const decoders = Array.from({ length: 16 }, () => createMessageDecoder(() => {}, 2 ** 31));
    // 16 messages of almost 2 GiB announced, 10 bytes of each sent.
    for (const decoder of decoders)
      decoder.push(Uint8Array.from([0, 0x7f, 0xff, 0xff, 0xff, ...new Uint8Array(10)]));
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 64 * 1024 * 1024, `grew by ${grown} bytes`);
    assert.ok(decoders.every((decoder) => !decoder.idle));
  });

  test('compressed or unknown flags are refused', () => {
    assertFraming(
      decode([Uint8Array.from([1, 0, 0, 0, 0])]).error,
      GrpcStatus.INTERNAL,
      /compressed message/,
    );
    assertFraming(decode([Uint8Array.from([2, 0, 0, 0, 0])]).error, GrpcStatus.INTERNAL, /flag 2/);
  });

  test('once failed, the decoder stays failed', () => {
    const messages: Uint8Array[] = [];
    const decoder = createMessageDecoder((message) => messages.push(message), 10);
    assert.throws(() => decoder.push(Uint8Array.from([0, 0, 0, 0, 11])), GrpcFramingError);
    assert.throws(() => decoder.push(frameMessage(Uint8Array.from([1]))), GrpcFramingError);
    assert.deepEqual(messages, []);
    assert.equal(decoder.idle, false);
  });

  test('an error thrown by the message callback kills the decoder too', () => {
    let calls = 0;
    const decoder = createMessageDecoder(() => {
      calls++;
      throw new Error('consumer failed');
    }, 10);
    assert.throws(
      () => decoder.push(stream([Uint8Array.from([1]), Uint8Array.from([2])])),
      /consumer/,
    );
    assert.throws(() => decoder.push(frameMessage(Uint8Array.from([3]))), /consumer/);
    assert.equal(calls, 1);
  });

  test('garbage never crashes otherwise, never delivers more than it got (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2_000 }),
        fc.array(fc.nat({ max: 2_000 }), { maxLength: 20 }),
        fc.integer({ min: 0, max: 600 }),
        (bytes, offsets, limit) => {
          const outcome = decode(cut(bytes, offsets), limit);
          if (outcome.error !== undefined) assert.ok(outcome.error instanceof GrpcFramingError);
          let delivered = 0;
          for (const message of outcome.messages) {
            assert.ok(message.length <= limit);
            delivered += message.length + messagePrefixBytes;
          }
          assert.ok(delivered <= bytes.length);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
