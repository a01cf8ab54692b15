/**
 * AWS event-stream framing for the Bedrock fixtures, done with the official codec so the mock's
 * frames carry real preludes and CRCs (the AWS SDK rejects anything else).
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';

/** One frame as stored in a `*.events.json` fixture. */
export interface EventStreamFixtureFrame {
  /** String headers, e.g. `:event-type`, `:message-type`, `:content-type`, `:exception-type`. */
  headers: Record<string, string>;
  /** Serialised as compact JSON, as Bedrock does. See `encodeFixtureFrame` for `bytes`. */
  payload: unknown;
}

export interface DecodedFrame {
  headers: Record<string, string>;
  payload: Uint8Array;
}

// @smithy/util-utf8 is not installed on its own here; these are the same two conversions.
const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();
const codec = new EventStreamCodec(
  (bytes) => utf8Decoder.decode(bytes),
  (text) => utf8Encoder.encode(text),
);

export function encodeFrame(headers: Record<string, string>, payload: Uint8Array): Uint8Array {
  const typedHeaders = Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, { type: 'string' as const, value }]),
  );
  return codec.encode({ headers: typedHeaders, body: payload });
}

/**
 * Encodes a fixture frame. InvokeModelWithResponseStream wraps each model event as
 * `{"bytes": "<base64 of the event JSON>"}`; fixtures keep `bytes` as the readable event object
 * and it is encoded here. A `bytes` that is already a string is sent unchanged.
 */
export function encodeFixtureFrame(frame: EventStreamFixtureFrame): Uint8Array {
  return encodeFrame(frame.headers, utf8Encoder.encode(JSON.stringify(wirePayload(frame.payload))));
}

export function wirePayload(payload: unknown): unknown {
  if (
    !isRecord(payload) ||
    payload['bytes'] === undefined ||
    typeof payload['bytes'] === 'string'
  ) {
    return payload;
  }
  const bytes = Buffer.from(JSON.stringify(payload['bytes']), 'utf8').toString('base64');
  return { ...payload, bytes };
}

/** Splits a complete event-stream body into frames (uses the length prefix; validates CRCs). */
export function decodeFrames(body: Uint8Array): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  let offset = 0;
  while (offset < body.byteLength) {
    if (body.byteLength - offset < 4) throw new Error(`truncated frame prelude at byte ${offset}`);
    const view = new DataView(body.buffer, body.byteOffset + offset);
    const totalLength = view.getUint32(0);
    if (offset + totalLength > body.byteLength)
      throw new Error(`truncated frame at byte ${offset}`);
    const message = codec.decode(body.subarray(offset, offset + totalLength));
    const headers: Record<string, string> = {};
    for (const [name, header] of Object.entries(message.headers)) {
      if (header.type === 'string') headers[name] = header.value;
    }
    frames.push({ headers, payload: message.body });
    offset += totalLength;
  }
  return frames;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
