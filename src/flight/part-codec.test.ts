import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Field,
  Int32,
  List,
  Message,
  RecordBatchReader,
  RecordBatchStreamWriter,
  Schema,
} from 'apache-arrow';
import * as metadata from 'apache-arrow/ipc/metadata/message';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { everyKind } from './__fixtures__/harness.ts';
import { partBatches as batches, ipcMessages, isProtocolError } from './__fixtures__/part-codec.ts';
import {
  encodeRecordBatchMessage,
  encodeSchemaMessage,
  frameIpcMessage,
  type IpcMessage,
} from './ipc.ts';
import { FlatbufferView } from './ipc-flatbuffer.ts';
import { encodePartsMessage, PartsMessageDecoder } from './part-codec.ts';
import { partsToRecordBatch, recordBatchToParts, streamPartSchema } from './record-batch.ts';

const schemaMessage = encodeSchemaMessage(streamPartSchema);
const arrowMessage = (parts: readonly StreamPart[]) =>
  encodeRecordBatchMessage(partsToRecordBatch(parts));

function readyDecoder(): PartsMessageDecoder {
  const decoder = new PartsMessageDecoder();
  assert.equal(decoder.read(schemaMessage), undefined);
  return decoder;
}

describe('encodePartsMessage', () => {
  test("writes the bytes of apache-arrow's encoder, header and body", () => {
    const more: StreamPart[][] = [
      [],
      // A lone surrogate: both encoders write U+FFFD.
      [{ type: 'text-delta', text: 'broken \ud800 pair' }],
      [{ type: 'bogus' } as unknown as StreamPart],
    ];
    for (const parts of [...batches, ...more]) {
      const ours = encodePartsMessage(parts);
      const theirs = arrowMessage(parts);
      assert.deepEqual(ours.header, theirs.header, `header of ${parts.length} parts`);
      assert.deepEqual(ours.body, theirs.body, `body of ${parts.length} parts`);
    }
  });

  test('writes each batch afresh: nothing of the previous batch leaks into the next', () => {
    const big = encodePartsMessage(everyKind.flat());
    for (const parts of everyKind) assert.deepEqual(encodePartsMessage(parts), arrowMessage(parts));
    assert.deepEqual(encodePartsMessage(everyKind.flat()), big);
  });

  test('refuses numbers outside Int32, and the next batch is still right', () => {
    const huge: StreamPart = {
      type: 'finish',
      finishReason: { unified: 'stop', raw: undefined },
      usage: { input_tokens: 2 ** 31, output_tokens: 0, total_tokens: 2 ** 31 },
    };
    const internal = (error: unknown) =>
      ServiceError.isInstance(error) &&
      error.code === ErrorCode.Internal &&
      /32-bit integer/.test(error.message);
    assert.throws(() => encodePartsMessage([{ type: 'text-delta', text: 'x' }, huge]), internal);
    assert.throws(
      () => encodePartsMessage([{ type: 'tool-call-delta', index: 1.5, argumentsDelta: '' }]),
      internal,
    );
    const parts = everyKind[3] ?? [];
    assert.deepEqual(encodePartsMessage(parts), arrowMessage(parts));
  });

  test("apache-arrow's public RecordBatchReader reads what it writes", () => {
    const stream = Buffer.concat([
      frameIpcMessage(schemaMessage),
      ...batches.map((parts) => frameIpcMessage(encodePartsMessage(parts))),
    ]);
    const read = [...RecordBatchReader.from(new Uint8Array(stream))].map(recordBatchToParts);
    assert.deepStrictEqual(read, batches);
  });
});

describe('PartsMessageDecoder', () => {
  test('reads back every part kind, unicode, empty strings and long batches', () => {
    const decoder = readyDecoder();
    assert.equal(decoder.read({ header: new Uint8Array(0), body: new Uint8Array(0) }), undefined);
    for (const parts of batches) {
      assert.deepStrictEqual(decoder.read(encodePartsMessage(parts)), parts);
    }
    assert.deepStrictEqual(decoder.read(encodePartsMessage([])), []);
  });

  test("reads apache-arrow's messages, from its encoder and from its stream writer", () => {
    const decoder = readyDecoder();
    for (const parts of batches) assert.deepStrictEqual(decoder.read(arrowMessage(parts)), parts);
    const written = RecordBatchStreamWriter.writeAll(batches.map(partsToRecordBatch));
    const [schema, ...messages] = ipcMessages(written.toUint8Array(true));
    const streamDecoder = new PartsMessageDecoder();
    assert.equal(streamDecoder.read(schema as IpcMessage), undefined);
    assert.deepStrictEqual(
      messages.map((message) => streamDecoder.read(message)),
      batches,
    );
  });

  test('gives the same parts and errors as recordBatchToParts for odd rows', () => {
    const odd: StreamPart[][] = [
      [{ type: 'finish', finishReason: { unified: 'pause' as 'stop', raw: 'pause_turn' } }],
      [{ type: 'bogus' } as unknown as StreamPart],
      [{ type: 'text-delta' } as unknown as StreamPart],
      [{ type: 'tool-call-delta', argumentsDelta: '' } as unknown as StreamPart],
      [{ type: 'error', message: 'no status' } as unknown as StreamPart],
      [
        {
          type: 'finish',
          finishReason: { unified: 'stop', raw: undefined },
          usage: { input_tokens: 1 },
        } as unknown as StreamPart,
      ],
    ];
    const decoder = readyDecoder();
    for (const parts of odd) {
      const outcome = (read: () => unknown) => {
        try {
          return { parts: read() };
        } catch (error) {
          return { error: ServiceError.isInstance(error) ? [error.code, error.message] : error };
        }
      };
      const ours = outcome(() => decoder.read(encodePartsMessage(parts)));
      const theirs = outcome(() => recordBatchToParts(partsToRecordBatch(parts)));
      assert.deepStrictEqual(ours, theirs);
    }
  });

  test('reads a body that sits at an unaligned offset of a larger buffer (as in gRPC)', () => {
    const parts = everyKind.flat();
    const message = encodePartsMessage(parts);
    const carrier = new Uint8Array(message.body.length + 3);
    carrier.set(message.body, 3);
    const decoder = readyDecoder();
    assert.deepStrictEqual(
      decoder.read({ header: message.header, body: carrier.subarray(3) }),
      parts,
    );
  });

  test('keeps no view of the message: the parts survive the buffers being overwritten', () => {
    const parts = everyKind.flat();
    const message = encodePartsMessage(parts);
    const decoded = readyDecoder().read(message);
    message.header.fill(0xa5);
    message.body.fill(0xa5);
    assert.deepStrictEqual(decoded, parts);
  });
});

describe('refused messages', () => {
  const message = encodePartsMessage([{ type: 'text-delta', text: 'x' }]);

  test('a batch before the schema, a second schema, a short body', () => {
    assert.throws(
      () => new PartsMessageDecoder().read(message),
      isProtocolError(/before the schema/),
    );
    const decoder = readyDecoder();
    assert.throws(() => decoder.read(schemaMessage), isProtocolError(/second schema/));
    assert.throws(
      () => decoder.read({ header: message.header, body: message.body.subarray(8) }),
      isProtocolError(/header says/),
    );
    assert.throws(
      () => decoder.read({ header: Uint8Array.of(1, 2, 3), body: new Uint8Array(0) }),
      isProtocolError(/cut short/),
    );
  });

  test('a schema without our columns', () => {
    const missing = new Schema(streamPartSchema.fields.filter(({ name }) => name !== 'text'));
    assert.throws(
      () => new PartsMessageDecoder().read(encodeSchemaMessage(missing)),
      isProtocolError(/column 'text' is missing/),
    );
  });

  test('a schema whose nested type lacks its child (which apache-arrow decodes half)', () => {
    /** The schema message for `fields`, with the last field's children vector emptied. */
    const childless = (fields: Field[]): IpcMessage => {
      const header = encodeSchemaMessage(new Schema(fields)).header.slice();
      const view = new FlatbufferView(header);
      const schema = view.table(view.field(view.root(), 2, 4));
      const all = view.vector(view.field(schema, 1, 4), 4);
      const last = view.table(all.start + 4 * (all.length - 1));
      const children = view.vector(view.field(last, 5, 4), 4);
      new DataView(header.buffer).setInt32(children.start - 4, 0, true);
      return { header, body: new Uint8Array(0) };
    };
    const list = (name: string) => new Field(name, new List(new Field('item', new Int32())));
    const others = streamPartSchema.fields.filter(({ name }) => name !== 'text');
    assert.throws(
      () => new PartsMessageDecoder().read(childless([...streamPartSchema.fields, list('l')])),
      isProtocolError(/column 'l' lacks a child type/),
    );
    assert.throws(
      () => new PartsMessageDecoder().read(childless([...others, list('text')])),
      isProtocolError(/unreadable IPC schema/),
    );
  });

  test('a compressed batch, and a metadata version before V4', () => {
    const header = Message.decode(message.header).header() as metadata.RecordBatch;
    const compressed = new metadata.RecordBatch(
      header.length,
      header.nodes,
      header.buffers,
      new metadata.BodyCompression(0),
    );
    const decoder = readyDecoder();
    assert.throws(
      () =>
        decoder.read({
          header: Message.encode(Message.from(compressed, message.body.length)),
          body: message.body,
        }),
      isProtocolError(/compressed/),
    );
    const v3 = message.header.slice();
    // The version sits at byte 40 of our header (see the layout in part-codec.ts).
    new DataView(v3.buffer).setInt16(40, 2, true);
    assert.throws(
      () => decoder.read({ header: v3, body: message.body }),
      isProtocolError(/version 2/),
    );
  });

  test('lying lengths, offsets and bytes', () => {
    const decoder = readyDecoder();
    const patched = (patch: (header: DataView, body: DataView) => void): IpcMessage => {
      const header = message.header.slice();
      const body = message.body.slice();
      patch(new DataView(header.buffer), new DataView(body.buffer));
      return { header, body };
    };
    // Header (see the layout in part-codec.ts): batch length at 64; 16-byte Buffer entries from
    // 80 (type: validity, offsets, data; text: the same; index: validity at 176, ...); 16-byte
    // FieldNodes from 584. Body: type offsets [0, 10] at 0, type data at 8, text offsets at 24,
    // text data ('x') at 32.
    const cases: [string, IpcMessage, RegExp][] = [
      ['a huge batch length', patched((h) => h.setInt32(64, 2 ** 30, true)), /rows, the batch/],
      ['a length beyond 2^53', patched((h) => h.setInt32(68, 2 ** 30, true)), /out of range/],
      ['a node of another length', patched((h) => h.setInt32(584, 2, true)), /has 2 rows/],
      ['more nulls than rows', patched((h) => h.setInt32(592, 5, true)), /5 nulls in 1 rows/],
      ['a buffer past the body', patched((h) => h.setInt32(96, 4096, true)), /outside the/],
      ['a negative offset', patched((_, b) => b.setInt32(0, -4, true)), /negative offset/],
      ['decreasing offsets', patched((_, b) => b.setInt32(0, 12, true)), /decreasing/],
      ['offsets past the data', patched((_, b) => b.setInt32(4, 17, true)), /past its 16 bytes/],
      ['a short null bitmap', patched((h) => h.setInt32(184, 0, true)), /bitmap too short/],
      ['bytes that are not UTF-8', patched((_, b) => b.setUint8(32, 0xff)), /not valid UTF-8/],
    ];
    for (const [what, lying, pattern] of cases) {
      assert.throws(() => decoder.read(lying), isProtocolError(pattern), what);
    }
  });
});
