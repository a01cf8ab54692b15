/**
 * Helpers for the Flight tests: a server on 127.0.0.1 with port 0 (never a fixed port, G5), a
 * client for it, the parts fixture covering every StreamPart kind, and small async utilities.
 */
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import type { StreamPart } from '../../domain/stream-part.ts';
import { FlightClient } from '../client.ts';
import { type FlightServer, type FlightServerOptions, startFlightServer } from '../server.ts';

export const secret = 'test-cluster-secret';

export interface Harness {
  server: FlightServer;
  address: string;
  client: FlightClient;
  /** A plain grpc-js client, for calls FlightClient does not make (raw metadata, deadlines). */
  raw: Client;
  close(): Promise<void>;
}

export async function startHarness(
  handlers: FlightServerOptions['handlers'],
  options: Partial<Omit<FlightServerOptions, 'handlers'>> = {},
): Promise<Harness> {
  const server = await startFlightServer({
    host: '127.0.0.1',
    port: 0,
    clusterSecret: secret,
    handlers,
    ...options,
  });
  const address = `127.0.0.1:${server.port}`;
  const client = new FlightClient(address, { clusterSecret: secret });
  const raw = new Client(address, credentials.createInsecure());
  return {
    server,
    address,
    client,
    raw,
    async close() {
      client.close();
      raw.close();
      await server.close();
    },
  };
}

export function authorized(extra: Record<string, string> = {}): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${secret}`);
  for (const [key, value] of Object.entries(extra)) metadata.set(key, value);
  return metadata;
}

/** Every StreamPart kind, with unicode, empty strings, and optional fields present and absent. */
export const everyKind: StreamPart[][] = [
  [
    { type: 'text-delta', text: 'Hello, 世界 👋🏽 — naïve café' },
    { type: 'text-delta', text: '' },
    { type: 'reasoning-delta', text: 'thinking… ∑ 𝄞' },
  ],
  [{ type: 'reasoning-delta', text: '' }],
  [
    {
      type: 'tool-call-delta',
      index: 0,
      id: 'call_1',
      name: 'get_weather',
      argumentsDelta: '{"city":',
    },
    { type: 'tool-call-delta', index: 0, argumentsDelta: '"Zürich 🇨🇭"}' },
    { type: 'tool-call-delta', index: 1, id: '', name: '', argumentsDelta: '' },
  ],
  [
    {
      type: 'finish',
      finishReason: { unified: 'tool_calls', raw: 'tool_use' },
      usage: { input_tokens: 12, output_tokens: 0, total_tokens: 12 },
    },
  ],
  [{ type: 'finish', finishReason: { unified: 'stop', raw: undefined } }],
  [{ type: 'error', message: 'Провайдер: ошибка ⚠', status: 502 }],
  [{ type: 'error', message: '', status: 500 }],
];

export function deferred<Value = void>() {
  let resolve!: (value: Value) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<Value>((resolvePromise, rejectPromise) => {
    resolve = resolvePromise;
    reject = rejectPromise;
  });
  return { promise, resolve, reject };
}

/** Rejects with `message` if `promise` has not settled within `ms` (instead of a hung test). */
export function within<Value>(promise: Promise<Value>, ms: number, message: string): Promise<Value> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (no result within ${ms} ms)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function collect<Value>(iterable: AsyncIterable<Value>): Promise<Value[]> {
  const values: Value[] = [];
  for await (const value of iterable) values.push(value);
  return values;
}

export const never = new AbortController().signal;
