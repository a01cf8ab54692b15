import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
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
import { createNdjsonDecoder, type NdjsonDecoderOptions, type NdjsonFrame } from './ndjson.ts';

const ndjson =
  (options: NdjsonDecoderOptions = {}) =>
  (onFrame: (frame: NdjsonFrame) => void) =>
    createNdjsonDecoder(onFrame, options);

const frame = (line: string): NdjsonFrame => ({ framing: 'ndjson', line });

function linesOf(bytes: Uint8Array | string, options?: NdjsonDecoderOptions): string[] {
  const outcome = decode(ndjson(options), [typeof bytes === 'string' ? utf8(bytes) : bytes]);
  assert.equal(outcome.error, undefined);
  return outcome.frames.map((next) => next.line);
}

// An Ollama-style stream with every line shape the decoder distinguishes.
const mixedStream =
  '{"message":{"content":"Hi 😀"},"done":false}\n' +
  '\n' +
  '{"message":{"content":"é € 𝄞"},"done":false}\r\n' +
  '   \t \r\n' +
  '\r\n' +
  '  {"indented":true}\n' +
  '{"done":true}';

const mixedFrames = [
  frame('{"message":{"content":"Hi 😀"},"done":false}'),
  frame('{"message":{"content":"é € 𝄞"},"done":false}'),
  frame('  {"indented":true}'),
  frame('{"done":true}'),
];

describe('createNdjsonDecoder', () => {
  test('splits on LF and CRLF, skips blank lines, delivers the last line at end()', () => {
    assert.deepEqual(decode(ndjson(), [utf8(mixedStream)]), { frames: mixedFrames });
  });

  test('delivers the last line only at end(), and nothing for a trailing blank', () => {
    const lines: string[] = [];
    const decoder = createNdjsonDecoder((next) => lines.push(next.line));
    decoder.push(utf8('{"a":1}\n{"b":2}'));
    assert.deepEqual(lines, ['{"a":1}']);
    decoder.end();
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}']);
    assert.deepEqual(linesOf('{"a":1}\r\n  \r'), ['{"a":1}']);
  });

  test('does not treat a lone CR as a line end', () => {
    assert.deepEqual(linesOf('{"a":"x\ry"}\n'), ['{"a":"x\ry"}']);
  });

  test('drops a BOM at the start of the stream', () => {
    assert.deepEqual(linesOf('\uFEFF{"a":1}\n'), ['{"a":1}']);
  });

  test('accepts Buffer and plain Uint8Array chunks alike', () => {
    const bytes = utf8(mixedStream);
    const chunks = [Buffer.from(bytes.subarray(0, 30)), new Uint8Array(bytes.subarray(30))];
    assert.deepEqual(decode(ndjson(), chunks), { frames: mixedFrames });
  });

  test('gives the same frames for every two-piece split and one byte at a time', () => {
    const bytes = utf8(mixedStream);
    for (const chunks of everyTwoPieceSplit(bytes)) {
      assert.deepEqual(decode(ndjson(), chunks), { frames: mixedFrames });
    }
    assert.deepEqual(decode(ndjson(), oneByteAtATime(bytes)), { frames: mixedFrames });
  });

  test('keeps a 4-byte emoji split at every byte', () => {
    const bytes = utf8('{"t":"a😀b"}\n{"t":"😀"}');
    const start = bytes.indexOf(0xf0);
    for (let first = start; first <= start + 4; first++) {
      for (let second = first; second <= start + 4; second++) {
        assert.deepEqual(decode(ndjson(), cut(bytes, [first, second])).frames, [
          frame('{"t":"a😀b"}'),
          frame('{"t":"😀"}'),
        ]);
      }
    }
  });

  test('turns a character cut off by the end of the body into U+FFFD', () => {
    const bytes = Buffer.concat([utf8('{"t":"'), Uint8Array.of(0xf0, 0x9f)]);
    assert.deepEqual(linesOf(bytes), ['{"t":"\uFFFD']);
  });

  test('refuses a line over the cap, complete or still open', () => {
    const options = { maxLineBytes: 16 };
    assert.deepEqual(linesOf(`${'x'.repeat(16)}\r\n`, { maxLineBytes: 17 }), ['x'.repeat(16)]);
    assert.deepEqual(linesOf(`${'x'.repeat(16)}\n`, options), ['x'.repeat(16)]);
    const complete = decode(ndjson(options), [utf8(`{"a":1}\n${'x'.repeat(17)}\n`)]);
    assertProtocolError(complete.error, /NDJSON line longer than the 16-byte limit/);
    assert.deepEqual(complete.frames, [frame('{"a":1}')]);
    const open = decode(ndjson(options), oneByteAtATime(utf8('x'.repeat(17))));
    assertProtocolError(open.error, /16-byte limit/);
  });

  test('stays bounded when fed 50 MB without a line end', () => {
    const cap = 1024 * 1024;
    const decoder = createNdjsonDecoder(() => {}, { maxLineBytes: cap });
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    let pushed = 0;
    const failure = thrown(() => {
      while (pushed < 50 * 1024 * 1024) {
        decoder.push(chunk);
        pushed += chunk.length;
      }
    });
    assertProtocolError(failure, /limit/);
    assert.ok(pushed <= cap, `refused only after ${pushed} bytes`);
  });

  test('is dead after an error: push() and end() throw the same error', () => {
    const decoder = createNdjsonDecoder(() => {}, { maxLineBytes: 4 });
    const first = thrown(() => decoder.push(utf8('12345')));
    assertProtocolError(first, /limit/);
    assert.equal(
      thrown(() => decoder.push(utf8('1\n'))),
      first,
    );
    assert.equal(
      thrown(() => decoder.end()),
      first,
    );
  });

  test('is dead after the frame callback throws', () => {
    const boom = new Error('consumer failed');
    const decoder = createNdjsonDecoder(() => {
      throw boom;
    });
    assert.equal(
      thrown(() => decoder.push(utf8('1\n2\n'))),
      boom,
    );
    assert.equal(
      thrown(() => decoder.end()),
      boom,
    );
  });

  test('property: random JSON lines survive any chunking unchanged', () => {
    const entry = fc.record({
      value: fc.jsonValue({ maxDepth: 2 }),
      lineEnd: fc.constantFrom('\n', '\r\n'),
      blankAfter: fc.constantFrom('', '\n', ' \t\r\n'),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), cutPoints(2000), (entries, offsets) => {
        const text = entries
          .map(
            ({ value, lineEnd, blankAfter }) => `${JSON.stringify(value)}${lineEnd}${blankAfter}`,
          )
          .join('');
        const expected = entries.map(({ value }) => frame(JSON.stringify(value)));
        const bytes = utf8(text);
        assert.deepEqual(decode(ndjson(), [bytes]), { frames: expected });
        assert.deepEqual(decode(ndjson(), cut(bytes, offsets)), { frames: expected });
      }),
    );
  });

  test('property: random bytes give the same frames however chunked, and only ServiceErrors', () => {
    const token = fc.oneof(
      fc.constantFrom('\n', '\r', '\r\n', ' ', '{"a":1}', 'é😀'),
      fc.uint8Array({ maxLength: 6 }),
    );
    const stream = fc
      .array(token, { maxLength: 40 })
      .map((parts) =>
        Buffer.concat(parts.map((part) => (typeof part === 'string' ? utf8(part) : part))),
      );
    fc.assert(
      fc.property(
        stream,
        cutPoints(300),
        fc.integer({ min: 1, max: 32 }),
        (bytes, offsets, cap) => {
          const whole = decode(ndjson(), [bytes]);
          assert.equal(whole.error, undefined);
          assert.deepEqual(decode(ndjson(), cut(bytes, offsets)), whole);
          const capped = decode(ndjson({ maxLineBytes: cap }), cut(bytes, offsets));
          if (capped.error !== undefined) assertProtocolError(capped.error, /limit/);
        },
      ),
    );
  });
});
