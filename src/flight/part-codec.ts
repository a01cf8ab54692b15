/**
 * StreamPart[] → Arrow IPC RecordBatch message, without apache-arrow's object model.
 *
 * `partsToRecordBatch` + `encodeRecordBatchMessage` cost about 40 µs per batch, most of it in
 * apache-arrow's generality: Data and Vector objects per column, a visitor per column, BigInt
 * for every Int64 of the header, a flatbuffer builder. For the one schema of record-batch.ts the
 * message always has the same shape, so this writes it directly: the columns into reused scratch
 * buffers in one pass over the parts, the header into a copy of a fixed template, then the
 * body. About 3 µs per batch (bench/flight-micro.ts), and byte for byte what apache-arrow writes
 * (`part-codec.test.ts` compares them, for random parts too), so either side of a Flight stream
 * can use either encoder.
 *
 * The decoder, `PartsMessageDecoder`, is in part-decoder.ts and exported from here too.
 */
import { endianness } from 'node:os';
import { Int32, Utf8 } from 'apache-arrow';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { type IpcMessage, paddedLength } from './ipc.ts';
import { streamPartSchema } from './record-batch.ts';

export { PartsMessageDecoder } from './part-decoder.ts';

const int32Min = -(2 ** 31);
const int32Max = 2 ** 31 - 1;
const textEncoder = new TextEncoder();
/** Below this length a JS loop copies an ASCII string faster than a call into `encodeInto`. */
const shortString = 64;

// Offsets, Int32 values and the header's Int64s are written through Int32Array views, which
// use the platform's byte order; Arrow IPC here is little-endian, as apache-arrow assumes too.
if (endianness() !== 'LE') throw new Error('part-codec: a big-endian platform is not supported');

const bitmapLength = (rows: number) => (rows + 7) >> 3;

/**
 * Records one body buffer in the header's Buffer list (`entry` is the Int32 index of its
 * Int64 offset; the length follows 8 bytes later) and returns where the next one starts.
 * The header's Int64s are written as their low half: the template's high half is 0, and a
 * body stays below 2 GiB (checked once for the whole body).
 */
function region(words: Int32Array, entry: number, at: number, byteLength: number): number {
  const padded = paddedLength(byteLength);
  words[entry] = at;
  words[entry + 2] = padded;
  return at + padded;
}

// Most copies are a few bytes, where a loop beats creating the views that `set` needs.
const loopCopyLimit = 64;

function copyBytes(from: Uint8Array, length: number, to: Uint8Array, at: number): void {
  if (length > loopCopyLimit) {
    to.set(from.subarray(0, length), at);
    return;
  }
  for (let index = 0; index < length; index++) to[at + index] = from[index] as number;
}

/** `at` is a byte position, a multiple of 8 like every body buffer. */
function copyWords(from: Int32Array, length: number, to: Int32Array, at: number): void {
  const first = at >> 2;
  if (length > loopCopyLimit) {
    to.set(from.subarray(0, length), first);
    return;
  }
  for (let index = 0; index < length; index++) to[first + index] = from[index] as number;
}

/** A Utf8 column: validity bitmap, Int32 offsets, UTF-8 bytes. Reused from batch to batch. */
class Utf8Column {
  readonly bufferCount = 3;
  /** Non-null values in the current batch: an all-null column is written as zeros, i.e. not at all. */
  values = 0;
  #rows = 0;
  #bytes = new Uint8Array(1024);
  #byteLength = 0;
  #offsets = new Int32Array(64);
  /** Rows whose end offset is written; null rows are filled in lazily, most columns are all null. */
  #filled = 0;
  #validity = new Uint8Array(8);
  #validityAt = 0;
  #offsetsAt = 0;
  #dataAt = 0;

  reset(rows: number): void {
    // Only a column that held values has bits to clear.
    if (this.values > 0) this.#validity.fill(0, 0, bitmapLength(this.#rows));
    if (this.#offsets.length < rows + 1) this.#offsets = new Int32Array(2 * (rows + 1));
    if (this.#validity.length < bitmapLength(rows)) this.#validity = new Uint8Array(2 * rows);
    this.#rows = rows;
    this.values = 0;
    this.#byteLength = 0;
    this.#filled = 0;
  }

  /** Rows must come in increasing order; undefined stays null. */
  add(row: number, value: string | undefined): void {
    if (value === undefined) return;
    const offsets = this.#offsets;
    for (; this.#filled < row; this.#filled++) offsets[this.#filled + 1] = this.#byteLength;
    // UTF-16 code units → at most 3 UTF-8 bytes each.
    const needed = this.#byteLength + 3 * value.length;
    if (this.#bytes.length < needed) {
      const grown = new Uint8Array(2 * needed);
      grown.set(this.#bytes.subarray(0, this.#byteLength));
      this.#bytes = grown;
    }
    this.#byteLength = writeUtf8(value, this.#bytes, this.#byteLength);
    offsets[row + 1] = this.#byteLength;
    this.#filled = row + 1;
    this.#validity[row >> 3] = (this.#validity[row >> 3] as number) | (1 << (row & 7));
    this.values++;
  }

  place(words: Int32Array, entry: number, at: number): number {
    const rows = this.#rows;
    this.#validityAt = at;
    this.#offsetsAt = region(words, entry, at, this.values < rows ? bitmapLength(rows) : 0);
    this.#dataAt = region(words, entry + 4, this.#offsetsAt, 4 * (rows + 1));
    return region(words, entry + 8, this.#dataAt, this.#byteLength);
  }

  copy(body: Uint8Array, words: Int32Array): void {
    if (this.values === 0) return;
    const rows = this.#rows;
    for (; this.#filled < rows; this.#filled++) this.#offsets[this.#filled + 1] = this.#byteLength;
    if (this.values < rows) copyBytes(this.#validity, bitmapLength(rows), body, this.#validityAt);
    copyWords(this.#offsets, rows + 1, words, this.#offsetsAt);
    copyBytes(this.#bytes, this.#byteLength, body, this.#dataAt);
  }
}

/** Writes `value` as UTF-8 at `position`, returning the end; lone surrogates become U+FFFD. */
function writeUtf8(value: string, bytes: Uint8Array, position: number): number {
  if (value.length < shortString) {
    let end = position;
    for (let index = 0; index < value.length; index++) {
      const code = value.charCodeAt(index);
      if (code >= 0x80) return position + encodeInto(value, bytes, position);
      bytes[end++] = code;
    }
    return end;
  }
  return position + encodeInto(value, bytes, position);
}

const encodeInto = (value: string, bytes: Uint8Array, position: number) =>
  textEncoder.encodeInto(value, bytes.subarray(position)).written;

/** An Int32 column: validity bitmap and values. Reused from batch to batch. */
class Int32Column {
  readonly bufferCount = 2;
  values = 0;
  #rows = 0;
  #data = new Int32Array(64);
  #validity = new Uint8Array(8);
  #validityAt = 0;
  #dataAt = 0;

  reset(rows: number): void {
    if (this.values > 0) {
      this.#validity.fill(0, 0, bitmapLength(this.#rows));
      this.#data.fill(0, 0, this.#rows);
    }
    if (this.#data.length < rows) this.#data = new Int32Array(2 * rows);
    if (this.#validity.length < bitmapLength(rows)) this.#validity = new Uint8Array(2 * rows);
    this.#rows = rows;
    this.values = 0;
  }

  add(row: number, value: number | undefined): void {
    if (value === undefined) return;
    if (!Number.isInteger(value) || value < int32Min || value > int32Max) {
      throw new ServiceError(ErrorCode.Internal, `Cannot send ${value} as a 32-bit integer`);
    }
    this.#data[row] = value;
    this.#validity[row >> 3] = (this.#validity[row >> 3] as number) | (1 << (row & 7));
    this.values++;
  }

  place(words: Int32Array, entry: number, at: number): number {
    const rows = this.#rows;
    this.#validityAt = at;
    this.#dataAt = region(words, entry, at, this.values < rows ? bitmapLength(rows) : 0);
    return region(words, entry + 4, this.#dataAt, 4 * rows);
  }

  copy(body: Uint8Array, words: Int32Array): void {
    if (this.values === 0) return;
    const rows = this.#rows;
    if (this.values < rows) copyBytes(this.#validity, bitmapLength(rows), body, this.#validityAt);
    copyWords(this.#data, rows, words, this.#dataAt);
  }
}

/**
 * The header, written as flatbuffers' builder writes it for apache-arrow. The builder works back
 * to front and apache-arrow adds the fields in a fixed order, so for this schema the layout
 * depends only on which fields are left out at their default: none for a batch with rows, and
 * `length` for an empty batch. Both layouts follow from the two vtables below; only the numbers
 * change from batch to batch. For a batch with rows:
 *
 * | at  | what                                                                                  |
 * |-----|---------------------------------------------------------------------------------------|
 * | 0   | root offset → Message table at 20, then 4 bytes of padding                            |
 * | 8   | Message vtable (12 bytes)                                                             |
 * | 20  | Message table (22 bytes): vtable offset; bodyLength (24); header_type (35); → RecordBatch table (36); version (40) |
 * | 42  | RecordBatch vtable (10 bytes)                                                         |
 * | 52  | RecordBatch table (24 bytes): vtable offset; → buffers (56); → nodes (60); length (64) |
 * | 76  | buffers: count 31, then 31 × Buffer { offset, length } (Int64 each) from 80           |
 * | 580 | nodes, after 4 bytes of padding: count 12, then 12 × FieldNode { length, null_count } from 584 |
 */
interface HeaderShape {
  /** Message vtable: its size, the table's size, then where version, header_type, header, bodyLength are. */
  message: readonly [number, number, number, number, number, number];
  /** RecordBatch vtable: its size, the table's size, then where length (0: absent), nodes, buffers are. */
  batch: readonly [number, number, number, number, number];
}

const withRows: HeaderShape = { message: [12, 22, 20, 15, 16, 4], batch: [10, 24, 12, 8, 4] };
const withoutRows: HeaderShape = { message: [12, 26, 24, 19, 20, 4], batch: [10, 12, 0, 8, 4] };

const messageVtable = 8;
const messageTable = 20;
const recordBatchHeaderType = 3;
const metadataVersionV5 = 4;

interface HeaderTemplate {
  bytes: Uint8Array;
  bodyLength: number;
  /** Where the batch length goes, or -1 when it is left out. */
  length: number;
  buffers: number;
  nodes: number;
}

function headerTemplate(
  shape: HeaderShape,
  bufferCount: number,
  nodeCount: number,
): HeaderTemplate {
  const [, messageTableSize, version, headerType, header, bodyLength] = shape.message;
  const [batchVtableSize, batchTableSize, length, nodes, buffers] = shape.batch;
  const batchVtable = messageTable + messageTableSize;
  const batchTable = batchVtable + batchVtableSize;
  const buffersVector = batchTable + batchTableSize;
  // FieldNodes hold Int64s: the vector's elements start 8-byte aligned, after its count.
  const nodesVector = paddedLength(buffersVector + 4 + 16 * bufferCount + 4) - 4;
  const bytes = new Uint8Array(nodesVector + 4 + 16 * nodeCount);
  const view = new DataView(bytes.buffer);
  const short = (at: number, value: number) => view.setUint16(at, value, true);
  const int = (at: number, value: number) => view.setInt32(at, value, true);

  int(0, messageTable);
  for (const [index, value] of shape.message.entries()) short(messageVtable + 2 * index, value);
  int(messageTable, messageTable - messageVtable);
  short(messageTable + version, metadataVersionV5);
  view.setUint8(messageTable + headerType, recordBatchHeaderType);
  int(messageTable + header, batchTable - (messageTable + header));

  for (const [index, value] of shape.batch.entries()) short(batchVtable + 2 * index, value);
  int(batchTable, batchTable - batchVtable);
  int(batchTable + nodes, nodesVector - (batchTable + nodes));
  int(batchTable + buffers, buffersVector - (batchTable + buffers));
  int(buffersVector, bufferCount);
  int(nodesVector, nodeCount);
  const template = {
    bytes,
    bodyLength: messageTable + bodyLength,
    length: length === 0 ? -1 : batchTable + length,
    buffers: buffersVector + 4,
    nodes: nodesVector + 4,
  };
  // Every Int64 is written as one Int32 word, so each must sit at a multiple of 8.
  for (const at of [template.bodyLength, template.length, template.buffers, template.nodes]) {
    if (at % 8 !== 0 && at !== -1)
      throw new Error('part-codec: an Int64 of the header is unaligned');
  }
  return template;
}

// The columns in schema order, built from the schema itself so that the two cannot disagree.
const columns = streamPartSchema.fields.map((field) => {
  if (field.type instanceof Utf8) return new Utf8Column();
  if (field.type instanceof Int32) return new Int32Column();
  throw new Error(`part-codec: column '${field.name}' has an unexpected type`);
});
const columnNamed = <Column>(name: string, kind: new () => Column): Column => {
  const column = columns[streamPartSchema.fields.findIndex((field) => field.name === name)];
  if (!(column instanceof kind)) throw new Error(`part-codec: no column '${name}'`);
  return column;
};
const typeColumn = columnNamed('type', Utf8Column);
const textColumn = columnNamed('text', Utf8Column);
const indexColumn = columnNamed('index', Int32Column);
const idColumn = columnNamed('id', Utf8Column);
const nameColumn = columnNamed('name', Utf8Column);
const finishReasonColumn = columnNamed('finish_reason', Utf8Column);
const finishRawColumn = columnNamed('finish_raw', Utf8Column);
const inputTokensColumn = columnNamed('input_tokens', Int32Column);
const outputTokensColumn = columnNamed('output_tokens', Int32Column);
const totalTokensColumn = columnNamed('total_tokens', Int32Column);
const statusColumn = columnNamed('status', Int32Column);
const messageColumn = columnNamed('message', Utf8Column);

const bufferCount = columns.reduce((count, column) => count + column.bufferCount, 0);
const templates = {
  withRows: headerTemplate(withRows, bufferCount, columns.length),
  withoutRows: headerTemplate(withoutRows, bufferCount, columns.length),
};

/** The same row as `partsToRecordBatch` writes: a column is null where the part has no such field. */
function addRow(part: StreamPart, row: number): void {
  typeColumn.add(row, part.type);
  switch (part.type) {
    case 'text-delta':
    case 'reasoning-delta':
      textColumn.add(row, part.text);
      break;
    case 'tool-call-delta':
      textColumn.add(row, part.argumentsDelta);
      indexColumn.add(row, part.index);
      idColumn.add(row, part.id);
      nameColumn.add(row, part.name);
      break;
    case 'finish':
      finishReasonColumn.add(row, part.finishReason.unified);
      finishRawColumn.add(row, part.finishReason.raw);
      inputTokensColumn.add(row, part.usage?.input_tokens);
      outputTokensColumn.add(row, part.usage?.output_tokens);
      totalTokensColumn.add(row, part.usage?.total_tokens);
      break;
    case 'error':
      statusColumn.add(row, part.status);
      messageColumn.add(row, part.message);
      break;
  }
}

/**
 * The RecordBatch message holding `parts` in order, byte for byte as
 * `encodeRecordBatchMessage(partsToRecordBatch(parts))` writes it. Throws ServiceError(Internal)
 * for a number outside Int32. The column buffers are shared, which is safe because this runs
 * synchronously from start to end.
 */
export function encodePartsMessage(parts: readonly StreamPart[]): IpcMessage {
  const rows = parts.length;
  for (let index = 0; index < columns.length; index++) columns[index]?.reset(rows);
  for (let row = 0; row < rows; row++) addRow(parts[row] as StreamPart, row);

  const template = rows === 0 ? templates.withoutRows : templates.withRows;
  const header = template.bytes.slice();
  const words = new Int32Array(header.buffer);
  let bodyLength = 0;
  let entry = template.buffers >> 2;
  for (let index = 0; index < columns.length; index++) {
    const column = columns[index] as Utf8Column | Int32Column;
    bodyLength = column.place(words, entry, bodyLength);
    entry += 4 * column.bufferCount;
    const node = (template.nodes >> 2) + 4 * index;
    words[node] = rows;
    words[node + 2] = rows - column.values;
  }
  if (bodyLength > int32Max) {
    throw new ServiceError(ErrorCode.Internal, 'Cannot send a batch of more than 2 GiB');
  }
  if (template.length >= 0) words[template.length >> 2] = rows;
  words[template.bodyLength >> 2] = bodyLength;

  const body = new Uint8Array(bodyLength);
  const bodyWords = new Int32Array(body.buffer);
  for (let index = 0; index < columns.length; index++) columns[index]?.copy(body, bodyWords);
  return { header, body };
}
