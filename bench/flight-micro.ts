/**
 * `node --import tsx bench/flight-micro.ts [--seconds 3]`
 *
 * The Arrow Flight hop alone, without HTTP, providers or a store: what scenario 7's extra CPU
 * per stream is made of. Two measurements (docs/benchmarks.md, finding 7):
 *
 * 1. Arrow IPC per record batch, in this process: `partsToRecordBatch` + `encodeRecordBatchMessage`
 *    (the ML node's side) and `FlightStreamDecoder.read` + `recordBatchToParts` (the
 *    coordinator's), over the batches of one stream: 32 text parts, 32 text parts, a finish;
 *    then the same batches through part-codec.ts (`encodePartsMessage`, `PartsMessageDecoder`),
 *    the two taking turns.
 * 2. `FlightClient.doGet` against `startFlightServer` in a child process on 127.0.0.1, each call
 *    streaming those three batches, the consumer leaving at the finish part as the coordinator
 *    does: calls/s, CPU µs per call on each side, and time to the first batch, at concurrency
 *    1 and 64.
 *
 * Bounded: about 10 × --seconds in all; the child exits with its IPC channel.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { StreamPart } from '../src/domain/stream-part.ts';
import { FlightClient } from '../src/flight/client.ts';
import {
  encodeRecordBatchMessage,
  encodeSchemaMessage,
  FlightStreamDecoder,
  type IpcMessage,
} from '../src/flight/ipc.ts';
import { encodePartsMessage, PartsMessageDecoder } from '../src/flight/part-codec.ts';
import {
  assertStreamPartSchema,
  partsToRecordBatch,
  recordBatchToParts,
  streamPartSchema,
} from '../src/flight/record-batch.ts';
import { startFlightServer } from '../src/flight/server.ts';
import { distribution } from './stats.ts';

const secret = 'flight-micro-benchmark-secret';
const text: StreamPart[] = Array.from({ length: 32 }, () => ({
  type: 'text-delta',
  text: 'abcdefgh',
}));
const finish: StreamPart[] = [
  {
    type: 'finish',
    finishReason: { unified: 'stop', raw: 'stop' },
    usage: { input_tokens: 5, output_tokens: 64, total_tokens: 69 },
  },
];
const stream = [text, text, finish];

interface ServerAnswer {
  port?: number;
  cpuMs?: number;
}

async function serve(): Promise<void> {
  const server = await startFlightServer({
    host: '127.0.0.1',
    port: 0,
    clusterSecret: secret,
    handlers: {
      async *doGet() {
        yield* stream;
      },
    },
  });
  const send = (answer: ServerAnswer) => process.send?.(answer);
  send({ port: server.port });
  process.on('message', () => {
    const usage = process.cpuUsage();
    send({ cpuMs: (usage.user + usage.system) / 1000 });
  });
  process.on('disconnect', () => process.exit(0));
}

interface Codec {
  encode(parts: readonly StreamPart[]): IpcMessage;
  /** A decoder for one stream; `read` returns the parts of a batch message. */
  decoder(): { read(message: IpcMessage): unknown };
}

/** The same batches through each codec: apache-arrow's object model, and part-codec.ts. */
const codecs: Record<string, Codec> = {
  'apache-arrow': {
    encode: (parts) => encodeRecordBatchMessage(partsToRecordBatch(parts)),
    decoder() {
      const decoder = new FlightStreamDecoder(assertStreamPartSchema);
      return {
        read(message) {
          const batch = decoder.read(message);
          return batch === undefined ? undefined : recordBatchToParts(batch);
        },
      };
    },
  },
  'part-codec.ts': {
    encode: encodePartsMessage,
    decoder: () => new PartsMessageDecoder(),
  },
};

interface PerBatch {
  encodeMs: number;
  decodeMs: number;
  batches: number;
}

/** One round of 3000 batches (1000 streams) through `codec`, added to `total`. */
function arrowRound(codec: Codec, schema: IpcMessage, total: PerBatch): void {
  const count = 3 * 1000;
  let startedAt = performance.now();
  const messages: IpcMessage[] = [];
  for (let index = 0; index < count; index += 1) {
    messages.push(codec.encode(stream[index % 3] ?? finish));
  }
  total.encodeMs += performance.now() - startedAt;
  startedAt = performance.now();
  let decoder = codec.decoder();
  for (const [index, message] of messages.entries()) {
    if (index % 3 === 0) {
      // A fresh stream: schema first, as every DoGet starts.
      decoder = codec.decoder();
      decoder.read(schema);
    }
    decoder.read(message);
  }
  total.decodeMs += performance.now() - startedAt;
  total.batches += count;
}

/** The codecs take turns, round by round, so that a noisy neighbour slows them alike. */
function arrowPerBatch(seconds: number): Map<string, { encodeUs: number; decodeUs: number }> {
  const schema = encodeSchemaMessage(streamPartSchema);
  const totals = new Map(
    Object.keys(codecs).map((name) => [name, { encodeMs: 0, decodeMs: 0, batches: 0 }]),
  );
  const deadline = performance.now() + seconds * 1000;
  while (performance.now() < deadline) {
    for (const [name, codec] of Object.entries(codecs)) {
      arrowRound(codec, schema, totals.get(name) as PerBatch);
    }
  }
  const perBatch = (ms: number, batches: number) => (ms * 1000) / batches;
  return new Map(
    [...totals].map(([name, { encodeMs, decodeMs, batches }]) => [
      name,
      { encodeUs: perBatch(encodeMs, batches), decodeUs: perBatch(decodeMs, batches) },
    ]),
  );
}

async function calls(seconds: number): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () =>
    new Promise<ServerAnswer>((resolve) =>
      child.once('message', (answer) => resolve(answer as ServerAnswer)),
    );
  try {
    const { port } = await next();
    const client = new FlightClient(`127.0.0.1:${port}`, { clusterSecret: secret });
    const ticket = new TextEncoder().encode('{"v":1,"model_id":"m","parameters":{}}');
    const serverCpu = async () => {
      child.send('cpu');
      return (await next()).cpuMs ?? Number.NaN;
    };
    const run = async (concurrency: number, milliseconds: number) => {
      const firstBatchMs: number[] = [];
      let done = 0;
      const deadline = performance.now() + milliseconds;
      const worker = async () => {
        while (performance.now() < deadline) {
          // One controller per call, as the coordinator has.
          const controller = new AbortController();
          const startedAt = performance.now();
          let first = true;
          for await (const parts of client.doGet(ticket, controller.signal)) {
            if (first) firstBatchMs.push(performance.now() - startedAt);
            first = false;
            if (parts.at(-1)?.type === 'finish') break;
          }
          done += 1;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      return { done, firstBatch: distribution(firstBatchMs) };
    };
    for (const concurrency of [1, 64]) {
      await run(concurrency, 1_000);
      const ownBefore = process.cpuUsage();
      const serverBefore = await serverCpu();
      const startedAt = performance.now();
      const { done, firstBatch } = await run(concurrency, seconds * 1000);
      const elapsed = performance.now() - startedAt;
      const own = process.cpuUsage(ownBefore);
      const server = (await serverCpu()) - serverBefore;
      const perCall = (ms: number) => ((ms * 1000) / Math.max(1, done)).toFixed(0);
      process.stdout.write(
        `DoGet, concurrency ${concurrency}: ${((done * 1000) / elapsed).toFixed(0)} calls/s; ` +
          `CPU per call: client ${perCall((own.user + own.system) / 1000)} µs, ` +
          `server ${perCall(server)} µs; first batch p50 ${(firstBatch.p50 * 1000).toFixed(0)} µs, ` +
          `p99 ${(firstBatch.p99 * 1000).toFixed(0)} µs\n`,
      );
    }
    client.close();
  } finally {
    if (child.connected) child.disconnect();
  }
}

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '3' },
  },
  strict: true,
});
if (values.serve) {
  await serve();
} else {
  const seconds = Math.min(30, Math.max(1, Number(values.seconds)));
  for (const [name, arrow] of arrowPerBatch(seconds)) {
    process.stdout.write(
      `Arrow IPC per batch (32 / 32 / 1 parts), ${name}: encode ${arrow.encodeUs.toFixed(1)} µs ` +
        `(ML node), decode ${arrow.decodeUs.toFixed(1)} µs (coordinator)\n`,
    );
  }
  await calls(seconds);
}
