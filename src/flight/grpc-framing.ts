/**
 * gRPC message framing: every message on the HTTP/2 stream is a 5-byte prefix (compressed flag,
 * uint32 big-endian length) followed by that many bytes. HTTP/2 cuts the stream into DATA frames
 * wherever flow control and frame sizes say, so a message can span chunks and a chunk can hold
 * several messages; the decoder puts them back together.
 *
 * Sluice never compresses and never advertises a compression, so a set compressed flag is a
 * protocol error, as PROTOCOL-HTTP2 asks when no `grpc-encoding` was negotiated.
 */
import { GrpcStatus } from './grpc-protocol.ts';

export const messagePrefixBytes = 5;

/** A framing failure, with the status the call ends with. */
export class GrpcFramingError extends Error {
  override readonly name = 'GrpcFramingError';
  readonly code: GrpcStatus;

  constructor(code: GrpcStatus, message: string) {
    super(message);
    this.code = code;
  }
}

/** Prefixes one message; copies it (messages other than FlightData are small). */
export function frameMessage(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(messagePrefixBytes + message.length);
  frame.set(message, messagePrefixBytes);
  return writeMessagePrefix(frame);
}

/**
 * Fills in the prefix of a frame whose encoder left `messagePrefixBytes` of headroom (the
 * FlightData hot path, which then needs no copy).
 */
export function writeMessagePrefix(frame: Buffer): Buffer {
  frame[0] = 0;
  frame.writeUInt32BE(frame.length - messagePrefixBytes, 1);
  return frame;
}

export interface MessageDecoder {
  /**
   * Delivers every message `chunk` completes, in order, and keeps the rest. Throws
   * GrpcFramingError on a bad prefix; after any throw (also from `onMessage`) it stays failed.
   *
   * Messages (and the pieces of a message not yet complete) are views of the chunks, not
   * copies: the caller must not reuse a chunk's memory. Node's HTTP/2 streams hand out fresh
   * buffers for every read.
   */
  push(chunk: Uint8Array): void;
  /** True when no partial message is buffered, so the stream may end here. */
  readonly idle: boolean;
}

/**
 * `maxMessageBytes` is checked against the declared length before any of the body is kept, and
 * pieces are kept only as they arrive: a peer that announces a huge message costs nothing until
 * it sends the bytes, and it cannot send more than the limit.
 */
export function createMessageDecoder(
  onMessage: (message: Uint8Array) => void,
  maxMessageBytes: number,
): MessageDecoder {
  const prefix = new Uint8Array(messagePrefixBytes);
  let prefixFilled = 0;
  /** Length of the message being read; -1 while reading a prefix. */
  let length = -1;
  let pieces: Uint8Array[] = [];
  let received = 0;
  let failure: unknown;
  let failed = false;

  const startMessage = (bytes: Uint8Array, offset: number) => {
    const flag = bytes[offset];
    const declared =
      (bytes[offset + 1] ?? 0) * 0x1000000 +
      (((bytes[offset + 2] ?? 0) << 16) |
        ((bytes[offset + 3] ?? 0) << 8) |
        (bytes[offset + 4] ?? 0));
    if (flag !== 0) {
      throw new GrpcFramingError(
        GrpcStatus.INTERNAL,
        flag === 1
          ? 'Received a compressed message, but no compression was negotiated'
          : `Invalid gRPC message flag ${flag}`,
      );
    }
    if (declared > maxMessageBytes) {
      throw new GrpcFramingError(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `Received message larger than max (${declared} vs. ${maxMessageBytes})`,
      );
    }
    length = declared;
  };

  const consume = (chunk: Uint8Array) => {
    let offset = 0;
    while (offset < chunk.length) {
      if (length < 0) {
        if (prefixFilled === 0 && chunk.length - offset >= messagePrefixBytes) {
          startMessage(chunk, offset);
          offset += messagePrefixBytes;
        } else {
          const take = Math.min(messagePrefixBytes - prefixFilled, chunk.length - offset);
          prefix.set(chunk.subarray(offset, offset + take), prefixFilled);
          prefixFilled += take;
          offset += take;
          if (prefixFilled < messagePrefixBytes) return;
          prefixFilled = 0;
          startMessage(prefix, 0);
        }
      }
      const available = chunk.length - offset;
      if (received === 0 && available >= length) {
        // The common case: the whole message is in this chunk.
        const end = offset + length;
        length = -1;
        onMessage(chunk.subarray(offset, end));
        offset = end;
        continue;
      }
      if (available === 0) return;
      const take = Math.min(length - received, available);
      pieces.push(chunk.subarray(offset, offset + take));
      received += take;
      offset += take;
      if (received === length) {
        const message = Buffer.concat(pieces, length);
        pieces = [];
        received = 0;
        length = -1;
        onMessage(message);
      }
    }
  };

  return {
    push(chunk) {
      if (failed) throw failure;
      try {
        consume(chunk);
      } catch (error) {
        failed = true;
        failure = error;
        throw error;
      }
    },
    get idle() {
      return !failed && length < 0 && prefixFilled === 0;
    },
  };
}
