/**
 * Server-sent events: bytes → `{ event, data, id }` frames, following the WHATWG rules.
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream
 *
 * The line grammar (CR / LF / CRLF, comments, `field: value`, multi-line `data` joined with `\n`,
 * events without data not dispatched) is eventsource-parser's. This module adds what it leaves to
 * the caller: bytes to text, the byte cap, and two fixes at chunk boundaries (see `feedText`).
 */
import { isAscii } from 'node:buffer';
import { createParser } from 'eventsource-parser';
import type { Frame } from '../domain/provider.ts';
import { failFast, protocolError, resolveLimit, type WireDecoder } from './limits.ts';

export type { WireDecoder } from './limits.ts';

export type SseFrame = Extract<Frame, { framing: 'sse' }>;

export interface SseDecoderOptions {
  /**
   * Most bytes one event may hold before it is refused (default 16 MiB). Counted as UTF-16 code
   * units of decoded text, which for UTF-8 input is never more than the byte count: an event
   * within the cap is never refused, and buffered memory stays proportional to the cap.
   */
  maxEventBytes?: number;
}

const LINE_FEED = 10;
const CARRIAGE_RETURN = 13;
const BYTE_ORDER_MARK = 0xfeff;
const SMALL_CHUNK_BYTES = 2048;

export function createSseDecoder(
  onFrame: (frame: SseFrame) => void,
  options: SseDecoderOptions = {},
): WireDecoder {
  const maxEventBytes = resolveLimit(options.maxEventBytes, 'maxEventBytes');
  // A character split across two chunks must be completed on the next push, not become two
  // U+FFFD, which takes a decoder in streaming mode. On event-sized chunks that measured ~2×
  // slower than a one-shot decode (and on pure ASCII up to 7×), while on large non-ASCII chunks
  // it was ~1.5× faster. So the one-shot decoder takes a chunk when the streaming one holds
  // nothing, the chunk ends in an ASCII byte (no character can be open after it), and it is
  // small or pure ASCII; the streaming one takes the rest. Both keep a BOM, which is stripped by
  // hand, once, at the start of the stream as the spec asks.
  const wholeDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const streamingDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let streamingDecoderEmpty = true;
  let atStreamStart = true;
  let overflowed = false;
  const parser = createParser({
    maxBufferSize: maxEventBytes,
    onEvent: (event) =>
      onFrame({ framing: 'sse', event: event.event, data: event.data, id: event.id }),
    onError: (error) => {
      // Only the overflow is fatal; unknown fields and bad `retry` values are ignored per spec.
      if (error.type === 'max-buffer-size-exceeded') overflowed = true;
    },
  });
  // The parser strips a BOM from its first chunk by comparing the chars 0xEF 0xBB 0xBF, i.e. a
  // BOM that was mis-decoded as Latin-1. Our text is real UTF-8, where those chars are the text
  // "ï»¿"; an empty first feed uses up that check so it can never eat real content.
  parser.feed('');

  let skipLeadingLineFeed = false;

  function decodeText(chunk: Uint8Array): string {
    if (chunk.length === 0) return '';
    const endsInAscii = (chunk[chunk.length - 1] ?? 0) < 0x80;
    const text =
      streamingDecoderEmpty && endsInAscii && (chunk.length <= SMALL_CHUNK_BYTES || isAscii(chunk))
        ? wholeDecoder.decode(chunk)
        : streamingDecoder.decode(chunk, { stream: true });
    streamingDecoderEmpty = endsInAscii;
    if (!atStreamStart || text.length === 0) return text;
    atStreamStart = false;
    return text.charCodeAt(0) === BYTE_ORDER_MARK ? text.slice(1) : text;
  }

  function feedText(input: string): void {
    let text = input;
    if (skipLeadingLineFeed && text.length > 0) {
      skipLeadingLineFeed = false;
      if (text.charCodeAt(0) === LINE_FEED) text = text.slice(1);
    }
    if (text.length === 0) return;
    // A CR at the end of a chunk already ends its line, but the parser waits for the next chunk
    // in case an LF follows, which would hold a CR-framed event until more bytes arrive (or
    // forever, at the end of the body). Completing it as CRLF now and dropping the LF if it does
    // come is the same line structure, dispatched without delay.
    if (text.charCodeAt(text.length - 1) === CARRIAGE_RETURN) {
      text += '\n';
      skipLeadingLineFeed = true;
    }
    parser.feed(text);
    if (overflowed) {
      throw protocolError(`SSE event larger than the ${maxEventBytes}-byte limit`);
    }
  }

  return failFast({
    push(chunk) {
      feedText(decodeText(chunk));
    },
    end() {
      // The flush yields at most a U+FFFD for a character cut off by the end of the body. What
      // the parser still holds is an event without its closing blank line: per spec it is
      // discarded, not an error.
      feedText(streamingDecoder.decode());
    },
  });
}
