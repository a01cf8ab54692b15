/**
 * Bounds-checked reading of Arrow IPC `Message` flatbuffers (format/Message.fbs, Schema.fbs), for
 * `PartsMessageDecoder`.
 *
 * Fields are found through each table's vtable, as any flatbuffer reader finds them, so a header
 * written by another Arrow implementation (pyarrow orders and pads its tables differently) reads
 * the same as ours. Every offset, length and count is checked against the header's size before
 * it is used: a lying header becomes a protocol error, never a read out of range, a long loop or
 * a large allocation.
 */
import { ErrorCode, ServiceError } from '../domain/errors.ts';

export const protocolError = (message: string, cause?: unknown): ServiceError =>
  new ServiceError(ErrorCode.UpstreamProtocol, `Flight stream: ${message}`, { cause });

/** The `MessageHeader` union tags. */
export const MessageHeaderType = { Schema: 1, DictionaryBatch: 2, RecordBatch: 3 } as const;

/** `MetadataVersion` values: V4 and V5 lay out record batches alike (V5 only drops union bitmaps). */
export const MetadataVersion = { V4: 3, V5: 4 } as const;

/** A vector's first element and element count; the elements are known to lie inside the header. */
export interface VectorRegion {
  start: number;
  length: number;
}

/** Beyond 2^53 a length or offset is no longer exact as a number, and no body is that large. */
const maxSafeHigh = 2 ** 21;
/** Nesting deeper than this is not a schema anyone writes, but a cycle of offsets. */
const maxSchemaDepth = 64;

export class FlatbufferView {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.#bytes.length;
  }

  #check(position: number, size: number): void {
    if (position < 0 || position + size > this.#bytes.length) {
      throw protocolError(`IPC message header is cut short (${this.#bytes.length} bytes)`);
    }
  }

  uint8(position: number): number {
    this.#check(position, 1);
    return this.#view.getUint8(position);
  }

  int16(position: number): number {
    this.#check(position, 2);
    return this.#view.getInt16(position, true);
  }

  int32(position: number): number {
    this.#check(position, 4);
    return this.#view.getInt32(position, true);
  }

  /**
   * An Int64 that is a length, a count or an offset: refused when negative or beyond 2^53.
   * `what` names it in the error (`column` too, when given); no message is built otherwise.
   */
  size(position: number, what: string, column?: string): number {
    this.#check(position, 8);
    const high = this.#view.getInt32(position + 4, true);
    if (high < 0 || high >= maxSafeHigh) {
      const subject = column === undefined ? what : `column '${column}' ${what}`;
      throw protocolError(`${subject} is out of range`);
    }
    return this.#view.getUint32(position, true) + high * 2 ** 32;
  }

  /** The table that the buffer's root offset points to. */
  root(): number {
    return this.#table(this.#target(0));
  }

  /** The table that the offset field at `position` points to. */
  table(position: number): number {
    return this.#table(this.#target(position));
  }

  /** The vector that the offset field at `position` points to. */
  vector(position: number, elementSize: number): VectorRegion {
    const at = this.#target(position);
    const length = this.int32(at);
    const start = at + 4;
    if (length < 0 || length > (this.#bytes.length - start) / elementSize) {
      throw protocolError(`IPC message header has a vector of ${length} that does not fit`);
    }
    return { start, length };
  }

  /**
   * Where field `id` of `table` is, or -1 when the table does not have it (the reader then
   * uses the schema's default). `size` is the field's width, checked against the table's size.
   */
  field(table: number, id: number, size: number): number {
    const vtable = table - this.#view.getInt32(table, true);
    const entry = 4 + 2 * id;
    if (entry + 2 > this.#view.getUint16(vtable, true)) return -1;
    const offset = this.#view.getUint16(vtable + entry, true);
    if (offset === 0) return -1;
    if (offset + size > this.#view.getUint16(vtable + 2, true)) {
      throw protocolError('IPC message header has a field outside its table');
    }
    return table + offset;
  }

  #target(position: number): number {
    this.#check(position, 4);
    const target = position + this.#view.getUint32(position, true);
    this.#check(target, 4);
    return target;
  }

  #table(table: number): number {
    this.#check(table, 4);
    const vtable = table - this.#view.getInt32(table, true);
    this.#check(vtable, 4);
    const vtableSize = this.#view.getUint16(vtable, true);
    const tableSize = this.#view.getUint16(vtable + 2, true);
    if (vtableSize < 4 || vtableSize % 2 !== 0 || tableSize < 4) {
      throw protocolError('IPC message header has a malformed table');
    }
    this.#check(vtable, vtableSize);
    this.#check(table, tableSize);
    return table;
  }
}

export interface MessageFields {
  version: number;
  headerType: number;
  /** The header table's position, or -1 when the message has none. */
  header: number;
  bodyLength: number;
}

/** Message { version: short, header_type: ubyte, header: table, bodyLength: long, ... }. */
export function readMessage(view: FlatbufferView): MessageFields {
  const message = view.root();
  const version = view.field(message, 0, 2);
  const headerType = view.field(message, 1, 1);
  const header = view.field(message, 2, 4);
  const bodyLength = view.field(message, 3, 8);
  return {
    // Defaults from Message.fbs: V1, NONE, no header, 0.
    version: version < 0 ? 0 : view.int16(version),
    headerType: headerType < 0 ? 0 : view.uint8(headerType),
    header: header < 0 ? -1 : view.table(header),
    bodyLength: bodyLength < 0 ? 0 : view.size(bodyLength, 'IPC body length'),
  };
}

export interface RecordBatchFields {
  length: number;
  /** FieldNode { length: long, null_count: long }, 16 bytes each. */
  nodes: VectorRegion;
  /** Buffer { offset: long, length: long }, 16 bytes each. */
  buffers: VectorRegion;
  /** One long per view-typed field, in schema order. */
  variadicBufferCounts: VectorRegion;
  compressed: boolean;
}

const noVector: VectorRegion = { start: 0, length: 0 };

/** RecordBatch { length: long, nodes: [FieldNode], buffers: [Buffer], compression, variadic… }. */
export function readRecordBatch(view: FlatbufferView, batch: number): RecordBatchFields {
  const length = view.field(batch, 0, 8);
  const nodes = view.field(batch, 1, 4);
  const buffers = view.field(batch, 2, 4);
  const variadicBufferCounts = view.field(batch, 4, 4);
  return {
    length: length < 0 ? 0 : view.size(length, 'record batch length'),
    nodes: nodes < 0 ? noVector : view.vector(nodes, 16),
    buffers: buffers < 0 ? noVector : view.vector(buffers, 16),
    variadicBufferCounts:
      variadicBufferCounts < 0 ? noVector : view.vector(variadicBufferCounts, 8),
    compressed: view.field(batch, 3, 4) >= 0,
  };
}

/**
 * Walks every table and vector of a schema message that apache-arrow's `Message.decode` will
 * loop over, so that decoding it afterwards cannot run away: apache-arrow trusts vector lengths
 * (a lying one means a loop of 2^31 steps) and follows offsets without checking them (a cycle
 * means endless recursion). The walk visits at most one table or element per header byte.
 */
export function verifySchemaMessage(view: FlatbufferView, message: MessageFields): void {
  let budget = view.length;
  const spend = (count: number) => {
    budget -= count;
    if (budget < 0) throw protocolError('IPC schema header refers to more than it holds');
  };
  const string = (position: number) => {
    if (position >= 0) view.vector(position, 1);
  };
  const tables = (position: number, verify: (table: number) => void) => {
    if (position < 0) return;
    const { start, length } = view.vector(position, 4);
    spend(length);
    for (let index = 0; index < length; index++) verify(view.table(start + 4 * index));
  };
  const keyValue = (table: number) => {
    string(view.field(table, 0, 4));
    string(view.field(table, 1, 4));
  };
  const field = (table: number, depth: number): void => {
    if (depth > maxSchemaDepth) throw protocolError('IPC schema nests too deeply');
    string(view.field(table, 0, 4));
    const type = view.field(table, 3, 4);
    if (type >= 0) {
      const typeTable = view.table(type);
      // Timestamp { unit, timezone: string }, Union { mode, typeIds: [int] }: the only
      // type tables with something apache-arrow reads beyond scalars.
      const typeType = view.field(table, 2, 1);
      const tag = typeType < 0 ? 0 : view.uint8(typeType);
      if (tag === timestampTag) string(view.field(typeTable, 1, 4));
      const typeIds = tag === unionTag ? view.field(typeTable, 1, 4) : -1;
      if (typeIds >= 0) spend(view.vector(typeIds, 4).length);
    }
    const dictionary = view.field(table, 4, 4);
    if (dictionary >= 0) {
      const indexType = view.field(view.table(dictionary), 1, 4);
      if (indexType >= 0) view.table(indexType);
    }
    tables(view.field(table, 5, 4), (child) => field(child, depth + 1));
    tables(view.field(table, 6, 4), keyValue);
  };

  tables(view.field(view.root(), 4, 4), keyValue);
  if (message.header < 0) throw protocolError('schema message without a schema');
  tables(view.field(message.header, 1, 4), (table) => field(table, 0));
  tables(view.field(message.header, 2, 4), keyValue);
}

/** `Type` union tags in Schema.fbs. */
const timestampTag = 10;
const unionTag = 14;
