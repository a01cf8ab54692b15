/**
 * A loopback HTTP server that answers like every provider Sluice talks to, replaying fixtures
 * in each provider's exact wire format, with fault injection for the failure modes listed in
 * STREAMING-PITFALLS.md. Tests never reach a real provider.
 */
import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type FixtureCase,
  hasJsonFixture,
  hasStreamFixture,
  type MockProviderName,
  malformedEvent,
  readJsonFixture,
  readStreamFixture,
} from './fixtures.ts';
import {
  errorResponse,
  jsonHeaders,
  matchRoute,
  providerPath,
  type RouteMatch,
  streamHeaders,
} from './providers.ts';
import { mockError, parseJson, readBody, sendJson, withTimeout, writeEvent } from './server-io.ts';

export {
  type ExpectedToolCall,
  expectedSummary,
  type StreamSummary,
  summarizeParts,
} from './expected.ts';
export {
  type FixtureCase,
  fixtureCases,
  type MockProviderName,
  mockProviderNames,
  readStreamFixture,
  readStreamFixtureBody,
} from './fixtures.ts';

/** What one provider route answers. Every field is optional; `{}` serves the `text` fixture. */
export interface Scenario {
  /** Fixture case to serve; a request header `x-mock-scenario: <case>` overrides it. */
  fixture?: FixtureCase | (string & {});
  /** Pause between streamed events (timer-based). The first event is sent at once. */
  delayBetweenEventsMs?: number;
  /**
   * Answer with this HTTP status and the provider's real error body instead of the fixture.
   * With `failFirstAttempts`, only those attempts fail (default status 500).
   */
  status?: number;
  /** Replaces the provider's error body when `status` applies. Objects are sent as JSON. */
  errorBody?: string | Record<string, unknown>;
  /** Extra response headers (e.g. `retry-after`), on success and error responses. */
  headers?: Record<string, string>;
  /** The first n requests to this route fail with `status`; later ones get the fixture. */
  failFirstAttempts?: number;
  /** Destroy the socket after n events (a TCP reset mid-stream; no terminator is sent). */
  resetAfterEvents?: number;
  /** Send only the first half of the last event's bytes, then end the response cleanly. */
  truncateLastFrame?: boolean;
  /** Insert a broken-JSON event (valid framing) after n events; the stream then continues. */
  malformedEventAfter?: number;
  /** Stop sending after n events and keep the socket open until the client goes away. */
  hangAfterEvents?: number;
}

export interface RecordedRequest {
  /** 0-based arrival order. */
  index: number;
  method: string;
  /** Path as sent, still percent-encoded (Bedrock model ids carry `%3A`). */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** `rawBody` parsed as JSON, or undefined when it is not JSON. */
  body: unknown;
  /** Undefined when no provider route matched (the mock answered 404/405). */
  provider: MockProviderName | undefined;
  streaming: boolean | undefined;
  /** Model id from the path (Bedrock, Gemini), percent-decoded. */
  modelId: string | undefined;
}

/** How a response ended, from the mock's side. */
export type ResponseEnd =
  /** The mock wrote everything and ended the response. */
  | 'completed'
  /** The client closed the connection before the mock was done (upstream cancellation). */
  | 'client-closed'
  /** `resetAfterEvents` destroyed the socket. */
  | 'reset-by-mock'
  /** `close()` destroyed the socket. */
  | 'server-closed';

export interface ClosedResponse {
  request: RecordedRequest;
  end: ResponseEnd;
  status: number;
  /** Fixture events fully written (an injected malformed event counts as one). */
  eventsSent: number;
}

export interface MockProviderOptions {
  scenarios?: Partial<Record<MockProviderName, Scenario>>;
}

export interface MockProvider {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Client sockets currently open (idle keep-alive sockets count too). */
  readonly openSockets: number;
  /** Full URL a real client would call, e.g. for a connector's action URL. */
  urlFor(provider: MockProviderName, options?: { modelId?: string; streaming?: boolean }): string;
  /** Sets what a route answers from now on, and restarts its `failFirstAttempts` count. */
  setScenario(provider: MockProviderName, scenario: Scenario): void;
  /** Forgets scenarios, recorded requests and attempt counts. */
  reset(): void;
  /** Resolves once `count` requests have arrived (counting those already recorded). */
  waitForRequests(
    count: number,
    options?: { timeoutMs?: number },
  ): Promise<readonly RecordedRequest[]>;
  /**
   * Resolves when the response to `request` (default: the latest request, or the next one if
   * none arrived yet) has closed, saying how it ended. Rejects after `timeoutMs` (default 5000).
   */
  waitForClose(options?: {
    request?: RecordedRequest;
    timeoutMs?: number;
  }): Promise<ClosedResponse>;
  /** Destroys every socket and stops listening. */
  close(): Promise<void>;
}

const defaultTimeoutMs = 5000;

export async function startMockProvider(options: MockProviderOptions = {}): Promise<MockProvider> {
  const scenarios = new Map<MockProviderName, Scenario>(
    Object.entries(options.scenarios ?? {}) as [MockProviderName, Scenario][],
  );
  const attempts = new Map<MockProviderName, number>();
  const requests: RecordedRequest[] = [];
  const closes = new WeakMap<RecordedRequest, Promise<ClosedResponse>>();
  const requestWaiters = new Set<() => void>();
  const sockets = new Set<Socket>();
  let serverClosing = false;

  const server = createServer({ noDelay: true }, (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.destroyed) return; // the client left mid-request; there is no one to answer
      // A bug in the mock must fail the test loudly, not look like a provider answer.
      console.error('mock-provider: handler failed', error);
      if (!response.headersSent) sendJson(response, 500, {}, mockError(String(error)));
      else response.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const rawBody = await readBody(request);
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const body = parseJson(rawBody);
    const result =
      request.method === 'POST'
        ? matchRoute(url.pathname, url.searchParams, body)
        : { matched: false as const, reason: `method ${request.method} is not served` };
    const route = result.matched ? result.route : undefined;
    const record: RecordedRequest = {
      index: requests.length,
      method: request.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: request.headers,
      rawBody,
      body,
      provider: route?.provider,
      streaming: route?.streaming,
      modelId: route?.modelId,
    };
    const progress = { eventsSent: 0, end: undefined as ResponseEnd | undefined };
    closes.set(record, trackClose(record, response, progress));
    requests.push(record);
    for (const wake of requestWaiters) wake();

    if (!result.matched) {
      sendJson(response, request.method === 'POST' ? 404 : 405, {}, mockError(result.reason));
      return;
    }
    await respond(result.route, request, response, progress);
  }

  async function respond(
    route: RouteMatch,
    request: IncomingMessage,
    response: ServerResponse,
    progress: { eventsSent: number; end: ResponseEnd | undefined },
  ): Promise<void> {
    const scenario = scenarios.get(route.provider) ?? {};
    const headerCase = request.headers['x-mock-scenario'];
    const fixtureCase = (typeof headerCase === 'string' ? headerCase : scenario.fixture) ?? 'text';
    const attempt = (attempts.get(route.provider) ?? 0) + 1;
    attempts.set(route.provider, attempt);

    const failing =
      scenario.failFirstAttempts === undefined
        ? scenario.status !== undefined
        : attempt <= scenario.failFirstAttempts;
    if (failing) {
      const status = scenario.status ?? 500;
      const standard = errorResponse(route.provider, status);
      const body =
        scenario.errorBody === undefined
          ? standard.body
          : typeof scenario.errorBody === 'string'
            ? scenario.errorBody
            : JSON.stringify(scenario.errorBody);
      sendJson(response, status, { ...standard.headers, ...scenario.headers }, body);
      return;
    }
    if (!route.streaming) {
      if (!hasJsonFixture(route.provider, fixtureCase)) {
        sendJson(response, 500, {}, mockError(`no fixture ${route.provider}/${fixtureCase}.json`));
        return;
      }
      const headers = { ...jsonHeaders(route.provider), ...scenario.headers };
      sendJson(response, 200, headers, readJsonFixture(route.provider, fixtureCase));
      return;
    }
    if (!hasStreamFixture(route.provider, fixtureCase)) {
      sendJson(
        response,
        500,
        {},
        mockError(`no streaming fixture ${route.provider}/${fixtureCase}`),
      );
      return;
    }
    await streamFixture(route.provider, fixtureCase, scenario, response, progress);
  }

  async function streamFixture(
    provider: MockProviderName,
    fixtureCase: string,
    scenario: Scenario,
    response: ServerResponse,
    progress: { eventsSent: number; end: ResponseEnd | undefined },
  ): Promise<void> {
    const events = [...readStreamFixture(provider, fixtureCase)];
    if (scenario.malformedEventAfter !== undefined) {
      const position = Math.min(scenario.malformedEventAfter, events.length);
      events.splice(position, 0, malformedEvent(provider, fixtureCase, position));
    }
    const stopped = new AbortController();
    response.once('close', () => stopped.abort());
    response.writeHead(200, { ...streamHeaders(provider), ...scenario.headers });
    // Headers go out now, as a real provider's do before the first token.
    response.flushHeaders();

    for (const [index, event] of events.entries()) {
      if (index > 0 && scenario.delayBetweenEventsMs !== undefined) {
        try {
          await sleep(scenario.delayBetweenEventsMs, undefined, { signal: stopped.signal });
        } catch {
          return; // the client went away while we waited
        }
      }
      if (scenario.hangAfterEvents === index) {
        if (!stopped.signal.aborted) await once(stopped.signal, 'abort');
        return;
      }
      if (scenario.resetAfterEvents === index) {
        progress.end = 'reset-by-mock';
        response.socket?.destroy();
        return;
      }
      const last = index === events.length - 1;
      const bytes =
        last && scenario.truncateLastFrame
          ? event.subarray(0, Math.floor(event.length / 2))
          : event;
      if (!(await writeEvent(response, bytes))) return;
      progress.eventsSent += 1;
    }
    response.end();
  }

  function trackClose(
    request: RecordedRequest,
    response: ServerResponse,
    progress: { eventsSent: number; end: ResponseEnd | undefined },
  ): Promise<ClosedResponse> {
    return new Promise((resolve) => {
      response.once('close', () => {
        const end =
          progress.end ??
          (response.writableFinished
            ? 'completed'
            : serverClosing
              ? 'server-closed'
              : 'client-closed');
        resolve({ request, end, status: response.statusCode, eventsSent: progress.eventsSent });
      });
    });
  }

  async function waitForRequests(
    count: number,
    waitOptions: { timeoutMs?: number } = {},
  ): Promise<readonly RecordedRequest[]> {
    if (requests.length >= count) return requests;
    const timeoutMs = waitOptions.timeoutMs ?? defaultTimeoutMs;
    return withTimeout(
      new Promise<readonly RecordedRequest[]>((resolve) => {
        const wake = (): void => {
          if (requests.length < count) return;
          requestWaiters.delete(wake);
          resolve(requests);
        };
        requestWaiters.add(wake);
      }),
      timeoutMs,
      `${count} request(s) did not arrive within ${timeoutMs} ms (got ${requests.length})`,
    );
  }

  async function waitForClose(
    waitOptions: { request?: RecordedRequest; timeoutMs?: number } = {},
  ): Promise<ClosedResponse> {
    const timeoutMs = waitOptions.timeoutMs ?? defaultTimeoutMs;
    const request =
      waitOptions.request ?? requests.at(-1) ?? (await waitForRequests(1, { timeoutMs }))[0];
    const closed = request ? closes.get(request) : undefined;
    if (!request || !closed) throw new Error('mock-provider: unknown request');
    return withTimeout(
      closed,
      timeoutMs,
      `the response to request #${request.index} (${request.path}) did not close within ${timeoutMs} ms`,
    );
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    requests,
    get openSockets() {
      return sockets.size;
    },
    urlFor(provider, urlOptions = {}) {
      return `${url}${providerPath(provider, urlOptions.modelId, urlOptions.streaming ?? true)}`;
    },
    setScenario(provider, scenario) {
      scenarios.set(provider, scenario);
      attempts.delete(provider);
    },
    reset() {
      scenarios.clear();
      attempts.clear();
      requests.length = 0;
    },
    waitForRequests,
    waitForClose,
    async close() {
      serverClosing = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
