/**
 * AWS event-stream (`application/vnd.amazon.eventstream`, Bedrock ConverseStream and
 * InvokeModelWithResponseStream): bytes → `{ headers, payload }` frames.
 * @see https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html
 *
 * A frame is: total length (u32 BE) · headers length (u32 BE) · CRC32 of those 8 bytes ·
 * headers · payload · CRC32 of everything before it. Both checksums are verified; header values
 * are turned into strings. `:message-type` (event / exception / error) is not interpreted here:
 * the Bedrock provider reads it from the headers.
 *
 * The codec is ours rather than `EventStreamCodec.decode` from @smithy/eventstream-codec (the
 * tests' reference encoder): smithy's header reader takes value lengths from the frame and reads
 * them from the whole underlying ArrayBuffer without checking the header section's end. A
 * checksum-valid frame with a bad header length then reads neighbouring memory (reproduced: a
 * string header returned the bytes after the frame), which for Node's pooled Buffers belongs to
 * other requests. Here every read is bounds-checked.
 */
import { crc32 } from 'node:zlib';
import type { ServiceError } from '../domain/errors.ts';
import type { Frame } from '../domain/provider.ts';
import { failFast, protocolError, resolveLimit, type WireDecoder } from './limits.ts';

export type { WireDecoder } from './limits.ts';

export type EventStreamFrame = Extract<Frame, { framing: 'aws-event-stream' }>;

export interface EventStreamDecoderOptions {
  /** Largest frame accepted, prelude and checksums included (default 16 MiB, Bedrock's maximum). */
  maxFrameBytes?: number;
}

const PRELUDE_LENGTH = 12;
const CHECKSUM_LENGTH = 4;
const MINIMUM_FRAME_LENGTH = PRELUDE_LENGTH + CHECKSUM_LENGTH;

export function createEventStreamDecoder(
  onFrame: (frame: EventStreamFrame) => void,
  options: EventStreamDecoderOptions = {},
): WireDecoder {
  const maxFrameBytes = resolveLimit(options.maxFrameBytes, 'maxFrameBytes');
  // A prelude split across chunks is staged here; the frame buffer is only allocated once the
  // prelude has passed every check, so a declared 4 GiB frame is refused before any allocation.
  const prelude = new Uint8Array(PRELUDE_LENGTH);
  let preludeFilled = 0;
  // A frame split across chunks: allocated once at its exact size (uninitialised: it is filled
  // completely before it is read) and filled in place, so buffering is linear and bounded by the
  // cap, with no growing or re-concatenated buffers.
  let partial: Buffer | undefined;
  let partialFilled = 0;

  /** Validates the prelude at `offset` and returns the frame's total length. */
  function checkPrelude(bytes: Uint8Array, offset: number): number {
    const totalLength = readUint32(bytes, offset);
    const headersLength = readUint32(bytes, offset + 4);
    const expected = readUint32(bytes, offset + 8);
    const computed = crc32(bytes.subarray(offset, offset + 8));
    // The checksum first: a corrupted length is far likelier than a real oversized frame, and
    // this makes the error say so.
    if (computed !== expected) {
      throw protocolError(
        `Event-stream prelude checksum mismatch: ${checksums(expected, computed)}`,
      );
    }
    if (totalLength < MINIMUM_FRAME_LENGTH) {
      throw protocolError(
        `Event-stream frame declares ${totalLength} bytes, below the ${MINIMUM_FRAME_LENGTH}-byte minimum`,
      );
    }
    if (totalLength > maxFrameBytes) {
      throw protocolError(
        `Event-stream frame declares ${totalLength} bytes, over the ${maxFrameBytes}-byte limit`,
      );
    }
    if (headersLength > totalLength - MINIMUM_FRAME_LENGTH) {
      throw protocolError(
        `Event-stream frame declares ${headersLength} header bytes, more than its ${totalLength}-byte length holds`,
      );
    }
    return totalLength;
  }

  /** Decodes one whole frame whose prelude has been checked. */
  function decodeFrame(bytes: Buffer): void {
    const checksumOffset = bytes.length - CHECKSUM_LENGTH;
    const expected = readUint32(bytes, checksumOffset);
    const computed = crc32(bytes.subarray(0, checksumOffset));
    if (computed !== expected) {
      throw protocolError(
        `Event-stream message checksum mismatch: ${checksums(expected, computed)}`,
      );
    }
    const headersEnd = PRELUDE_LENGTH + readUint32(bytes, 4);
    const headers = parseHeaders(bytes, PRELUDE_LENGTH, headersEnd);
    // A plain Uint8Array view, not a Buffer: Buffer#slice does not copy, and a consumer that
    // copies the payload with `.slice()`, as the declared type invites, must get a copy.
    const payload = new Uint8Array(
      bytes.buffer,
      bytes.byteOffset + headersEnd,
      checksumOffset - headersEnd,
    );
    onFrame({ framing: 'aws-event-stream', headers, payload });
  }

  return failFast({
    push(input) {
      // Buffer methods read header values straight from the frame (no subarray per string).
      const chunk = Buffer.isBuffer(input)
        ? input
        : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      let offset = 0;
      while (offset < chunk.length) {
        const available = chunk.length - offset;
        if (partial !== undefined) {
          const take = Math.min(partial.length - partialFilled, available);
          partial.set(chunk.subarray(offset, offset + take), partialFilled);
          partialFilled += take;
          offset += take;
          if (partialFilled < partial.length) return;
          const complete = partial;
          partial = undefined;
          partialFilled = 0;
          decodeFrame(complete);
        } else if (preludeFilled > 0 || available < PRELUDE_LENGTH) {
          const take = Math.min(PRELUDE_LENGTH - preludeFilled, available);
          prelude.set(chunk.subarray(offset, offset + take), preludeFilled);
          preludeFilled += take;
          offset += take;
          if (preludeFilled < PRELUDE_LENGTH) return;
          preludeFilled = 0;
          // A frame is at least 16 bytes, so with only its prelude in hand it is never complete.
          partial = Buffer.allocUnsafe(checkPrelude(prelude, 0));
          partial.set(prelude);
          partialFilled = PRELUDE_LENGTH;
        } else {
          const totalLength = checkPrelude(chunk, offset);
          if (available >= totalLength) {
            // The common case: the whole frame is in this chunk, decoded without copying (the
            // payload is a view into the chunk).
            decodeFrame(chunk.subarray(offset, offset + totalLength));
            offset += totalLength;
          } else {
            partial = Buffer.allocUnsafe(totalLength);
            partial.set(chunk.subarray(offset));
            partialFilled = available;
            offset = chunk.length;
          }
        }
      }
    },
    end() {
      const buffered = preludeFilled + partialFilled;
      if (buffered > 0) {
        throw protocolError(`Truncated event-stream frame: ${buffered} bytes buffered`);
      }
    },
  });
}

/**
 * Reads the header section `[start, end)` of a checksum-valid frame. Each header is: name length
 * (u8) · name · value type (u8) · value, where byte arrays and strings carry a u16 length. Values
 * that are not strings are stringified: booleans as `true`/`false`, integers and timestamps
 * (milliseconds since the epoch) in decimal, byte arrays in base64, UUIDs as 8-4-4-4-12 hex.
 *
 * Straight-line code on purpose: this runs for every frame, and nested helpers would be created
 * anew on every call (tsx also wraps each in a `__name` call); the earlier closure-based version
 * decoded half as many frames per second.
 */
function parseHeaders(frame: Buffer, start: number, end: number): Record<string, string> {
  const headers: Record<string, string> = {};
  let position = start;
  while (position < end) {
    const nameEnd = position + 1 + (frame[position] ?? 0);
    // The name must be followed by at least its type byte.
    if (nameEnd >= end) throw headerOverrun(end - start);
    const name = frame.toString('utf8', position + 1, nameEnd);
    const type = frame[nameEnd] ?? 0;
    let valueStart = nameEnd + 1;
    let valueLength: number;
    switch (type) {
      case 0:
      case 1:
        valueLength = 0;
        break;
      case 2:
        valueLength = 1;
        break;
      case 3:
        valueLength = 2;
        break;
      case 4:
        valueLength = 4;
        break;
      case 5:
      case 8:
        valueLength = 8;
        break;
      case 9:
        valueLength = 16;
        break;
      case 6:
      case 7:
        if (valueStart + 2 > end) throw headerOverrun(end - start);
        valueLength = frame.readUInt16BE(valueStart);
        valueStart += 2;
        break;
      default:
        throw protocolError(
          `Malformed event-stream headers: unknown value type ${type} for "${name}"`,
        );
    }
    position = valueStart + valueLength;
    if (position > end) throw headerOverrun(end - start);
    const value = headerValue(frame, type, valueStart, position);
    if (name === '__proto__') {
      // Plain assignment would set the object's prototype instead of adding the header.
      Object.defineProperty(headers, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      headers[name] = value;
    }
  }
  return headers;
}

/** The value of a header whose type and bounds `parseHeaders` has checked. */
function headerValue(frame: Buffer, type: number, start: number, end: number): string {
  switch (type) {
    case 0:
      return 'true';
    case 1:
      return 'false';
    case 2:
      return String(frame.readInt8(start));
    case 3:
      return String(frame.readInt16BE(start));
    case 4:
      return String(frame.readInt32BE(start));
    case 5:
    case 8:
      return String(frame.readBigInt64BE(start));
    case 6:
      return frame.toString('base64', start, end);
    case 9: {
      const hex = frame.toString('hex', start, end);
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
    default:
      return frame.toString('utf8', start, end);
  }
}

function headerOverrun(sectionLength: number): ServiceError {
  return protocolError(
    `Malformed event-stream headers: a header runs past the ${sectionLength}-byte header section`,
  );
}

/** Big-endian u32 at `offset`; callers have checked the bounds (`?? 0` only satisfies the types). */
function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    (((bytes[offset] ?? 0) << 24) |
      ((bytes[offset + 1] ?? 0) << 16) |
      ((bytes[offset + 2] ?? 0) << 8) |
      (bytes[offset + 3] ?? 0)) >>>
    0
  );
}

function checksums(expected: number, computed: number): string {
  return `frame says 0x${expected.toString(16).padStart(8, '0')}, computed 0x${computed.toString(16).padStart(8, '0')}`;
}
