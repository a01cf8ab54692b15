/**
 * The load generator: opens streams over keep-alive undici pools, splits the SSE bytes into
 * events as they arrive, and timestamps every content event with performance.now(). The same
 * code reads the mock's OpenAI events (direct) and Sluice's ml-commons events: a content event
 * is any event with a non-empty `"content":"…"`, and the end is `[DONE]` or `"is_last":true`.
 */
import { Pool } from 'undici';
import { registerModel } from './processes.ts';
import { epochNow, type StreamShape, shapeQuery, tagPrefix, upstreamPath } from './protocol.ts';

export type TargetName = 'direct' | 'sluice';

export interface Target {
  name: TargetName;
  pool: Pool;
  /** Path and body of one request for a stream of this shape. */
  request(shape: StreamShape, tag: string): Promise<{ path: string; body: string }>;
}

export interface PoolOptions {
  connections: number;
}

function createPool(origin: string, options: PoolOptions): Pool {
  return new Pool(origin, {
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    // Bounds on every wait, so a hung stream ends the scenario instead of the whole run.
    headersTimeout: 90_000,
    bodyTimeout: 90_000,
  });
}

/** The mock called directly, with the body Sluice would send it. */
export function directTarget(mockOrigin: string, options: PoolOptions): Target {
  return {
    name: 'direct',
    pool: createPool(mockOrigin, options),
    async request(shape, tag) {
      const body = JSON.stringify({
        model: 'm',
        messages: [{ role: 'user', content: tag }],
        stream: true,
        stream_options: { include_usage: true },
      });
      return { path: `${upstreamPath}?${shapeQuery(shape)}`, body };
    },
  };
}

/**
 * Sluice in front of the mock. The stream shape lives in the connector URL, so one model is
 * registered per shape (on first use) and the request body is the plain ml-commons one.
 */
export function sluiceTarget(
  sluiceOrigin: string,
  mockOrigin: string,
  options: PoolOptions & { maxConnection: number | undefined },
): Target {
  const models = new Map<string, Promise<string>>();
  return {
    name: 'sluice',
    pool: createPool(sluiceOrigin, options),
    async request(shape, tag) {
      const query = shapeQuery(shape);
      let modelId = models.get(query);
      if (modelId === undefined) {
        const url = `${mockOrigin}${upstreamPath}?${query}`;
        modelId = registerModel(sluiceOrigin, url, options.maxConnection);
        models.set(query, modelId);
      }
      const body = JSON.stringify({ parameters: { messages: [{ role: 'user', content: tag }] } });
      return { path: `/_plugins/_ml/models/${await modelId}/_predict/stream`, body };
    },
  };
}

export type StreamEnd = 'complete' | 'error-event' | 'cancelled' | 'failed';

export interface StreamRecord {
  end: StreamEnd;
  status: number;
  /** Request start to the first content event. */
  ttftMs: number | undefined;
  tokens: number;
  /** Largest gap between consecutive content events. */
  maxGapMs: number;
  /** Content event (1-based) that ended the largest gap, to tell start-up stalls from later ones. */
  maxGapBeforeToken: number;
  durationMs: number;
  /** Epoch ms (timeOrigin + now) at which the client destroyed the stream. */
  destroyedAtEpochMs?: number;
  detail?: string;
}

export interface StreamControl {
  pause(): void;
  resume(): void;
}

export interface StreamOptions {
  shape: StreamShape;
  tag?: string;
  /** Destroy the connection once this many content events arrived. */
  cancelAfterTokens?: number;
  /** Destroy the connection this long after the request started (before any token). */
  cancelAfterMs?: number;
  /** Called once, on the first content event (used to pause reading). */
  onFirstToken?: (control: StreamControl) => void;
  /** Every gap between content events is pushed here. */
  gapSink?: number[];
}

let tagCounter = 0;

/** A tag unique within this run; the mock reports closes by it. */
export function nextTag(): string {
  tagCounter += 1;
  return `${tagPrefix}${process.pid}-${tagCounter}`;
}

/** Splits SSE bytes into events and classifies each; keeps only the unfinished tail. */
class EventSplitter {
  #tail = '';

  /** Calls `onEvent` with 'token', 'end', 'error' or 'other' for every complete event. */
  push(chunk: Buffer, onEvent: (kind: 'token' | 'end' | 'error' | 'other') => void): void {
    // latin1 is a 1:1 byte decoding: fast, and every marker searched for is ASCII.
    let text = this.#tail + chunk.toString('latin1');
    let boundary = text.indexOf('\n\n');
    while (boundary !== -1) {
      const event = text.slice(0, boundary);
      text = text.slice(boundary + 2);
      boundary = text.indexOf('\n\n');
      if (event.includes('"content":"') && !event.includes('"content":""')) onEvent('token');
      else if (event.includes('"is_last":true') || event === 'data: [DONE]') onEvent('end');
      else if (event.startsWith('data: {"error"')) onEvent('error');
      else onEvent('other');
    }
    this.#tail = text;
  }
}

export async function runStream(target: Target, options: StreamOptions): Promise<StreamRecord> {
  const { path, body } = await target.request(options.shape, options.tag ?? nextTag());
  const controller = new AbortController();
  const startedAt = performance.now();
  const record: StreamRecord = {
    end: 'failed',
    status: 0,
    ttftMs: undefined,
    tokens: 0,
    maxGapMs: 0,
    maxGapBeforeToken: 0,
    durationMs: 0,
  };
  const destroy = () => {
    record.destroyedAtEpochMs = epochNow();
    record.end = 'cancelled';
    controller.abort();
  };
  let cancelTimer: NodeJS.Timeout | undefined;
  if (options.cancelAfterMs !== undefined) cancelTimer = setTimeout(destroy, options.cancelAfterMs);
  try {
    const response = await target.pool.request({
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body,
      signal: controller.signal,
    });
    record.status = response.statusCode;
    if (response.statusCode !== 200) {
      record.detail = (await response.body.text()).slice(0, 300);
      return record;
    }
    const splitter = new EventSplitter();
    let lastTokenAt = 0;
    let sawEnd = false;
    let sawError = false;
    // Pausing stops pulling from the body (the loop waits on this gate), so undici's buffer
    // fills and it stops reading the socket: the sender then sees TCP backpressure.
    let gate: { promise: Promise<void>; open: () => void } | undefined;
    const control: StreamControl = {
      pause: () => {
        if (gate !== undefined) return;
        let open = () => {};
        const promise = new Promise<void>((resolve) => {
          open = resolve;
        });
        gate = { promise, open };
      },
      resume: () => {
        gate?.open();
        gate = undefined;
      },
    };
    for await (const chunk of response.body) {
      const arrivedAt = performance.now();
      splitter.push(chunk as Buffer, (kind) => {
        if (kind === 'end') sawEnd = true;
        else if (kind === 'error') sawError = true;
        if (kind !== 'token') return;
        record.tokens += 1;
        if (record.tokens === 1) {
          record.ttftMs = arrivedAt - startedAt;
          options.onFirstToken?.(control);
        } else {
          const gap = arrivedAt - lastTokenAt;
          if (gap > record.maxGapMs) {
            record.maxGapMs = gap;
            record.maxGapBeforeToken = record.tokens;
          }
          options.gapSink?.push(gap);
        }
        lastTokenAt = arrivedAt;
      });
      if (options.cancelAfterTokens !== undefined && record.tokens >= options.cancelAfterTokens) {
        destroy();
        break;
      }
      if (gate !== undefined) await gate.promise;
    }
    if (record.end !== 'cancelled') {
      record.end = sawError ? 'error-event' : sawEnd ? 'complete' : 'failed';
      if (!sawEnd && !sawError) record.detail = 'stream ended without an end event';
    }
  } catch (error) {
    if (record.end !== 'cancelled') record.detail = String(error).slice(0, 300);
  } finally {
    clearTimeout(cancelTimer);
    record.durationMs = performance.now() - startedAt;
  }
  return record;
}

/** Runs `count` streams with at most `concurrency` in flight. */
export async function runMany(
  count: number,
  concurrency: number,
  open: (index: number) => Promise<StreamRecord>,
): Promise<StreamRecord[]> {
  const records: StreamRecord[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next;
      next += 1;
      records[index] = await open(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return records;
}

/** Keeps `concurrency` streams in flight until `durationMs` passed; streams started finish. */
export async function runForDuration(
  durationMs: number,
  concurrency: number,
  open: () => Promise<StreamRecord>,
): Promise<{ records: StreamRecord[]; elapsedMs: number }> {
  const records: StreamRecord[] = [];
  const startedAt = performance.now();
  const deadline = startedAt + durationMs;
  const worker = async () => {
    while (performance.now() < deadline) records.push(await open());
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { records, elapsedMs: performance.now() - startedAt };
}
