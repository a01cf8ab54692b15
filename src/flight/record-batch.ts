/**
 * StreamPart[] ⇄ Arrow RecordBatch, with ONE fixed schema for every batch of every stream.
 *
 * One row per part; a column is null where the part kind has no such field:
 *
 * | column          | type  | null | filled for                                                 |
 * |-----------------|-------|------|------------------------------------------------------------|
 * | `type`          | Utf8  | no   | every row: `text-delta`, `reasoning-delta`, `tool-call-delta`, `finish`, `error` |
 * | `text`          | Utf8  | yes  | text-delta / reasoning-delta text; tool-call-delta `argumentsDelta` |
 * | `index`         | Int32 | yes  | tool-call-delta                                            |
 * | `id`, `name`    | Utf8  | yes  | tool-call-delta, when the fragment carries them            |
 * | `finish_reason` | Utf8  | yes  | finish (unified reason)                                    |
 * | `finish_raw`    | Utf8  | yes  | finish, when the provider sent its own word                |
 * | `input_tokens`, `output_tokens`, `total_tokens` | Int32 | yes | finish, when usage is known |
 * | `status`        | Int32 | yes  | error (HTTP status)                                        |
 * | `message`       | Utf8  | yes  | error                                                      |
 *
 * Plain Utf8 (not dictionary) and explicit types everywhere: a type inferred per batch
 * (`tableFromArrays`) gives each batch a fresh schema, and a stream writer closes on a schema
 * change (DEPENDENCIES.md §2.4 G3). Int32 is plenty for token counts and keeps numbers as JS
 * numbers (Int64 would decode to bigint). Empty strings and nulls are distinct: `''` is a value.
 *
 * Columns are built directly as Arrow Data (offsets, bytes, validity bitmap) rather than through
 * the generic builders: this runs once per token, and the builders are several times slower.
 */
import { type Data, Field, Int32, makeData, RecordBatch, Schema, Struct, Utf8 } from 'apache-arrow';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import { isUnifiedFinishReason, type StreamPart, type Usage } from '../domain/stream-part.ts';

/** Bump when the columns change; readers check names and types, not this value. */
export const streamPartSchemaVersion = 'sluice.stream-part/1';

const utf8Type = new Utf8();
const int32Type = new Int32();

const fields = [
  new Field('type', utf8Type, false),
  new Field('text', utf8Type, true),
  new Field('index', int32Type, true),
  new Field('id', utf8Type, true),
  new Field('name', utf8Type, true),
  new Field('finish_reason', utf8Type, true),
  new Field('finish_raw', utf8Type, true),
  new Field('input_tokens', int32Type, true),
  new Field('output_tokens', int32Type, true),
  new Field('total_tokens', int32Type, true),
  new Field('status', int32Type, true),
  new Field('message', utf8Type, true),
];

export const streamPartSchema = new Schema(
  fields,
  new Map([['sluice.schema', streamPartSchemaVersion]]),
);

const structType = new Struct(fields);
const textEncoder = new TextEncoder();

type Text = string | undefined;
type Integer = number | undefined;

/** Column values gathered row by row; `undefined` becomes null. */
interface Columns {
  type: string[];
  text: Text[];
  index: Integer[];
  id: Text[];
  name: Text[];
  finishReason: Text[];
  finishRaw: Text[];
  inputTokens: Integer[];
  outputTokens: Integer[];
  totalTokens: Integer[];
  status: Integer[];
  message: Text[];
}

/** Builds one batch holding `parts` in order. `parts` must not be empty. */
export function partsToRecordBatch(parts: readonly StreamPart[]): RecordBatch {
  const columns: Columns = {
    type: [],
    text: [],
    index: [],
    id: [],
    name: [],
    finishReason: [],
    finishRaw: [],
    inputTokens: [],
    outputTokens: [],
    totalTokens: [],
    status: [],
    message: [],
  };
  for (const part of parts) addRow(columns, part);
  const children = [
    utf8Data(columns.type),
    utf8Data(columns.text),
    int32Data(columns.index),
    utf8Data(columns.id),
    utf8Data(columns.name),
    utf8Data(columns.finishReason),
    utf8Data(columns.finishRaw),
    int32Data(columns.inputTokens),
    int32Data(columns.outputTokens),
    int32Data(columns.totalTokens),
    int32Data(columns.status),
    utf8Data(columns.message),
  ];
  const data = makeData({ type: structType, length: parts.length, nullCount: 0, children });
  return new RecordBatch(streamPartSchema, data);
}

function addRow(columns: Columns, part: StreamPart): void {
  let text: Text;
  let index: Integer;
  let id: Text;
  let name: Text;
  let finishReason: Text;
  let finishRaw: Text;
  let usage: Usage | undefined;
  let status: Integer;
  let message: Text;
  switch (part.type) {
    case 'text-delta':
    case 'reasoning-delta':
      text = part.text;
      break;
    case 'tool-call-delta':
      text = part.argumentsDelta;
      index = part.index;
      id = part.id;
      name = part.name;
      break;
    case 'finish':
      finishReason = part.finishReason.unified;
      finishRaw = part.finishReason.raw;
      usage = part.usage;
      break;
    case 'error':
      status = part.status;
      message = part.message;
      break;
  }
  columns.type.push(part.type);
  columns.text.push(text);
  columns.index.push(index);
  columns.id.push(id);
  columns.name.push(name);
  columns.finishReason.push(finishReason);
  columns.finishRaw.push(finishRaw);
  columns.inputTokens.push(usage?.input_tokens);
  columns.outputTokens.push(usage?.output_tokens);
  columns.totalTokens.push(usage?.total_tokens);
  columns.status.push(status);
  columns.message.push(message);
}

/** A validity bitmap (bit set = value present), or undefined when nothing is null. */
function validityBitmap(values: readonly unknown[], nullCount: number): Uint8Array | undefined {
  if (nullCount === 0) return undefined;
  const bitmap = new Uint8Array((values.length + 7) >> 3);
  for (let row = 0; row < values.length; row++) {
    if (values[row] !== undefined) bitmap[row >> 3] = (bitmap[row >> 3] ?? 0) | (1 << (row & 7));
  }
  return bitmap;
}

/**
 * All-null columns are most columns of most batches (a text delta fills 2 of 12), so they are
 * built once per small length and shared: Data is never mutated once built.
 */
const nullColumns = new Map<string, Data>();
const maxCachedNullLength = 16;

function nullColumn<Type extends Utf8 | Int32>(type: Type, length: number): Data<Type> | undefined {
  if (length > maxCachedNullLength) return undefined;
  const key = `${type.typeId}:${length}`;
  let column = nullColumns.get(key);
  if (column === undefined) {
    const common = { length, nullCount: length, nullBitmap: new Uint8Array((length + 7) >> 3) };
    column =
      type instanceof Utf8
        ? makeData({ ...common, type, valueOffsets: new Int32Array(length + 1) })
        : makeData({ ...common, type: int32Type, data: new Int32Array(length) });
    nullColumns.set(key, column);
  }
  return column as Data<Type>;
}

const isAllNull = (values: readonly unknown[]) => values.every((value) => value === undefined);

function utf8Data(values: readonly Text[]): Data<Utf8> {
  const shared = isAllNull(values) ? nullColumn(utf8Type, values.length) : undefined;
  if (shared !== undefined) return shared;
  const valueOffsets = new Int32Array(values.length + 1);
  let nullCount = 0;
  let maxBytes = 0;
  for (const value of values) {
    if (value === undefined) nullCount++;
    // UTF-16 code units → at most 3 UTF-8 bytes each; one pass, no per-string allocation.
    else maxBytes += value.length * 3;
  }
  const bytes = new Uint8Array(maxBytes);
  let position = 0;
  for (let row = 0; row < values.length; row++) {
    const value = values[row];
    if (value !== undefined && value !== '') {
      position += textEncoder.encodeInto(value, bytes.subarray(position)).written;
    }
    valueOffsets[row + 1] = position;
  }
  return makeData({
    type: utf8Type,
    length: values.length,
    nullCount,
    nullBitmap: validityBitmap(values, nullCount),
    valueOffsets,
    // The writer reads only up to the last offset, so the spare capacity is never sent.
    data: bytes.subarray(0, position),
  });
}

const int32Min = -(2 ** 31);
const int32Max = 2 ** 31 - 1;

function int32Data(values: readonly Integer[]): Data<Int32> {
  const shared = isAllNull(values) ? nullColumn(int32Type, values.length) : undefined;
  if (shared !== undefined) return shared;
  const data = new Int32Array(values.length);
  let nullCount = 0;
  for (let row = 0; row < values.length; row++) {
    const value = values[row];
    if (value === undefined) {
      nullCount++;
    } else if (Number.isInteger(value) && value >= int32Min && value <= int32Max) {
      data[row] = value;
    } else {
      throw new ServiceError(ErrorCode.Internal, `Cannot send ${value} as a 32-bit integer`);
    }
  }
  return makeData({
    type: int32Type,
    length: values.length,
    nullCount,
    nullBitmap: validityBitmap(values, nullCount),
    data,
  });
}

// ---- decoding -------------------------------------------------------------------------------

const protocolError = (message: string): ServiceError =>
  new ServiceError(ErrorCode.UpstreamProtocol, `Flight stream: ${message}`);

/**
 * Checks that a received schema has every column this version reads, with the same type.
 * Extra columns are allowed so that a newer sender can add one without breaking older readers.
 */
export function assertStreamPartSchema(schema: Schema): void {
  for (const expected of fields) {
    const actual = schema.fields.find((field) => field.name === expected.name);
    if (actual === undefined) throw protocolError(`column '${expected.name}' is missing`);
    if (String(actual.type) !== String(expected.type)) {
      throw protocolError(
        `column '${expected.name}' is ${String(actual.type)}, expected ${String(expected.type)}`,
      );
    }
  }
}

interface ColumnReader {
  get(row: number): unknown;
}

/** Reads the parts back from a batch whose schema passed `assertStreamPartSchema`. */
export function recordBatchToParts(batch: RecordBatch): StreamPart[] {
  const column = (name: string): ColumnReader => {
    const vector = batch.getChild(name);
    if (vector === null) throw protocolError(`column '${name}' is missing`);
    return vector;
  };
  const text = (reader: ColumnReader, row: number): string | undefined => {
    const value = reader.get(row);
    return typeof value === 'string' ? value : undefined;
  };
  const integer = (reader: ColumnReader, row: number): number | undefined => {
    const value = reader.get(row);
    return typeof value === 'number' ? value : undefined;
  };
  const required = <Value>(value: Value | undefined, name: string, type: string): Value => {
    if (value === undefined) throw protocolError(`a '${type}' row has no '${name}'`);
    return value;
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

  const parts: StreamPart[] = [];
  for (let row = 0; row < batch.numRows; row++) {
    const type = text(typeColumn, row);
    switch (type) {
      case 'text-delta':
      case 'reasoning-delta':
        parts.push({ type, text: required(text(textColumn, row), 'text', type) });
        break;
      case 'tool-call-delta': {
        const part: StreamPart = {
          type,
          index: required(integer(indexColumn, row), 'index', type),
          argumentsDelta: required(text(textColumn, row), 'text', type),
        };
        const id = text(idColumn, row);
        const name = text(nameColumn, row);
        if (id !== undefined) part.id = id;
        if (name !== undefined) part.name = name;
        parts.push(part);
        break;
      }
      case 'finish': {
        const unified = required(text(finishReasonColumn, row), 'finish_reason', type);
        const part: StreamPart = {
          type,
          finishReason: {
            // A reason added by a newer sender is still a finish; the provider's word stays in `raw`.
            unified: isUnifiedFinishReason(unified) ? unified : 'other',
            raw: text(finishRawColumn, row),
          },
        };
        const inputTokens = integer(inputTokensColumn, row);
        if (inputTokens !== undefined) {
          part.usage = {
            input_tokens: inputTokens,
            output_tokens: required(integer(outputTokensColumn, row), 'output_tokens', type),
            total_tokens: required(integer(totalTokensColumn, row), 'total_tokens', type),
          };
        }
        parts.push(part);
        break;
      }
      case 'error':
        parts.push({
          type,
          message: required(text(messageColumn, row), 'message', type),
          status: required(integer(statusColumn, row), 'status', type),
        });
        break;
      default:
        throw protocolError(`unknown part type '${String(type)}'`);
    }
  }
  return parts;
}
