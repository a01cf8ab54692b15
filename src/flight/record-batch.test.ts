import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Field,
  Int32,
  Int64,
  RecordBatchReader,
  RecordBatchStreamWriter,
  Schema,
  tableFromArrays,
  Utf8,
} from 'apache-arrow';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { everyKind } from './__fixtures__/harness.ts';
import { longBatch } from './__fixtures__/part-codec.ts';
import {
  assertStreamPartSchema,
  partsToRecordBatch,
  recordBatchToParts,
  streamPartSchema,
} from './record-batch.ts';

describe('StreamPart[] ⇄ RecordBatch', () => {
  test('every part kind round-trips, unicode and empty strings included', () => {
    for (const parts of everyKind) {
      assert.deepStrictEqual(recordBatchToParts(partsToRecordBatch(parts)), parts);
    }
    const all = everyKind.flat();
    assert.deepStrictEqual(recordBatchToParts(partsToRecordBatch(all)), all);
  });

  test('long batches (multi-byte validity bitmaps, beyond the shared null columns) round-trip', () => {
    for (const length of [8, 9, 16, 17, 40]) {
      const parts = longBatch(length);
      assert.deepStrictEqual(recordBatchToParts(partsToRecordBatch(parts)), parts);
    }
  });

  test('an empty string stays a value, an absent field stays null', () => {
    const batch = partsToRecordBatch([
      { type: 'tool-call-delta', index: 3, id: '', argumentsDelta: '' },
    ]);
    assert.equal(batch.getChild('id')?.get(0), '');
    assert.equal(batch.getChild('name')?.get(0), null);
    assert.equal(batch.getChild('text')?.get(0), '');
    assert.equal(batch.getChild('message')?.get(0), null);
  });

  test('every batch carries the one fixed schema', () => {
    for (const parts of everyKind) {
      assert.deepStrictEqual(partsToRecordBatch(parts).schema, streamPartSchema);
    }
    assert.deepEqual(
      streamPartSchema.fields.map((field) => `${field.name}:${String(field.type)}`),
      [
        'type:Utf8',
        'text:Utf8',
        'index:Int32',
        'id:Utf8',
        'name:Utf8',
        'finish_reason:Utf8',
        'finish_raw:Utf8',
        'input_tokens:Int32',
        'output_tokens:Int32',
        'total_tokens:Int32',
        'status:Int32',
        'message:Utf8',
      ],
    );
  });

  test('numbers outside Int32 are refused rather than wrapped', () => {
    const huge: StreamPart = {
      type: 'finish',
      finishReason: { unified: 'stop', raw: undefined },
      usage: { input_tokens: 2 ** 31, output_tokens: 0, total_tokens: 2 ** 31 },
    };
    assert.throws(() => partsToRecordBatch([huge]), /32-bit integer/);
    assert.throws(
      () => partsToRecordBatch([{ type: 'tool-call-delta', index: 1.5, argumentsDelta: '' }]),
      /32-bit integer/,
    );
  });

  test('a finish reason added by a newer sender reads as other', () => {
    const batch = partsToRecordBatch([
      { type: 'finish', finishReason: { unified: 'pause' as 'stop', raw: 'pause_turn' } },
    ]);
    assert.deepStrictEqual(recordBatchToParts(batch), [
      { type: 'finish', finishReason: { unified: 'other', raw: 'pause_turn' } },
    ]);
  });
});

describe('G3: one writer, one schema, whatever the values', () => {
  // Batches whose values alone would infer different types: all-null columns, strings only,
  // numbers only. A writer closes on a schema change, so these must all share one schema.
  const batches: StreamPart[][] = [
    [{ type: 'text-delta', text: 'only text; every other column null' }],
    [{ type: 'error', message: 'only message and status', status: 503 }],
    [{ type: 'finish', finishReason: { unified: 'length', raw: undefined } }],
    ...everyKind,
  ];

  test('inferred types differ per batch and close the writer (the trap itself)', () => {
    // An all-null column infers Float64, a string column a fresh Dictionary per call.
    assert.equal(String(tableFromArrays({ text: [null] }).schema.fields[0]?.type), 'Float64');
    const writer = new RecordBatchStreamWriter();
    writer.write(tableFromArrays({ text: ['a'] }).batches[0]);
    writer.write(tableFromArrays({ text: ['b'] }).batches[0]);
    assert.throws(() => writer.write(tableFromArrays({ text: ['c'] }).batches[0]), /closed/);
  });

  test('one RecordBatchStreamWriter accepts every batch and a reader gets all of them back', () => {
    const writer = new RecordBatchStreamWriter();
    // A schema change would close the writer and make a later write throw.
    for (const parts of batches) writer.write(partsToRecordBatch(parts));
    writer.finish();
    const bytes = writer.toUint8Array(true);
    const read = [...RecordBatchReader.from(bytes)].map(recordBatchToParts);
    assert.deepStrictEqual(read, batches);
  });
});

describe('received schema check', () => {
  test('accepts the schema and a superset of it', () => {
    assertStreamPartSchema(streamPartSchema);
    const extended = new Schema([
      ...streamPartSchema.fields,
      new Field('added_later', new Utf8(), true),
    ]);
    assertStreamPartSchema(extended);
  });

  test('refuses a missing column or a different type', () => {
    const missing = new Schema(streamPartSchema.fields.filter((field) => field.name !== 'text'));
    const retyped = new Schema(
      streamPartSchema.fields.map((field) =>
        field.name === 'status' ? new Field('status', new Int64(), true) : field,
      ),
    );
    for (const schema of [missing, retyped]) {
      assert.throws(
        () => assertStreamPartSchema(schema),
        (error) => ServiceError.isInstance(error) && error.code === ErrorCode.UpstreamProtocol,
      );
    }
    assert.doesNotThrow(() =>
      assertStreamPartSchema(
        new Schema(
          streamPartSchema.fields.map((field) =>
            field.name === 'status' ? new Field('status', new Int32(), false) : field,
          ),
        ),
      ),
    );
  });

  test('an unknown part type is a protocol error', () => {
    const batch = partsToRecordBatch([{ type: 'bogus' } as unknown as StreamPart]);
    assert.throws(() => recordBatchToParts(batch), /unknown part type 'bogus'/);
  });
});
