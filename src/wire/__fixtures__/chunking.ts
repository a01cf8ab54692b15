/**
 * Test helpers shared by the wire decoder tests: ways of cutting one byte stream into chunks, and
 * a runner that feeds them to a fresh decoder and collects what came out.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { WireDecoder } from '../limits.ts';

export type DecoderFactory<F> = (onFrame: (frame: F) => void) => WireDecoder;

export interface Outcome<F> {
  frames: F[];
  /** What push() or end() threw, if anything. */
  error?: unknown;
}

/**
 * Feeds `chunks` then calls end(). Each chunk is copied into a fresh buffer that is overwritten
 * right after push() returns, so a decoder that keeps a view of a chunk instead of its own copy
 * decodes garbage and fails the comparison. `keep` copies what a frame callback must keep.
 */
export function decode<F>(
  create: DecoderFactory<F>,
  chunks: Iterable<Uint8Array>,
  keep: (frame: F) => F = (frame) => frame,
): Outcome<F> {
  const frames: F[] = [];
  const decoder = create((frame) => frames.push(keep(frame)));
  try {
    for (const chunk of chunks) {
      const scratch = new Uint8Array(chunk);
      decoder.push(scratch);
      scratch.fill(0xa5);
    }
    decoder.end();
    return { frames };
  } catch (error) {
    return { frames, error };
  }
}

/** Cuts `bytes` at the given offsets (any order, duplicates and out-of-range values allowed). */
export function cut(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((offset) => Math.min(Math.max(offset, 0), bytes.length)))];
  points.sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

/** Every way to cut `bytes` in two pieces (including an empty first or last piece). */
export function* everyTwoPieceSplit(bytes: Uint8Array): Generator<Uint8Array[]> {
  for (let point = 0; point <= bytes.length; point++) yield cut(bytes, [point]);
}

export function oneByteAtATime(bytes: Uint8Array): Uint8Array[] {
  return Array.from({ length: bytes.length }, (_, index) => bytes.subarray(index, index + 1));
}

/** Random cut points for a stream of up to `maxLength` bytes. */
export const cutPoints = (maxLength: number): fc.Arbitrary<number[]> =>
  fc.array(fc.nat({ max: maxLength }), { maxLength: 40 });

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** What `action` threw (undefined if it returned). */
export function thrown(action: () => void): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The decoders' one failure shape: ServiceError(upstream_protocol) with a message matching. */
export function assertProtocolError(error: unknown, pattern: RegExp): void {
  assert.ok(ServiceError.isInstance(error), `expected a ServiceError, got ${String(error)}`);
  assert.equal(error.code, ErrorCode.UpstreamProtocol);
  assert.match(error.message, pattern);
}
