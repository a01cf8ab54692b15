/**
 * Arrow IPC messages ⇄ the (header, body) pairs that FlightData carries.
 *
 * FlightData holds one IPC message split in two: `data_header` is the Message flatbuffer without
 * the IPC prefix, `data_body` the body buffers, each padded to 8 bytes. The stream ends with the
 * gRPC stream; no IPC end-of-stream marker is sent.
 *
 * Both directions run synchronously, one message at a time:
 * - Encoding assembles the batch directly instead of running a `RecordBatchStreamWriter` and
 *   splitting its byte stream: no async queue between token and socket, and the schema is not
 *   re-encoded per batch (about 3× faster than `writeAll([batch])` + split).
 * - Decoding reads each message as soon as it arrives. apache-arrow's async reader over an async
 *   iterable yields batch n only once message n+1 has arrived (DEPENDENCIES.md §2.4 G1), which
 *   would delay every token by one inter-token gap.
 *
 * This uses three apache-arrow modules that the package exports but marks internal
 * (`VectorAssembler`, `VectorLoader`, the metadata `RecordBatch`): exactly what its writer and
 * reader do per message. The version is pinned, and `ipc.test.ts` checks the bytes against the
 * public `RecordBatchStreamWriter` and the decoding against the public `RecordBatchReader`, so an
 * upgrade that changes them fails a test instead of the wire.
 */
import { Message, makeData, RecordBatch, type Schema, Struct } from 'apache-arrow';
import * as metadata from 'apache-arrow/ipc/metadata/message';
import { VectorAssembler } from 'apache-arrow/visitor/vectorassembler';
import { VectorLoader } from 'apache-arrow/visitor/vectorloader';
import { ErrorCode, ServiceError } from '../domain/errors.ts';

export interface IpcMessage {
  /** The Message flatbuffer, without continuation marker or length. */
  header: Uint8Array;
  /** The body: every buffer at its 8-byte aligned offset. Empty for a schema message. */
  body: Uint8Array;
}

const emptyBody = new Uint8Array(0);
const continuationMarker = -1;
const prefixLength = 8;

export const paddedLength = (length: number): number => (length + 7) & ~7;

/** The schema message, sent first on every stream. Encode it once per schema and reuse it. */
export function encodeSchemaMessage(schema: Schema): IpcMessage {
  return { header: Message.encode(Message.from(schema)), body: emptyBody };
}

export function encodeRecordBatchMessage(batch: RecordBatch): IpcMessage {
  const { byteLength, nodes, bufferRegions, buffers, variadicBufferCounts } =
    VectorAssembler.assemble(batch);
  const header = new metadata.RecordBatch(
    batch.numRows,
    nodes,
    bufferRegions,
    null,
    variadicBufferCounts,
  );
  const body = new Uint8Array(byteLength);
  for (let index = 0; index < buffers.length; index++) {
    const buffer = buffers[index];
    const region = bufferRegions[index];
    if (buffer === undefined || region === undefined || buffer.byteLength === 0) continue;
    const bytes =
      buffer instanceof Uint8Array
        ? buffer
        : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    body.set(bytes, region.offset);
  }
  return { header: Message.encode(Message.from(header, byteLength)), body };
}

/**
 * The encapsulated IPC form of one message: continuation marker, metadata length, flatbuffer,
 * zero padding, body. The length counts the padding (§2.4 G4): a reader skips exactly that many
 * bytes to reach the body, so writing the raw flatbuffer size breaks whenever it is not a
 * multiple of 8. The result is a fresh buffer, so the body starts 8-byte aligned, which
 * apache-arrow needs to view it as Int32Array etc. (a body inside a gRPC buffer is not aligned).
 */
export function frameIpcMessage(message: IpcMessage): Uint8Array {
  const metadataLength = paddedLength(message.header.length);
  const frame = new Uint8Array(prefixLength + metadataLength + message.body.length);
  const view = new DataView(frame.buffer);
  view.setInt32(0, continuationMarker, true);
  view.setInt32(4, metadataLength, true);
  frame.set(message.header, prefixLength);
  frame.set(message.body, prefixLength + metadataLength);
  return frame;
}

const protocolError = (message: string, cause?: unknown): ServiceError =>
  new ServiceError(ErrorCode.UpstreamProtocol, `Flight stream: ${message}`, { cause });

/**
 * Reads one framed message: the inverse of `frameIpcMessage`, done the way any IPC stream reader
 * does it (prefix, padded metadata, body), so a wrong length prefix cannot go unnoticed.
 */
function readFrame(frame: Uint8Array): { message: Message; body: Uint8Array } {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < prefixLength || view.getInt32(0, true) !== continuationMarker) {
    throw protocolError('IPC message without continuation marker');
  }
  const metadataLength = view.getInt32(4, true);
  const bodyStart = prefixLength + metadataLength;
  if (metadataLength <= 0 || metadataLength % 8 !== 0 || bodyStart > frame.length) {
    throw protocolError(`bad IPC metadata length ${metadataLength}`);
  }
  let message: Message;
  try {
    message = Message.decode(frame.subarray(prefixLength, bodyStart));
  } catch (error) {
    throw protocolError('unreadable IPC message header', error);
  }
  if (bodyStart + message.bodyLength > frame.length) {
    throw protocolError(
      `IPC message body is ${frame.length - bodyStart} bytes, header says ${message.bodyLength}`,
    );
  }
  return { message, body: frame.subarray(bodyStart, bodyStart + message.bodyLength) };
}

/**
 * Decodes the messages of one Flight stream in order: the schema first, then record batches.
 * Each `read` returns at once; nothing waits for the next message.
 */
export class FlightStreamDecoder {
  #schema: Schema | undefined;
  readonly #checkSchema: (schema: Schema) => void;

  /** `checkSchema` may throw to refuse a stream whose schema the caller cannot read. */
  constructor(checkSchema: (schema: Schema) => void = () => {}) {
    this.#checkSchema = checkSchema;
  }

  get schema(): Schema | undefined {
    return this.#schema;
  }

  /**
   * The batch in this message, or undefined for the schema message and for metadata-only
   * messages (an empty `data_header`, which Flight allows for `app_metadata`).
   */
  read(message: IpcMessage): RecordBatch | undefined {
    if (message.header.length === 0) return undefined;
    const { message: decoded, body } = readFrame(frameIpcMessage(message));
    if (decoded.isSchema()) {
      if (this.#schema !== undefined) throw protocolError('a second schema message arrived');
      const schema = decoded.header();
      this.#checkSchema(schema);
      this.#schema = schema;
      return undefined;
    }
    if (decoded.isDictionaryBatch()) {
      throw protocolError('dictionary batches are not part of this schema');
    }
    if (!decoded.isRecordBatch()) throw protocolError(`unexpected message ${decoded.headerType}`);
    const schema = this.#schema;
    if (schema === undefined) throw protocolError('a record batch arrived before the schema');
    const header = decoded.header();
    if (header.compression !== null) throw protocolError('compressed batches are not supported');
    try {
      const children = new VectorLoader(
        body,
        header.nodes,
        header.buffers,
        new Map(),
        decoded.version,
        header.variadicBufferCounts,
      ).visitMany(schema.fields);
      const struct = new Struct(schema.fields);
      return new RecordBatch(schema, makeData({ type: struct, length: header.length, children }));
    } catch (error) {
      throw protocolError('unreadable record batch', error);
    }
  }
}
