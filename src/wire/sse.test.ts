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
import { createSseDecoder, type SseDecoderOptions, type SseFrame } from './sse.ts';

const sse =
  (options: SseDecoderOptions = {}) =>
  (onFrame: (frame: SseFrame) => void) =>
    createSseDecoder(onFrame, options);

function frame(data: string, event?: string, id?: string): SseFrame {
  return { framing: 'sse', event, data, id };
}

function framesOf(text: string | Uint8Array): SseFrame[] {
  const outcome = decode(sse(), [typeof text === 'string' ? utf8(text) : text]);
  assert.equal(outcome.error, undefined);
  return outcome.frames;
}

// Every rule the spec sets for the line grammar, once each; the split tests below re-run this.
const mixedStream =
  '\uFEFF: a comment, ignored\n' +
  'event: message_start\r\n' +
  'data: {"text":"😀 é € 𝄞"}\r\n' +
  '\r\n' +
  'data: line one\rdata:line two\rdata:  leading space kept\r\r' +
  'id: 7\nevent: ping\ndata:\n\n' +
  'retry: 1000\nunknown: field\nevent: no-data-so-not-dispatched\n\n' +
  ': keep-alive\n\n' +
  'data\n\n' +
  'data: [DONE]\n\n' +
  'data: an event the body cut off';

const mixedFrames = [
  frame('{"text":"😀 é € 𝄞"}', 'message_start'),
  frame('line one\nline two\n leading space kept'),
  frame('', 'ping', '7'),
  frame(''),
  frame('[DONE]'),
];

describe('createSseDecoder', () => {
  test('decodes the spec cases: line ends, BOM, comments, multi-line data, event and id', () => {
    assert.deepEqual(framesOf(mixedStream), mixedFrames);
  });

  test('treats LF, CR and CRLF alike', () => {
    for (const end of ['\n', '\r', '\r\n']) {
      const text = `event: e${end}data: a${end}data: b${end}${end}`;
      assert.deepEqual(framesOf(text), [frame('a\nb', 'e')], JSON.stringify(end));
    }
  });

  test('strips one BOM at the start of the stream only', () => {
    assert.deepEqual(framesOf('\uFEFFdata: x\n\n'), [frame('x')]);
    for (const chunks of everyTwoPieceSplit(utf8('\uFEFFdata: x\n\n'))) {
      assert.deepEqual(decode(sse(), chunks).frames, [frame('x')]);
    }
    // A second BOM is part of the first line, which makes the field name "\uFEFFdata": ignored.
    assert.deepEqual(framesOf('\uFEFF\uFEFFdata: x\n\ndata: y\n\n'), [frame('y')]);
    // Text that merely looks like a BOM mis-decoded as Latin-1 is content, not a BOM.
    assert.deepEqual(framesOf('ï»¿data: x\n\ndata: y\n\n'), [frame('y')]);
  });

  test('ignores ids containing NUL and keeps id per event', () => {
    assert.deepEqual(framesOf('id: a\0b\ndata: x\n\nid: 2\ndata: y\n\ndata: z\n\n'), [
      frame('x'),
      frame('y', undefined, '2'),
      frame('z'),
    ]);
  });

  test('dispatches an event ended by a CR at the end of a chunk without waiting for more', () => {
    const frames: SseFrame[] = [];
    const decoder = createSseDecoder((next) => frames.push(next));
    decoder.push(utf8('data: x\r\r'));
    assert.deepEqual(frames, [frame('x')]);
    // The LF of a CRLF split across chunks still ends only one line, not an extra blank one.
    decoder.push(utf8('data: a\r'));
    decoder.push(utf8('\ndata: b\r\n\r\n'));
    assert.deepEqual(frames, [frame('x'), frame('a\nb')]);
  });

  test('discards an incomplete event at end() without throwing', () => {
    assert.deepEqual(framesOf('data: complete\n\ndata: partial\n'), [frame('complete')]);
    assert.deepEqual(
      framesOf(Buffer.concat([utf8('data: cut mid-emoji '), Uint8Array.of(0xf0, 0x9f)])),
      [],
    );
  });

  test('gives the same frames for every two-piece split and one byte at a time', () => {
    const bytes = utf8(mixedStream);
    for (const chunks of everyTwoPieceSplit(bytes)) {
      assert.deepEqual(decode(sse(), chunks), { frames: mixedFrames });
    }
    assert.deepEqual(decode(sse(), oneByteAtATime(bytes)), { frames: mixedFrames });
  });

  test('decodes large chunks alike, pure ASCII or not', () => {
    for (const content of ['plain ascii', 'é 😀 €']) {
      const events = Array.from({ length: 200 }, (_, index) => `${content} ${index}`);
      const bytes = utf8(events.map((data) => `data: ${data}\n\n`).join(''));
      const offsets = Array.from({ length: 10 }, (_, index) => 3001 * (index + 1));
      assert.deepEqual(decode(sse(), cut(bytes, offsets)), {
        frames: events.map((data) => frame(data)),
      });
    }
  });

  test('keeps a 4-byte emoji split at every byte', () => {
    const bytes = utf8('data: a😀b\n\n');
    const start = bytes.indexOf(0xf0);
    for (let first = start; first <= start + 4; first++) {
      for (let second = first; second <= start + 4; second++) {
        assert.deepEqual(decode(sse(), cut(bytes, [first, second])).frames, [frame('a😀b')]);
      }
    }
  });

  test('refuses an event over the cap, whether one long line or many data lines', () => {
    const line = decode(sse({ maxEventBytes: 64 }), [utf8(`data: ${'x'.repeat(100)}`)]);
    assertProtocolError(line.error, /SSE event larger than the 64-byte limit/);
    const lines = decode(sse({ maxEventBytes: 64 }), [utf8('data: 0123456789\n'.repeat(10))]);
    assertProtocolError(lines.error, /64-byte limit/);
    assert.deepEqual(decode(sse({ maxEventBytes: 64 }), [utf8(`data: ${'x'.repeat(50)}\n\n`)]), {
      frames: [frame('x'.repeat(50))],
    });
  });

  test('stays bounded when fed 50 MB without a line end', () => {
    const cap = 1024 * 1024;
    const decoder = createSseDecoder(() => {}, { maxEventBytes: cap });
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    let pushed = 0;
    let failure: unknown;
    try {
      while (pushed < 50 * 1024 * 1024) {
        decoder.push(chunk);
        pushed += chunk.length;
      }
    } catch (error) {
      failure = error;
    }
    assertProtocolError(failure, /limit/);
    assert.ok(pushed <= cap, `refused only after ${pushed} bytes`);
  });

  test('is dead after an error: push() and end() throw the same error', () => {
    const decoder = createSseDecoder(() => {}, { maxEventBytes: 8 });
    const first = thrown(() => decoder.push(utf8('data: 0123456789')));
    assertProtocolError(first, /limit/);
    assert.equal(
      thrown(() => decoder.push(utf8('data: ok\n\n'))),
      first,
    );
    assert.equal(
      thrown(() => decoder.end()),
      first,
    );
  });

  test('is dead after the frame callback throws', () => {
    const boom = new Error('consumer failed');
    const frames: string[] = [];
    const decoder = createSseDecoder((next) => {
      frames.push(next.data);
      throw boom;
    });
    assert.throws(
      () => decoder.push(utf8('data: a\n\ndata: b\n\n')),
      (error) => error === boom,
    );
    assert.throws(
      () => decoder.push(utf8('data: c\n\n')),
      (error) => error === boom,
    );
    assert.deepEqual(frames, ['a']);
  });

  test('property: random events survive any chunking unchanged', () => {
    const roundTrips = (text: string) => new TextDecoder().decode(utf8(text)) === text;
    const value = fc
      .string({ unit: 'grapheme', maxLength: 12 })
      .filter((text) => !/[\r\n\0]/.test(text) && roundTrips(text));
    const event = fc.record({
      event: fc.option(value, { nil: undefined }),
      id: fc.option(value, { nil: undefined }),
      data: fc.array(value, { minLength: 1, maxLength: 3 }),
      comment: fc.option(value, { nil: undefined }),
      lineEnd: fc.constantFrom('\n', '\r', '\r\n'),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 6 }), cutPoints(400), (events, offsets) => {
        let text = '';
        for (const { event: name, id, data, comment, lineEnd } of events) {
          if (comment !== undefined) text += `:${comment}${lineEnd}`;
          if (name !== undefined) text += `event: ${name}${lineEnd}`;
          if (id !== undefined) text += `id: ${id}${lineEnd}`;
          for (const line of data) text += `data: ${line}${lineEnd}`;
          text += lineEnd;
        }
        const expected = events.map(({ event: name, id, data }) =>
          frame(data.join('\n'), name === '' ? undefined : name, id),
        );
        const bytes = utf8(text);
        assert.deepEqual(decode(sse(), [bytes]), { frames: expected });
        assert.deepEqual(decode(sse(), cut(bytes, offsets)), { frames: expected });
      }),
    );
  });

  test('property: random bytes give the same frames however chunked, and only ServiceErrors', () => {
    const token = fc.oneof(
      fc.constantFrom('data:', 'data: ', 'event:', 'id:', ':', '\r', '\n', '\r\n', '\uFEFF', 'é😀'),
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
        fc.integer({ min: 1, max: 64 }),
        (bytes, offsets, cap) => {
          const whole = decode(sse(), [bytes]);
          assert.equal(whole.error, undefined);
          assert.deepEqual(decode(sse(), cut(bytes, offsets)), whole);
          const capped = decode(sse({ maxEventBytes: cap }), cut(bytes, offsets));
          if (capped.error !== undefined) assertProtocolError(capped.error, /limit/);
        },
      ),
    );
  });
});
