/**
 * What the parent and the mock upstream agree on: the stream shape carried in the URL query
 * (so a Sluice connector URL can carry it too), the tag that identifies one stream through
 * Sluice, and the IPC messages between the two processes.
 */

/** The shape of one mock stream. Every field comes from the query string of the request URL. */
export interface StreamShape {
  /** Content events before the finish, usage and `[DONE]` events. */
  events: number;
  /** Milliseconds between content events; 0 writes as fast as the socket accepts. */
  paceMs: number;
  /** Bytes of content per event. */
  bytes: number;
  /** Milliseconds before the first event (time the "model" takes to think). */
  firstDelayMs: number;
  /** Milliseconds of silence after the first event (an idle stream). */
  holdMs: number;
}

export const defaultShape: StreamShape = {
  events: 16,
  paceMs: 0,
  bytes: 8,
  firstDelayMs: 0,
  holdMs: 0,
};

// Upper bounds so that a typo in a scenario cannot make the mock run for hours.
const limits: Record<keyof StreamShape, number> = {
  events: 1_000_000,
  paceMs: 60_000,
  bytes: 65_536,
  firstDelayMs: 60_000,
  holdMs: 120_000,
};

const queryNames: Record<keyof StreamShape, string> = {
  events: 'events',
  paceMs: 'pace',
  bytes: 'bytes',
  firstDelayMs: 'first_delay',
  holdMs: 'hold',
};

export const upstreamPath = '/v1/chat/completions';

export function shapeQuery(shape: Partial<StreamShape>): string {
  const full = { ...defaultShape, ...shape };
  const parameters = new URLSearchParams();
  for (const key of Object.keys(queryNames) as (keyof StreamShape)[]) {
    parameters.set(queryNames[key], String(full[key]));
  }
  return parameters.toString();
}

export function parseShape(search: URLSearchParams): StreamShape {
  const shape = { ...defaultShape };
  for (const key of Object.keys(queryNames) as (keyof StreamShape)[]) {
    const raw = search.get(queryNames[key]);
    if (raw === null) continue;
    const value = Number(raw);
    if (Number.isInteger(value) && value >= 0) shape[key] = Math.min(value, limits[key]);
  }
  shape.events = Math.max(1, shape.events);
  shape.bytes = Math.max(1, shape.bytes);
  return shape;
}

/**
 * A stream is tagged through the first message's content, because that is the one field the
 * load generator controls that Sluice forwards unchanged to the upstream.
 */
export const tagPrefix = 'bench-tag:';

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

export interface MockCounters {
  started: number;
  completed: number;
  aborted: number;
  active: number;
  /** TCP connections accepted: far fewer than streams when keep-alive works. */
  connections: number;
  /** Requests whose body lacked `stream: true` or `stream_options.include_usage`. */
  missingStreamFlags: number;
}

export interface TagProgress {
  bytesWritten: number;
  eventsWritten: number;
}

/** Parent → mock. */
export type ParentMessage =
  | { type: 'query'; requestId: number; tag?: string; collectGarbage?: boolean }
  | { type: 'reset-counters' };

/** Mock → parent. */
export type MockMessage =
  | { type: 'ready'; port: number }
  | { type: 'closed'; tag: string; atEpochMs: number; completed: boolean }
  | {
      type: 'answer';
      requestId: number;
      counters: MockCounters;
      rssBytes: number;
      heapUsedBytes: number;
      tag?: TagProgress;
    };

/** PostgreSQL keeper → parent (see postgres-keeper.ts). */
export type KeeperMessage =
  | { type: 'ready'; url: string; postmasterPid: number }
  | { type: 'failed'; message: string };
