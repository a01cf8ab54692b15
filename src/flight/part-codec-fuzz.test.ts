/**
 * Property tests for part-codec.ts: random parts round-trip byte for byte as apache-arrow writes
 * them, and random, mutated or truncated messages end in parts or a protocol error, never in
 * another exception or a hang (each test has a timeout so that a hang fails instead of waiting).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Data,
  Field,
  makeData,
  RecordBatch,
  RecordBatchStreamWriter,
  Schema,
  Struct,
  Utf8View,
  vectorFromArray,
} from 'apache-arrow';
import fc from 'fast-check';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import { type StreamPart, unifiedFinishReasons } from '../domain/stream-part.ts';
import { everyKind } from './__fixtures__/harness.ts';
import { ipcMessages } from './__fixtures__/part-codec.ts';
import {
  encodeRecordBatchMessage,
  encodeSchemaMessage,
  FlightStreamDecoder,
  type IpcMessage,
} from './ipc.ts';
import { encodePartsMessage, PartsMessageDecoder } from './part-codec.ts';
import {
  assertStreamPartSchema,
  partsToRecordBatch,
  recordBatchToParts,
  streamPartSchema,
} from './record-batch.ts';

const timeout = { timeout: 60_000 };
const schemaMessage = encodeSchemaMessage(streamPartSchema);

const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const unified = fc.constantFrom(...unifiedFinishReasons);
// Parts as the decoder builds them: plain objects (fast-check's default has a null prototype).
const plain = { noNullPrototype: true } as const;
const part: fc.Arbitrary<StreamPart> = fc.oneof(
  fc.record(
    { type: fc.constantFrom('text-delta' as const, 'reasoning-delta' as const), text },
    plain,
  ),
  fc
    .record(
      { type: fc.constant('tool-call-delta' as const), index: int32, id: text, name: text },
      { requiredKeys: ['type', 'index'], ...plain },
    )
    .chain((call) => text.map((argumentsDelta) => ({ ...call, argumentsDelta }))),
  fc.record(
    {
      type: fc.constant('finish' as const),
      finishReason: fc.record({ unified, raw: fc.option(text, { nil: undefined }) }, plain),
      usage: fc.record({ input_tokens: int32, output_tokens: int32, total_tokens: int32 }, plain),
    },
    { requiredKeys: ['type', 'finishReason'], ...plain },
  ),
  fc.record({ type: fc.constant('error' as const), message: text, status: int32 }, plain),
);

const isProtocolError = (error: unknown) =>
  ServiceError.isInstance(error) && error.code === ErrorCode.UpstreamProtocol;

/** What reading `message` gave: parts (or undefined), or the error, which must be a protocol error. */
function outcome(read: () => StreamPart[] | undefined): { parts?: StreamPart[]; failed?: true } {
  try {
    const parts = read();
    return parts === undefined ? {} : { parts };
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    return { failed: true };
  }
}

describe('random parts', () => {
  test("encode to apache-arrow's bytes and decode to the same parts", timeout, () => {
    const decoder = new PartsMessageDecoder();
    decoder.read(schemaMessage);
    fc.assert(
      fc.property(fc.array(part, { maxLength: 40 }), (parts) => {
        const ours = encodePartsMessage(parts);
        const theirs = encodeRecordBatchMessage(partsToRecordBatch(parts));
        assert.deepEqual(ours.header, theirs.header);
        assert.deepEqual(ours.body, theirs.body);
        assert.deepStrictEqual(decoder.read(ours), parts);
      }),
      { numRuns: 300 },
    );
  });

  test('with any UTF-16 (lone surrogates too) encode as apache-arrow does', timeout, () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', maxLength: 80 }), { maxLength: 10 }),
        (texts) => {
          const parts = texts.map((value): StreamPart => ({ type: 'text-delta', text: value }));
          assert.deepEqual(
            encodePartsMessage(parts),
            encodeRecordBatchMessage(partsToRecordBatch(parts)),
          );
        },
      ),
    );
  });
});

interface Stream {
  schema: IpcMessage;
  batch: IpcMessage;
}

/** A stream apache-arrow writes with a Utf8View column before ours: variadic buffers to skip. */
function viewStream(parts: StreamPart[]): Stream {
  const batch = partsToRecordBatch(parts);
  const view = vectorFromArray(
    parts.map((_, index) => `a view value longer than twelve bytes ${index}`),
    new Utf8View(),
  );
  const schema = new Schema([new Field('view', view.type, true), ...streamPartSchema.fields]);
  const children = [view.data[0] as Data, ...batch.data.children];
  const type = new Struct(schema.fields);
  const written = RecordBatchStreamWriter.writeAll([
    new RecordBatch(schema, makeData({ type, length: parts.length, nullCount: 0, children })),
  ]).toUint8Array(true);
  const [schemaMessage, batchMessage] = ipcMessages(written);
  return { schema: schemaMessage as IpcMessage, batch: batchMessage as IpcMessage };
}

const streams: Stream[] = [
  { schema: schemaMessage, batch: encodePartsMessage(everyKind.flat()) },
  {
    schema: schemaMessage,
    batch: encodePartsMessage([{ type: 'text-delta', text: 'abcdefgh' }]),
  },
  viewStream(everyKind.flat()),
];

interface Mutation {
  inHeader: boolean;
  at: number;
  word: boolean;
  value: number;
}

/** Overwrites of single bytes or of aligned Int32 words, with values that lengths lie with. */
const mutation: fc.Arbitrary<Mutation> = fc.record({
  inHeader: fc.boolean(),
  at: fc.nat(),
  word: fc.boolean(),
  value: fc.oneof(
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(-1, 1, 7, 8, 16, 0x7fffffff, -(2 ** 31), 0x10000, 2 ** 20),
  ),
});

function mutate(message: IpcMessage, mutations: Mutation[]): IpcMessage {
  const header = message.header.slice();
  const body = message.body.slice();
  for (const { inHeader, at, word, value } of mutations) {
    const bytes = inHeader ? header : body;
    if (bytes.length < 4) continue;
    if (word) {
      new DataView(bytes.buffer).setInt32(
        ((at % bytes.length) & ~3) % (bytes.length - 3),
        value,
        true,
      );
    } else {
      bytes[at % bytes.length] = value & 0xff;
    }
  }
  return { header, body };
}

/** Where the Buffer and FieldNode structs of apache-arrow's record batch headers begin. */
const headerValuesStart = 80;

describe('damaged messages', () => {
  test(
    'mutated batches give parts or a protocol error; parts as apache-arrow reads them',
    timeout,
    () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...streams),
          fc.array(mutation, { minLength: 1, maxLength: 4 }),
          (stream, mutations) => {
            const decoder = new PartsMessageDecoder();
            decoder.read(stream.schema);
            const damaged = mutate(stream.batch, mutations);
            const ours = outcome(() => decoder.read(damaged));
            // apache-arrow trusts the header's structure (a lying vector length is a loop of
            // 2^31); compare only where the damage is in values: the body, Buffers, FieldNodes.
            const valuesOnly = mutations.every(
              ({ inHeader, at }) =>
                !inHeader || at % stream.batch.header.length >= headerValuesStart,
            );
            if (ours.parts === undefined || !valuesOnly) return;
            let theirs: StreamPart[] | undefined;
            try {
              const reference = new FlightStreamDecoder(assertStreamPartSchema);
              reference.read(stream.schema);
              const batch = reference.read(damaged);
              theirs = batch === undefined ? undefined : recordBatchToParts(batch);
            } catch {
              // apache-arrow refusing what we read (an unaligned buffer, say) is no disagreement.
              return;
            }
            assert.deepStrictEqual(ours.parts, theirs);
          },
        ),
        { numRuns: 3000 },
      );
    },
  );

  test('truncated headers and bodies give a protocol error', timeout, () => {
    fc.assert(
      fc.property(fc.constantFrom(...streams), fc.nat(), fc.boolean(), (stream, cut, inHeader) => {
        const decoder = new PartsMessageDecoder();
        decoder.read(stream.schema);
        const { header, body } = stream.batch;
        const truncated = inHeader
          ? { header: header.subarray(0, cut % header.length), body }
          : { header, body: body.subarray(0, cut % body.length) };
        const result = outcome(() => decoder.read(truncated));
        assert.ok(result.failed || (inHeader && cut % header.length === 0));
      }),
      { numRuns: 1000 },
    );
  });

  test('random bytes as a header give a protocol error', timeout, () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 800 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.boolean(),
        (header, body, afterSchema) => {
          const decoder = new PartsMessageDecoder();
          if (afterSchema) decoder.read(schemaMessage);
          const result = outcome(() => decoder.read({ header, body }));
          assert.equal(result.parts, undefined);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test(
    'mutated schema messages are refused or read, and a batch then decodes or is refused',
    timeout,
    () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...streams),
          fc.array(mutation, { minLength: 1, maxLength: 4 }),
          (stream, mutations) => {
            const damaged = mutate(
              stream.schema,
              mutations.map((change) => ({ ...change, inHeader: true })),
            );
            const decoder = new PartsMessageDecoder();
            if (outcome(() => decoder.read(damaged)).failed) return;
            outcome(() => decoder.read(stream.batch));
          },
        ),
        { numRuns: 2000 },
      );
    },
  );
});
