import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { EventStreamCodec, Int64, type MessageHeaders } from '@smithy/eventstream-codec';
import fc from 'fast-check';
import {
  assertProtocolError,
  cut,
  cutPoints,
  decode,
  everyTwoPieceSplit,
  oneByteAtATime,
  thrown,
  utf8,
} from './__fixtures__/chunking.ts';
import {
  createEventStreamDecoder,
  type EventStreamDecoderOptions,
  type EventStreamFrame,
} from './event-stream.ts';

// smithy's codec is the reference encoder; our decoder must read what it writes.
const codec = new EventStreamCodec(
  (bytes) => new TextDecoder().decode(bytes),
  (text) => new TextEncoder().encode(text),
);
const encode = (headers: MessageHeaders, body: Uint8Array | string = ''): Uint8Array =>
  codec.encode({ headers, body: typeof body === 'string' ? utf8(body) : body });

const eventStream =
  (options: EventStreamDecoderOptions = {}) =>
  (onFrame: (frame: EventStreamFrame) => void) =>
    createEventStreamDecoder(onFrame, options);
// A payload may be a view into the pushed chunk; the test runner scribbles over chunks after
// push(), so frames are copied in the callback as a consumer that keeps them must do.
const keep = (frame: EventStreamFrame): EventStreamFrame => ({
  ...frame,
  payload: frame.payload.slice(),
});
const run = (chunks: Iterable<Uint8Array>, options?: EventStreamDecoderOptions) =>
  decode(eventStream(options), chunks, keep);

const frame = (headers: Record<string, string>, payload: string): EventStreamFrame => ({
  framing: 'aws-event-stream',
  headers,
  payload: utf8(payload),
});

/**
 * A frame with the given raw parts and correct checksums, however wrong its declared lengths are
 * (the bytes are always prelude · headers · checksum, whatever `total` says).
 */
function rawFrame(parts: {
  total?: number;
  headersLength?: number;
  headers?: Uint8Array;
  payload?: string;
}) {
  const headers = parts.headers ?? new Uint8Array(0);
  const payload = utf8(parts.payload ?? '');
  const total = parts.total ?? 16 + headers.length + payload.length;
  const bytes = Buffer.alloc(12 + headers.length + payload.length + 4);
  bytes.writeUInt32BE(total, 0);
  bytes.writeUInt32BE(parts.headersLength ?? headers.length, 4);
  bytes.writeUInt32BE(crc32(bytes.subarray(0, 8)), 8);
  bytes.set(headers, 12);
  bytes.set(payload, 12 + headers.length);
  bytes.writeUInt32BE(crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4);
  return bytes;
}

const bedrockHeaders = (eventType: string, messageType = 'event') => ({
  ':event-type': { type: 'string' as const, value: eventType },
  ':content-type': { type: 'string' as const, value: 'application/json' },
  ':message-type': { type: 'string' as const, value: messageType },
});
const bedrockFrame = (eventType: string, payload: string, messageType = 'event') =>
  frame(
    { ':event-type': eventType, ':content-type': 'application/json', ':message-type': messageType },
    payload,
  );

// A ConverseStream response, including an exception frame, which is delivered like any other.
const converse: [string, string, string?][] = [
  ['messageStart', '{"role":"assistant"}'],
  ['contentBlockDelta', '{"contentBlockIndex":0,"delta":{"text":"Hi 😀 é"}}'],
  ['contentBlockStop', '{"contentBlockIndex":0}'],
  ['messageStop', '{"stopReason":"end_turn"}'],
  ['metadata', '{"usage":{"inputTokens":3,"outputTokens":2}}'],
  ['throttlingException', '{"message":"Too many requests"}', 'exception'],
];
const converseBytes = Buffer.concat(
  converse.map(([type, payload, messageType]) =>
    encode(bedrockHeaders(type, messageType), payload),
  ),
);
const converseFrames = converse.map(([type, payload, messageType]) =>
  bedrockFrame(type, payload, messageType),
);

// The same messages as the official AWS event-stream test vectors, encoded by smithy.
const stringHeader = { 'content-type': { type: 'string' as const, value: 'application/json' } };
const vectors = {
  allHeaders: encode(
    {
      'event-type': { type: 'integer', value: 40972 },
      ...stringHeader,
      'bool false': { type: 'boolean', value: false },
      'bool true': { type: 'boolean', value: true },
      byte: { type: 'byte', value: -49 },
      'byte buf': { type: 'binary', value: utf8("I'm a little teapot!") },
      timestamp: { type: 'timestamp', value: new Date(8675309) },
      int16: { type: 'short', value: 42 },
      int64: { type: 'long', value: Int64.fromNumber(42424242) },
      uuid: { type: 'uuid', value: '01020304-0506-0708-090a-0b0c0d0e0f10' },
    },
    "{'foo':'bar'}",
  ),
  oneStringHeader: encode(stringHeader, "{'foo':'bar'}"),
};

const messageOf = (error: unknown) => (error instanceof Error ? error.message : undefined);

/** A copy of `bytes` with one byte changed. */
function corrupt(bytes: Uint8Array, index: number, value?: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[index] = value ?? (copy[index] ?? 0) ^ 0x01;
  return copy;
}

describe('createEventStreamDecoder', () => {
  test('decodes the official success vectors, stringifying every header type', () => {
    // Known answers from the AWS vectors: smithy encodes them byte for byte.
    assert.equal(Buffer.from(encode({})).toString('hex'), '000000100000000005c248eb7d98c8ff');
    assert.equal(vectors.allHeaders.length, 204);
    assert.equal(Buffer.from(vectors.allHeaders.subarray(8, 12)).toString('hex'), '0fae64ca');
    assert.equal(Buffer.from(vectors.allHeaders.subarray(200)).toString('hex'), 'aba5f10c');

    const body = "{'foo':'bar'}";
    assert.deepEqual(run([vectors.allHeaders]), {
      frames: [
        frame(
          {
            'event-type': '40972',
            'content-type': 'application/json',
            'bool false': 'false',
            'bool true': 'true',
            byte: '-49',
            'byte buf': Buffer.from("I'm a little teapot!").toString('base64'),
            timestamp: '8675309',
            int16: '42',
            int64: '42424242',
            uuid: '01020304-0506-0708-090a-0b0c0d0e0f10',
          },
          body,
        ),
      ],
    });
    assert.deepEqual(run([encode({})]), { frames: [frame({}, '')] });
    assert.deepEqual(run([encode({}, body)]), { frames: [frame({}, body)] });
    assert.deepEqual(run([vectors.oneStringHeader]), {
      frames: [frame({ 'content-type': 'application/json' }, body)],
    });
  });

  test('refuses the official-style corrupted frames', () => {
    const valid = vectors.oneStringHeader; // 61 bytes, 32 of them headers
    const cases: [string, Uint8Array, RegExp][] = [
      ['corrupted length', corrupt(valid, 3, 62), /prelude checksum/],
      ['corrupted header length', corrupt(valid, 7, 33), /prelude checksum/],
      ['corrupted prelude checksum', corrupt(valid, 9), /prelude checksum/],
      ['corrupted headers', corrupt(valid, 14), /message checksum/],
      ['corrupted payload', corrupt(valid, 46), /message checksum/],
      ['corrupted message checksum', corrupt(valid, 60), /message checksum/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const outcome = run([valid, bytes]);
      assert.equal(outcome.frames.length, 1, name);
      assertProtocolError(outcome.error, pattern);
      for (const chunks of everyTwoPieceSplit(bytes))
        assertProtocolError(run(chunks).error, pattern);
    }
  });

  test('refuses checksum-valid frames whose lengths or headers do not add up', () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['too short', rawFrame({ total: 15 }), /15 bytes, below the 16-byte minimum/],
      ['headers too long', rawFrame({ total: 20, headersLength: 5 }), /5 header bytes/],
      [
        'string past the header section',
        rawFrame({ headers: Uint8Array.of(1, 0x78, 7, 0, 40) }),
        /runs past the 5-byte header section/,
      ],
      [
        'string into the payload',
        rawFrame({ headers: Uint8Array.of(1, 0x78, 7, 0, 4), payload: 'abcd' }),
        /runs past the 5-byte header section/,
      ],
      ['name past the section', rawFrame({ headers: Uint8Array.of(9, 0x78) }), /runs past/],
      [
        'unknown value type',
        rawFrame({ headers: Uint8Array.of(1, 0x78, 12) }),
        /unknown value type 12/,
      ],
    ];
    for (const [, bytes, pattern] of cases) {
      assertProtocolError(run([bytes]).error, pattern);
      assertProtocolError(run(oneByteAtATime(bytes)).error, pattern);
    }
  });

  test('refuses a declared 4 GiB frame from its prelude alone, without allocating it', () => {
    const prelude = rawFrame({ total: 0xffffffff }).subarray(0, 12);
    const before = process.memoryUsage().arrayBuffers;
    const decoder = createEventStreamDecoder(() => {});
    const error = thrown(() => decoder.push(prelude));
    assertProtocolError(error, /4294967295 bytes, over the 16777216-byte limit/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024);
    assertProtocolError(run(oneByteAtATime(prelude)).error, /over the 16777216-byte limit/);
  });

  test('applies a custom frame cap, prelude and checksums included', () => {
    const frameOf = (size: number) => encode({}, 'x'.repeat(size - 16));
    assert.equal(run([frameOf(100)], { maxFrameBytes: 100 }).frames.length, 1);
    assertProtocolError(
      run([frameOf(101)], { maxFrameBytes: 100 }).error,
      /101 bytes, over the 100/,
    );
  });

  test('refuses a frame truncated by the end of the body', () => {
    const bytes = vectors.oneStringHeader;
    const outcome = run([bytes.subarray(0, 60)]);
    assertProtocolError(outcome.error, /^Truncated event-stream frame: 60 bytes buffered$/);
    for (let length = 1; length < bytes.length; length++) {
      const outcome = run(oneByteAtATime(Buffer.concat([bytes, bytes.subarray(0, length)])));
      assert.equal(outcome.frames.length, 1);
      assertProtocolError(
        outcome.error,
        new RegExp(`^Truncated event-stream frame: ${length} bytes buffered$`),
      );
    }
  });

  test('gives the same frames for every two-piece split and one byte at a time', () => {
    assert.deepEqual(run([converseBytes]), { frames: converseFrames });
    for (const chunks of everyTwoPieceSplit(converseBytes)) {
      assert.deepEqual(run(chunks), { frames: converseFrames });
    }
    assert.deepEqual(run(oneByteAtATime(converseBytes)), { frames: converseFrames });
  });

  test('delivers the payload as a plain Uint8Array, whose slice() copies', () => {
    const payloads: Uint8Array[] = [];
    const decoder = createEventStreamDecoder((next) => payloads.push(next.payload));
    decoder.push(Buffer.from(vectors.oneStringHeader));
    decoder.end();
    assert.equal(payloads.length, 1);
    assert.equal(Buffer.isBuffer(payloads[0]), false);
    assert.equal(Buffer.from(payloads[0] ?? []).toString(), "{'foo':'bar'}");
  });

  test('keeps a header named __proto__ as an ordinary header', () => {
    const [decoded] = run([encode({ ['__proto__']: { type: 'string', value: 'x' } })]).frames;
    assert.equal(Object.getPrototypeOf(decoded?.headers), Object.prototype);
    assert.deepEqual(Object.entries(decoded?.headers ?? {}), [['__proto__', 'x']]);
  });

  test('is dead after an error: push() and end() throw the same error', () => {
    const decoder = createEventStreamDecoder(() => {});
    const first = thrown(() => decoder.push(corrupt(vectors.oneStringHeader, 9)));
    assertProtocolError(first, /prelude checksum/);
    assert.equal(
      thrown(() => decoder.push(vectors.oneStringHeader)),
      first,
    );
    assert.equal(
      thrown(() => decoder.end()),
      first,
    );
  });

  test('property: random messages survive any chunking unchanged', () => {
    const header = fc.oneof(
      fc.boolean().map((value) => [{ type: 'boolean', value }, String(value)] as const),
      fc
        .integer({ min: -128, max: 127 })
        .map((value) => [{ type: 'byte', value }, `${value}`] as const),
      fc
        .integer({ min: -32768, max: 32767 })
        .map((value) => [{ type: 'short', value }, `${value}`] as const),
      fc.integer().map((value) => [{ type: 'integer', value }, `${value}`] as const),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => {
        const bytes = Buffer.alloc(8);
        bytes.writeBigInt64BE(value);
        return [{ type: 'long', value: new Int64(bytes) }, `${value}`] as const;
      }),
      fc
        .uint8Array({ maxLength: 40 })
        .map(
          (value) => [{ type: 'binary', value }, Buffer.from(value).toString('base64')] as const,
        ),
      fc.string({ maxLength: 20 }).map((value) => [{ type: 'string', value }, value] as const),
      fc
        .integer({ min: 0, max: 2 ** 48 })
        .map((value) => [{ type: 'timestamp', value: new Date(value) }, `${value}`] as const),
      fc.uuid().map((value) => [{ type: 'uuid', value }, value] as const),
    );
    const message = fc.record({
      headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), header, { maxKeys: 5 }),
      payload: fc.uint8Array({ maxLength: 200 }),
    });
    fc.assert(
      fc.property(fc.array(message, { maxLength: 5 }), cutPoints(1500), (messages, offsets) => {
        const bytes = Buffer.concat(
          messages.map(({ headers, payload }) =>
            encode(
              Object.fromEntries(Object.entries(headers).map(([name, [typed]]) => [name, typed])),
              payload,
            ),
          ),
        );
        const expected = messages.map(({ headers, payload }) => ({
          framing: 'aws-event-stream' as const,
          headers: Object.fromEntries(
            Object.entries(headers).map(([name, [, text]]) => [name, text]),
          ),
          payload,
        }));
        assert.deepEqual(run([bytes]), { frames: expected });
        assert.deepEqual(run(cut(bytes, offsets)), { frames: expected });
      }),
    );
  });

  test('property: random bytes give the same outcome however chunked, and only ServiceErrors', () => {
    const piece = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.constantFrom(vectors.oneStringHeader, converseBytes.subarray(0, 100)),
      fc.nat({ max: 2 ** 32 - 1 }).map((total) => rawFrame({ total }).subarray(0, 12)),
    );
    const stream = fc.array(piece, { maxLength: 6 }).map((pieces) => Buffer.concat(pieces));
    fc.assert(
      fc.property(
        stream,
        cutPoints(600),
        fc.integer({ min: 16, max: 400 }),
        (bytes, offsets, cap) => {
          const whole = run([bytes], { maxFrameBytes: cap });
          if (whole.error !== undefined) assertProtocolError(whole.error, /./);
          const chunked = run(cut(bytes, offsets), { maxFrameBytes: cap });
          assert.deepEqual(chunked.frames, whole.frames);
          assert.equal(messageOf(chunked.error), messageOf(whole.error));
        },
      ),
    );
  });
});
