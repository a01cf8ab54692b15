/**
 * part-codec.ts against other writers: apache-arrow with extra columns of many types and our
 * columns in another order, and pyarrow (Arrow C++), whose headers are laid out differently.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  Bool,
  type Data,
  DenseUnion,
  Dictionary,
  Field,
  Float64,
  Int32,
  Int64,
  List,
  makeData,
  Null,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  Utf8,
  Utf8View,
  vectorFromArray,
} from 'apache-arrow';
import type { StreamPart } from '../domain/stream-part.ts';
import { everyKind } from './__fixtures__/harness.ts';
import { partBatches as batches, ipcMessages, isProtocolError } from './__fixtures__/part-codec.ts';
import type { IpcMessage } from './ipc.ts';
import { PartsMessageDecoder } from './part-codec.ts';
import { partsToRecordBatch, streamPartSchema } from './record-batch.ts';

/** Extra columns of many Arrow types, to be placed before and between ours. */
function extraColumns(rows: number): { field: Field; data: Data }[] {
  const column = (name: string, data: Data) => ({ field: new Field(name, data.type, true), data });
  const repeat = <Value>(value: Value) => Array.from({ length: rows }, () => value);
  return [
    column('added_later', vectorFromArray(repeat('later'), new Utf8()).data[0] as Data),
    column('view', vectorFromArray(repeat('x'.repeat(20)), new Utf8View()).data[0] as Data),
    column('count', vectorFromArray(repeat(7n), new Int64()).data[0] as Data),
    column(
      'list',
      vectorFromArray(repeat([1, 2]), new List(new Field('item', new Int32(), true)))
        .data[0] as Data,
    ),
    column(
      'struct',
      vectorFromArray(repeat({ flag: true }), new Struct([new Field('flag', new Bool(), true)]))
        .data[0] as Data,
    ),
    column('nothing', makeData({ type: new Null(), length: rows })),
    column(
      'union',
      makeData({
        type: new DenseUnion(
          [0, 1],
          [new Field('s', new Utf8(), true), new Field('f', new Float64(), true)],
        ),
        length: rows,
        typeIds: new Int8Array(rows),
        valueOffsets: Int32Array.from({ length: rows }, (_, index) => index),
        children: [
          vectorFromArray(repeat('u'), new Utf8()).data[0] as Data,
          vectorFromArray([], new Float64()).data[0] as Data,
        ],
      }),
    ),
  ];
}

/** Our columns in reverse order, with the extra columns around them. */
function reshapedBatch(parts: readonly StreamPart[]): RecordBatch {
  const batch = partsToRecordBatch(parts);
  const ours = streamPartSchema.fields.map((field, index) => ({
    field,
    data: batch.data.children[index] as Data,
  }));
  const extra = extraColumns(parts.length);
  const columns = [...extra.slice(0, 4), ...ours.reverse(), ...extra.slice(4)];
  const schema = new Schema(columns.map(({ field }) => field));
  const children = columns.map(({ data }) => data);
  const type = new Struct(schema.fields);
  return new RecordBatch(schema, makeData({ type, length: parts.length, nullCount: 0, children }));
}

describe('batches of a schema with extra columns and another column order', () => {
  test("reads apache-arrow's stream of them", () => {
    const written = RecordBatchStreamWriter.writeAll(batches.map(reshapedBatch));
    const [schema, ...messages] = ipcMessages(written.toUint8Array(true));
    const decoder = new PartsMessageDecoder();
    assert.equal(decoder.read(schema as IpcMessage), undefined);
    assert.deepStrictEqual(
      messages.map((message) => decoder.read(message)),
      batches,
    );
  });

  test('refuses a dictionary batch, as FlightStreamDecoder does', () => {
    const parts = everyKind[0] ?? [];
    const batch = partsToRecordBatch(parts);
    const labels = vectorFromArray(
      parts.map(() => 'label'),
      new Dictionary(new Utf8(), new Int32()),
    );
    const schema = new Schema([...streamPartSchema.fields, new Field('label', labels.type, true)]);
    const children = [...batch.data.children, labels.data[0] as Data];
    const withLabels = new RecordBatch(
      schema,
      makeData({ type: new Struct(schema.fields), length: parts.length, nullCount: 0, children }),
    );
    const [schemaMessage, dictionary] = ipcMessages(
      RecordBatchStreamWriter.writeAll([withLabels]).toUint8Array(true),
    );
    const decoder = new PartsMessageDecoder();
    decoder.read(schemaMessage as IpcMessage);
    assert.throws(
      () => decoder.read(dictionary as IpcMessage),
      isProtocolError(/dictionary batches/),
    );
  });
});

describe('pyarrow interop', () => {
  const script = `
import json, sys
import pyarrow as pa
names = ["type", "text", "index", "id", "name", "finish_reason", "finish_raw",
         "input_tokens", "output_tokens", "total_tokens", "status", "message"]
ints = {"index", "input_tokens", "output_tokens", "total_tokens", "status"}
ours = [pa.field(name, pa.int32() if name in ints else pa.string(), nullable=(name != "type"))
        for name in names]
extra = [pa.field("added_later", pa.string()), pa.field("view", pa.string_view()),
         pa.field("list", pa.list_(pa.int32())), pa.field("struct", pa.struct([("flag", pa.bool_())]))]
schema = pa.schema(extra[:2] + list(reversed(ours)) + extra[2:])
batches = [pa.RecordBatch.from_pylist(rows, schema=schema) for rows in json.load(sys.stdin)]
combined = pa.Table.from_batches(batches).combine_chunks().to_batches()[0]
options = pa.ipc.IpcWriteOptions(compression=sys.argv[1] if sys.argv[1] != "none" else None)
with pa.ipc.new_stream(sys.stdout.buffer, schema, options=options) as writer:
    for batch in batches + [combined.slice(1), combined.slice(0, 0)]:
        writer.write_batch(batch)
`;
  const python = [
    fileURLToPath(new URL('../../.venv-pyarrow/bin/python', import.meta.url)),
    'python3',
  ]
    .filter((candidate) => !candidate.includes('/') || existsSync(candidate))
    .find((candidate) => spawnSync(candidate, ['-c', 'import pyarrow']).status === 0);
  const rows = batches.map((parts) =>
    partsToRecordBatch(parts)
      .toArray()
      .map((row) => ({
        ...row.toJSON(),
        added_later: 'later',
        view: 'v',
        list: [1],
        struct: null,
      })),
  );
  const write = (compression: string) => {
    const run = spawnSync(python ?? 'python3', ['-c', script, compression], {
      input: JSON.stringify(rows),
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(run.status, 0, run.stderr.toString());
    return ipcMessages(new Uint8Array(run.stdout));
  };

  test('reads the batches pyarrow writes, with extra columns, a slice and no rows', (t) => {
    if (python === undefined) {
      t.skip('pyarrow is not installed (see pyarrow.test.ts for the venv)');
      return;
    }
    const [schema, ...messages] = write('none');
    const decoder = new PartsMessageDecoder();
    assert.equal(decoder.read(schema as IpcMessage), undefined);
    const all = batches.flat();
    assert.deepStrictEqual(
      messages.map((message) => decoder.read(message)),
      [...batches, all.slice(1), []],
    );
  });

  test('refuses the compressed batches pyarrow writes', (t) => {
    if (python === undefined) {
      t.skip('pyarrow is not installed (see pyarrow.test.ts for the venv)');
      return;
    }
    const [schema, first] = write('lz4');
    const decoder = new PartsMessageDecoder();
    decoder.read(schema as IpcMessage);
    assert.throws(() => decoder.read(first as IpcMessage), isProtocolError(/compressed/));
  });
});
