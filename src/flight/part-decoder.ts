/**
 * Arrow IPC messages of one Flight stream → StreamPart[], without apache-arrow's object model.
 *
 * `FlightStreamDecoder.read` + `recordBatchToParts` cost about 30 µs per batch: apache-arrow
 * decodes the header into objects (BigInt per Int64), clones the schema per batch, builds Data
 * and Vectors, and reads each cell through a visitor. Here only the schema message goes through
 * apache-arrow; each record batch header is read in place as a flatbuffer (ipc-flatbuffer.ts),
 * and the parts straight from the body's bitmaps, offsets and UTF-8 bytes: about 4 µs per
 * batch (bench/flight-micro.ts). The parts equal what `recordBatchToParts` returns, with the
 * same rules; the sender may be any Arrow implementation (pyarrow included) and may add
 * columns. Anything malformed is a ServiceError(UpstreamProtocol) naming what is wrong, found
 * by bounds checks before any read: never another exception, a long loop or an allocation
 * sized by a lying length.
 */
import { Buffer } from 'node:buffer';
import { Message, type Schema, Type } from 'apache-arrow';
import { ServiceError } from '../domain/errors.ts';
import { isUnifiedFinishReason, type StreamPart } from '../domain/stream-part.ts';
import { type BatchLayout, batchLayout } from './batch-layout.ts';
import type { IpcMessage } from './ipc.ts';
import {
  FlatbufferView,
  type MessageFields,
  MessageHeaderType,
  MetadataVersion,
  protocolError,
  readMessage,
  readRecordBatch,
  verifySchemaMessage,
} from './ipc-flatbuffer.ts';
import { assertStreamPartSchema, streamPartSchema } from './record-batch.ts';

/** Our columns, in the order of `streamPartSchema`; a sender may order them differently. */
const columnNames = streamPartSchema.fields.map((field) => field.name);
const column = (name: string): number => {
  const index = columnNames.indexOf(name);
  if (index < 0) throw new Error(`part-decoder: no column '${name}'`);
  return index;
};
const typeColumn = column('type');
const textColumn = column('text');
const indexColumn = column('index');
const idColumn = column('id');
const nameColumn = column('name');
const finishReasonColumn = column('finish_reason');
const finishRawColumn = column('finish_raw');
const inputTokensColumn = column('input_tokens');
const outputTokensColumn = column('output_tokens');
const totalTokensColumn = column('total_tokens');
const statusColumn = column('status');
const messageColumn = column('message');
const isUtf8Column = streamPartSchema.fields.map((field) => field.type.typeId === Type.Utf8);

const fatalDecoder = new TextDecoder('utf-8', { fatal: true });
const emptyBody = new Uint8Array(0);
const emptyView = new DataView(new ArrayBuffer(0));

interface KnownSchema {
  /** The schema message's header, a private copy. */
  header: Uint8Array;
  schema: Schema;
  /** By metadata version, which only matters for unions. */
  layouts: Map<number, BatchLayout>;
}

/**
 * Every stream between two Sluice nodes starts with the same schema message, and decoding it
 * with apache-arrow costs several times a batch: the last one decoded is kept, and a stream
 * whose schema message is byte for byte the same reuses it.
 */
let lastSchema: KnownSchema | undefined;

/**
 * Decodes the messages of one Flight stream in order: the schema first, then record batches,
 * each into its parts at once. One decoder per stream; `read` is synchronous and keeps no view
 * of the message once it returns.
 */
export class PartsMessageDecoder {
  #schema: KnownSchema | undefined;

  // The batch being read; per column (our order), its validity bitmap and buffers in the body.
  #body: Uint8Array = emptyBody;
  /** The body again, for its Int32s (a DataView reads them at any alignment). */
  #words: DataView = emptyView;
  #rows = 0;
  #regionAt = 0;
  readonly #nullCount = new Array<number>(columnNames.length).fill(0);
  readonly #validity = new Array<number>(columnNames.length).fill(0);
  readonly #offsets = new Array<number>(columnNames.length).fill(0);
  readonly #data = new Array<number>(columnNames.length).fill(0);
  /** The Utf8 column's bytes decoded at once when they are all ASCII (null when not). */
  readonly #ascii = new Array<string | null | undefined>(columnNames.length);

  /**
   * The parts in this message, or undefined for the schema message and for metadata-only
   * messages (an empty `data_header`, which Flight allows for `app_metadata`).
   */
  read(message: IpcMessage): StreamPart[] | undefined {
    if (message.header.length === 0) return undefined;
    const view = new FlatbufferView(message.header);
    const fields = readMessage(view);
    if (fields.bodyLength > message.body.length) {
      throw protocolError(
        `IPC message body is ${message.body.length} bytes, header says ${fields.bodyLength}`,
      );
    }
    switch (fields.headerType) {
      case MessageHeaderType.Schema:
        this.#readSchema(view, fields, message.header);
        return undefined;
      case MessageHeaderType.DictionaryBatch:
        throw protocolError('dictionary batches are not part of this schema');
      case MessageHeaderType.RecordBatch: {
        const body = message.body;
        this.#body = body.subarray(0, fields.bodyLength);
        this.#words = new DataView(body.buffer, body.byteOffset, fields.bodyLength);
        try {
          return this.#readBatch(view, fields);
        } finally {
          this.#body = emptyBody;
          this.#words = emptyView;
        }
      }
      default:
        throw protocolError(`unexpected message ${fields.headerType}`);
    }
  }

  #readSchema(view: FlatbufferView, fields: MessageFields, header: Uint8Array): void {
    if (this.#schema !== undefined) throw protocolError('a second schema message arrived');
    if (lastSchema !== undefined && Buffer.compare(lastSchema.header, header) === 0) {
      this.#schema = lastSchema;
      return;
    }
    verifySchemaMessage(view, fields);
    let known: KnownSchema;
    try {
      const schema = Message.decode(header).header() as Schema;
      assertStreamPartSchema(schema);
      // Laid out now, where a type apache-arrow decoded half (a list without its child, say)
      // is one more unreadable schema; V4 batches, rarer, get theirs when the first arrives.
      const layouts = new Map([
        [MetadataVersion.V5, batchLayout(schema, MetadataVersion.V5, columnNames)],
      ]);
      known = { header: header.slice(), schema, layouts };
    } catch (error) {
      // apache-arrow trusts what it decodes: a malformed type can throw a TypeError as late as
      // in the type's toString (which assertStreamPartSchema calls).
      if (ServiceError.isInstance(error)) throw error;
      throw protocolError('unreadable IPC schema message', error);
    }
    this.#schema = known;
    lastSchema = known;
  }

  #layout(version: number): BatchLayout {
    const known = this.#schema;
    if (known === undefined) throw protocolError('a record batch arrived before the schema');
    if (version !== MetadataVersion.V4 && version !== MetadataVersion.V5) {
      throw protocolError(`IPC metadata version ${version} is not supported`);
    }
    let layout = known.layouts.get(version);
    if (layout === undefined) {
      try {
        layout = batchLayout(known.schema, version, columnNames);
      } catch (error) {
        if (ServiceError.isInstance(error)) throw error;
        throw protocolError('unreadable IPC schema message', error);
      }
      known.layouts.set(version, layout);
    }
    return layout;
  }

  #readBatch(view: FlatbufferView, message: MessageFields): StreamPart[] {
    const layout = this.#layout(message.version);
    if (message.header < 0) throw protocolError('record batch message without a header');
    const batch = readRecordBatch(view, message.header);
    if (batch.compressed) throw protocolError('compressed batches are not supported');
    if (batch.nodes.length !== layout.nodeCount) {
      throw protocolError(
        `record batch has ${batch.nodes.length} field nodes, expected ${layout.nodeCount}`,
      );
    }
    if (batch.variadicBufferCounts.length !== layout.viewCount) {
      throw protocolError('record batch variadic buffer counts do not match the schema');
    }
    // Buffers added by view columns before each of ours; counts are bounded by the buffer list.
    const variadicBefore = [0];
    for (let index = 0; index < layout.viewCount; index++) {
      const count = view.size(batch.variadicBufferCounts.start + 8 * index, 'variadic count');
      variadicBefore.push(
        (variadicBefore[index] as number) + Math.min(count, batch.buffers.length + 1),
      );
    }
    if (
      batch.buffers.length !==
      layout.bufferCount + (variadicBefore[layout.viewCount] as number)
    ) {
      const expected = layout.bufferCount + (variadicBefore[layout.viewCount] as number);
      throw protocolError(
        `record batch has ${batch.buffers.length} buffers, the schema needs ${expected}`,
      );
    }

    const rows = batch.length;
    this.#rows = rows;
    for (let index = 0; index < columnNames.length; index++) {
      const name = columnNames[index] as string;
      const node = batch.nodes.start + 16 * (layout.node[index] as number);
      const length = view.size(node, 'length', name);
      const nullCount = view.size(node + 8, 'null count', name);
      if (length !== rows) {
        throw protocolError(`column '${name}' has ${length} rows, the batch ${rows}`);
      }
      if (nullCount > rows) {
        throw protocolError(`column '${name}' has ${nullCount} nulls in ${rows} rows`);
      }
      const viewBuffers = variadicBefore[layout.viewsBefore[index] as number] as number;
      const buffer = batch.buffers.start + 16 * ((layout.buffer[index] as number) + viewBuffers);
      const validityLength = this.#region(view, buffer, name);
      if (nullCount > 0 && validityLength < (rows + 7) >> 3) {
        throw protocolError(`column '${name}' has a validity bitmap too short for ${rows} rows`);
      }
      this.#nullCount[index] = nullCount;
      this.#validity[index] = this.#regionAt;
      if (isUtf8Column[index]) {
        const offsetsLength = this.#region(view, buffer + 16, name);
        const offsetsAt = this.#regionAt;
        const dataLength = this.#region(view, buffer + 32, name);
        this.#checkOffsets(name, rows, offsetsAt, offsetsLength, dataLength);
        this.#offsets[index] = offsetsAt;
        this.#data[index] = this.#regionAt;
        this.#ascii[index] = undefined;
      } else {
        if (this.#region(view, buffer + 16, name) < 4 * rows) {
          throw protocolError(`column '${name}' is too short for ${rows} rows`);
        }
        this.#data[index] = this.#regionAt;
      }
    }
    return this.#parts(rows);
  }

  /** Checks the body buffer whose Buffer entry is at `entry`; returns its length, sets #regionAt. */
  #region(view: FlatbufferView, entry: number, name: string): number {
    const at = view.size(entry, 'buffer offset', name);
    const length = view.size(entry + 8, 'buffer length', name);
    if (at + length > this.#body.length) {
      throw protocolError(
        `column '${name}' has a buffer outside the ${this.#body.length}-byte body`,
      );
    }
    this.#regionAt = at;
    return length;
  }

  /** Offsets must rise monotonically, from 0 or more, and end inside the data buffer. */
  #checkOffsets(name: string, rows: number, at: number, length: number, dataLength: number): void {
    // An empty column may leave out its offsets altogether.
    if (rows === 0) return;
    if (length < 4 * (rows + 1)) {
      throw protocolError(`column '${name}' has offsets too short for ${rows} rows`);
    }
    let previous = this.#words.getInt32(at, true);
    if (previous < 0) throw protocolError(`column '${name}' has a negative offset`);
    for (let row = 1; row <= rows; row++) {
      const offset = this.#words.getInt32(at + 4 * row, true);
      if (offset < previous) throw protocolError(`column '${name}' has decreasing offsets`);
      previous = offset;
    }
    if (previous > dataLength) {
      throw protocolError(`column '${name}' has offsets past its ${dataLength} bytes of data`);
    }
  }

  #isValid(index: number, row: number): boolean {
    if (this.#nullCount[index] === 0) return true;
    const byte = this.#body[(this.#validity[index] as number) + (row >> 3)] as number;
    return ((byte >> (row & 7)) & 1) === 1;
  }

  #text(index: number, row: number): string | undefined {
    if (!this.#isValid(index, row)) return undefined;
    const offsets = this.#offsets[index] as number;
    const start = this.#words.getInt32(offsets + 4 * row, true);
    const end = this.#words.getInt32(offsets + 4 * row + 4, true);
    if (start === end) return '';
    const first = this.#words.getInt32(offsets, true);
    const data = this.#data[index] as number;
    let ascii = this.#ascii[index];
    if (ascii === undefined) {
      // One decode for the whole column; only ASCII lets byte offsets index the string.
      const last = this.#words.getInt32(offsets + 4 * this.#rows, true);
      ascii = asciiText(this.#body.subarray(data + first, data + last));
      this.#ascii[index] = ascii;
    }
    if (ascii !== null) return ascii.slice(start - first, end - first);
    try {
      return fatalDecoder.decode(this.#body.subarray(data + start, data + end));
    } catch (error) {
      throw protocolError(`column '${columnNames[index]}' row ${row} is not valid UTF-8`, error);
    }
  }

  #integer(index: number, row: number): number | undefined {
    if (!this.#isValid(index, row)) return undefined;
    return this.#words.getInt32((this.#data[index] as number) + 4 * row, true);
  }

  /** The same parts, with the same rules and messages, as `recordBatchToParts`. */
  #parts(rows: number): StreamPart[] {
    const parts: StreamPart[] = [];
    for (let row = 0; row < rows; row++) {
      const type = this.#text(typeColumn, row);
      switch (type) {
        case 'text-delta':
        case 'reasoning-delta':
          parts.push({ type, text: required(this.#text(textColumn, row), 'text', type) });
          break;
        case 'tool-call-delta': {
          const part: StreamPart = {
            type,
            index: required(this.#integer(indexColumn, row), 'index', type),
            argumentsDelta: required(this.#text(textColumn, row), 'text', type),
          };
          const id = this.#text(idColumn, row);
          const name = this.#text(nameColumn, row);
          if (id !== undefined) part.id = id;
          if (name !== undefined) part.name = name;
          parts.push(part);
          break;
        }
        case 'finish': {
          const unified = required(this.#text(finishReasonColumn, row), 'finish_reason', type);
          const part: StreamPart = {
            type,
            finishReason: {
              unified: isUnifiedFinishReason(unified) ? unified : 'other',
              raw: this.#text(finishRawColumn, row),
            },
          };
          const inputTokens = this.#integer(inputTokensColumn, row);
          if (inputTokens !== undefined) {
            part.usage = {
              input_tokens: inputTokens,
              output_tokens: required(
                this.#integer(outputTokensColumn, row),
                'output_tokens',
                type,
              ),
              total_tokens: required(this.#integer(totalTokensColumn, row), 'total_tokens', type),
            };
          }
          parts.push(part);
          break;
        }
        case 'error':
          parts.push({
            type,
            message: required(this.#text(messageColumn, row), 'message', type),
            status: required(this.#integer(statusColumn, row), 'status', type),
          });
          break;
        default:
          throw protocolError(`unknown part type '${String(type)}'`);
      }
    }
    return parts;
  }
}

function required<Value>(value: Value | undefined, name: string, type: string): Value {
  if (value === undefined) throw protocolError(`a '${type}' row has no '${name}'`);
  return value;
}

/** The bytes as a string when they are all ASCII (then byte i is character i), else null. */
function asciiText(bytes: Uint8Array): string | null {
  let text: string;
  try {
    text = fatalDecoder.decode(bytes);
  } catch {
    // Not valid as a whole; each value is then decoded, and judged, on its own.
    return null;
  }
  // Every non-ASCII character takes more UTF-8 bytes than UTF-16 units.
  return text.length === bytes.length ? text : null;
}
