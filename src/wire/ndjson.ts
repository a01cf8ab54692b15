/**
 * Newline-delimited JSON: bytes → one `{ line }` frame per JSON text. Lines end with LF or CRLF;
 * blank (whitespace-only) lines are skipped; a last line without a newline is delivered at end().
 * The JSON itself is not parsed here: that belongs to the provider's frame decoder.
 * @see https://github.com/ndjson/ndjson-spec
 */
import type { Frame } from '../domain/provider.ts';
import { failFast, protocolError, resolveLimit, type WireDecoder } from './limits.ts';

export type { WireDecoder } from './limits.ts';

export type NdjsonFrame = Extract<Frame, { framing: 'ndjson' }>;

export interface NdjsonDecoderOptions {
  /** Most bytes one line may hold before its LF, a CR there included (default 16 MiB). */
  maxLineBytes?: number;
}

const LINE_FEED = 10;
const CARRIAGE_RETURN = 13;
const ONLY_JSON_WHITESPACE = /^[ \t\r]*$/;

export function createNdjsonDecoder(
  onFrame: (frame: NdjsonFrame) => void,
  options: NdjsonDecoderOptions = {},
): WireDecoder {
  const maxLineBytes = resolveLimit(options.maxLineBytes, 'maxLineBytes');
  // An LF byte never occurs inside a multi-byte UTF-8 character, so each whole line can be
  // decoded on its own. Only a line still waiting for its LF is decoded in streaming mode, which
  // keeps a character cut by the chunk boundary for the next push. Because every line is a new
  // decoding run, a BOM is dropped at the start of any line (RFC 8259 §8.1 lets parsers ignore it).
  const textDecoder = new TextDecoder('utf-8');
  // The start of a line that spans chunks, kept decoded so the caller's buffers are not pinned
  // and joined once when the LF arrives (appending to one string per chunk would be quadratic).
  const pendingParts: string[] = [];
  let pendingBytes = 0;

  function deliver(text: string): void {
    const line = text.charCodeAt(text.length - 1) === CARRIAGE_RETURN ? text.slice(0, -1) : text;
    if (line.length === 0) return;
    // Only test the whole line when its first char could start a blank one: JSON texts start
    // with `{`, `[`, `"`, a digit or a letter, so this is one comparison for real data.
    const first = line.charCodeAt(0);
    if ((first === 32 || first === 9 || first === 13) && ONLY_JSON_WHITESPACE.test(line)) return;
    onFrame({ framing: 'ndjson', line });
  }

  function refuseLongLine(): never {
    throw protocolError(`NDJSON line longer than the ${maxLineBytes}-byte limit`);
  }

  function takePending(last: string): string {
    pendingParts.push(last);
    const text = pendingParts.join('');
    pendingParts.length = 0;
    pendingBytes = 0;
    return text;
  }

  return failFast({
    push(chunk) {
      // Buffer#indexOf is a native memchr; Uint8Array#indexOf measured ~27× slower on 64 KiB.
      const bytes = Buffer.isBuffer(chunk)
        ? chunk
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      let start = 0;
      let lineFeed = bytes.indexOf(LINE_FEED);
      while (lineFeed !== -1) {
        if (pendingBytes + lineFeed - start > maxLineBytes) refuseLongLine();
        const text = textDecoder.decode(bytes.subarray(start, lineFeed));
        deliver(pendingBytes === 0 ? text : takePending(text));
        start = lineFeed + 1;
        lineFeed = bytes.indexOf(LINE_FEED, start);
      }
      if (start === bytes.length) return;
      pendingBytes += bytes.length - start;
      // Checked before buffering, so memory stays bounded by the cap whatever the upstream sends.
      if (pendingBytes > maxLineBytes) refuseLongLine();
      pendingParts.push(textDecoder.decode(bytes.subarray(start), { stream: true }));
    },
    end() {
      // The final flush turns a character cut off by the end of the body into U+FFFD.
      if (pendingBytes > 0) deliver(takePending(textDecoder.decode()));
    },
  });
}
