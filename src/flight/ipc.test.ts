import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RecordBatchReader, RecordBatchStreamWriter } from 'apache-arrow';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { everyKind, within } from './__fixtures__/harness.ts';
import { isProtocolError } from './__fixtures__/part-codec.ts';
import {
  encodeRecordBatchMessage,
  encodeSchemaMessage,
  FlightStreamDecoder,
  frameIpcMessage,
  type IpcMessage,
  paddedLength,
} from './ipc.ts';
import {
  assertStreamPartSchema,
  partsToRecordBatch,
  recordBatchToParts,
  streamPartSchema,
} from './record-batch.ts';

const schemaMessage = encodeSchemaMessage(streamPartSchema);
const batchMessage = (parts: StreamPart[]) => encodeRecordBatchMessage(partsToRecordBatch(parts));
const endOfStream = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0);

function concat(chunks: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks));
}

describe('G4: the IPC length prefix counts the padding', () => {
  test('the stream-part schema header is not a multiple of 8, and its prefix is padded', () => {
    const length = schemaMessage.header.length;
    assert.notEqual(length % 8, 0, 'this test needs a header whose length is not 8-aligned');
    const frame = frameIpcMessage(schemaMessage);
    const view = new DataView(frame.buffer);
    assert.equal(view.getInt32(0, true), -1);
    assert.equal(view.getInt32(4, true), paddedLength(length));
    assert.equal(frame.length, 8 + paddedLength(length));
    assert.deepEqual(
      [...frame.subarray(8 + length)],
      new Array(paddedLength(length) - length).fill(0),
    );
  });

  test('every frame prefix equals the padded header length', () => {
    for (const parts of everyKind) {
      const message = batchMessage(parts);
      const frame = frameIpcMessage(message);
      const prefix = new DataView(frame.buffer).getInt32(4, true);
      assert.equal(prefix, paddedLength(message.header.length));
      assert.equal(prefix % 8, 0);
      assert.equal(message.body.length % 8, 0, 'body buffers are 8-byte padded');
    }
  });

  test("our frames are byte-identical to apache-arrow's stream writer output", () => {
    const batches = everyKind.map(partsToRecordBatch);
    const written = RecordBatchStreamWriter.writeAll(batches).toUint8Array(true);
    const ours = concat([
      frameIpcMessage(schemaMessage),
      ...batches.map((batch) => frameIpcMessage(encodeRecordBatchMessage(batch))),
      endOfStream,
    ]);
    assert.deepEqual(ours, written);
  });

  test('the public reader reads our frames; with the raw length as prefix it misreads', () => {
    const message = batchMessage([{ type: 'text-delta', text: 'one' }]);
    const padded = concat([frameIpcMessage(schemaMessage), frameIpcMessage(message)]);
    const read = [...RecordBatchReader.from(padded)].map(recordBatchToParts);
    assert.deepStrictEqual(read, [[{ type: 'text-delta', text: 'one' }]]);

    // The mistake of one public Flight client: raw flatbuffer length, then padding anyway.
    const unpadded = (ipc: IpcMessage) => {
      const frame = frameIpcMessage(ipc);
      new DataView(frame.buffer).setInt32(4, ipc.header.length, true);
      return frame;
    };
    const wrong = concat([unpadded(schemaMessage), unpadded(message)]);
    let misread: unknown;
    try {
      misread = [...RecordBatchReader.from(wrong)].map(recordBatchToParts);
    } catch (error) {
      misread = error;
    }
    assert.notDeepStrictEqual(misread, read);
  });
});

describe('FlightStreamDecoder', () => {
  test('decodes the schema, then each batch at once, and skips metadata-only messages', () => {
    const decoder = new FlightStreamDecoder(assertStreamPartSchema);
    assert.equal(decoder.read(schemaMessage), undefined);
    assert.ok(decoder.schema);
    assert.equal(decoder.read({ header: new Uint8Array(0), body: new Uint8Array(0) }), undefined);
    for (const parts of everyKind) {
      const batch = decoder.read(batchMessage(parts));
      assert.ok(batch);
      assert.deepStrictEqual(recordBatchToParts(batch), parts);
    }
  });

  test('reads a body that sits at an unaligned offset of a larger buffer (as in gRPC)', () => {
    const message = batchMessage(everyKind.flat());
    const carrier = new Uint8Array(message.body.length + 3);
    carrier.set(message.body, 3);
    const decoder = new FlightStreamDecoder();
    decoder.read(schemaMessage);
    const batch = decoder.read({ header: message.header, body: carrier.subarray(3) });
    assert.ok(batch);
    assert.deepStrictEqual(recordBatchToParts(batch), everyKind.flat());
  });

  test('refuses a batch before the schema, a second schema, and a short body', () => {
    const message = batchMessage([{ type: 'text-delta', text: 'x' }]);
    assert.throws(
      () => new FlightStreamDecoder().read(message),
      isProtocolError(/before the schema/),
    );
    const decoder = new FlightStreamDecoder();
    decoder.read(schemaMessage);
    assert.throws(() => decoder.read(schemaMessage), isProtocolError(/second schema/));
    assert.throws(
      () => decoder.read({ header: message.header, body: message.body.subarray(8) }),
      isProtocolError(/header says/),
    );
    assert.throws(
      () => decoder.read({ header: Uint8Array.of(1, 2, 3), body: new Uint8Array(0) }),
      isProtocolError(/./),
    );
  });

  test('refuses a schema the caller cannot read', () => {
    const decoder = new FlightStreamDecoder(() => {
      throw new ServiceError(ErrorCode.UpstreamProtocol, 'Flight stream: not ours');
    });
    assert.throws(() => decoder.read(schemaMessage), isProtocolError(/not ours/));
  });
});

describe('G1: why the decoder reads message by message', () => {
  // apache-arrow's reader over an async iterable pulls message n+1 before yielding batch n
  // (src/io/adapters.ts). If this test starts failing after an upgrade, the upstream trap is
  // fixed; FlightStreamDecoder still works, and the client could use the public reader.
  test("apache-arrow's async reader holds batch n until message n+1 arrives", async () => {
    let releaseSecond = () => {};
    const secondAllowed = new Promise<void>((resolve) => {
      releaseSecond = resolve;
    });
    async function* messages() {
      yield frameIpcMessage(schemaMessage);
      yield frameIpcMessage(batchMessage([{ type: 'text-delta', text: 'one' }]));
      await secondAllowed;
      yield frameIpcMessage(batchMessage([{ type: 'text-delta', text: 'two' }]));
    }
    const reader = await RecordBatchReader.from(messages());
    const first = reader[Symbol.asyncIterator]().next();
    await assert.rejects(within(first, 200, 'held back'), /held back/);
    releaseSecond();
    const result = await first;
    assert.deepStrictEqual(recordBatchToParts(result.value), [{ type: 'text-delta', text: 'one' }]);

    // The decoder used by FlightClient answers each message synchronously.
    const decoder = new FlightStreamDecoder();
    decoder.read(schemaMessage);
    assert.ok(decoder.read(batchMessage([{ type: 'text-delta', text: 'one' }])));
  });
});
