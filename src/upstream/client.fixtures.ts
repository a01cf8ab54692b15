/**
 * Shared by the UpstreamClient tests: local HTTP and silent TCP servers that count hits and
 * hand out accepted sockets, clients and configs, and the error matcher. Each test file
 * registers `after(closeAll)`.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { type ClientConfig, defaultClientConfig } from '../domain/connector.ts';
import { ServiceError } from '../domain/errors.ts';
import type { UpstreamCall } from '../domain/provider.ts';
import { type EndpointPolicy, UpstreamClient, type UpstreamClientOptions } from './client.ts';
import type { RetryTools } from './retry.ts';

type Handler = (request: IncomingMessage, response: ServerResponse, hit: number) => void;

interface TestServer {
  url: string;
  port: number;
  hits: () => number;
  connections: () => number;
  /** Resolves with the next accepted socket (or the one already accepted but not yet taken). */
  nextSocket: () => Promise<Socket>;
}

const servers: Server[] = [];
const clients: UpstreamClient[] = [];

export async function closeAll(): Promise<void> {
  await Promise.all(clients.map((client) => client.close()));
  for (const server of servers) {
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
  }
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
}

function track(server: Server, port: number, scheme: string, hits: () => number): TestServer {
  const accepted: Socket[] = [];
  const waiting: ((socket: Socket) => void)[] = [];
  let connections = 0;
  server.on('connection', (socket: Socket) => {
    connections += 1;
    const waiter = waiting.shift();
    if (waiter) waiter(socket);
    else accepted.push(socket);
  });
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    hits,
    connections: () => connections,
    nextSocket: () => {
      const socket = accepted.shift();
      return socket ? Promise.resolve(socket) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

export async function httpServer(handler: Handler): Promise<TestServer> {
  let hits = 0;
  const server = createServer((request, response) => {
    hits += 1;
    request.resume();
    handler(request, response, hits);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return track(server, port, 'http', () => hits);
}

/** Accepts TCP and never speaks: an https client stays in its TLS handshake ("connecting"). */
export async function silentTcpServer(): Promise<TestServer> {
  const server = createTcpServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return track(server, port, 'https', () => 0);
}

export const closed = (socket: Socket): Promise<void> =>
  socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', resolve));

export const openPolicy: EndpointPolicy = {
  trustedEndpointsRegex: ['.*'],
  privateIpEnabled: true,
  trustedPrivateEndpointsRegex: [],
  restrictedIpPatterns: [],
};

export function client(
  policy: EndpointPolicy = openPolicy,
  options: Omit<UpstreamClientOptions, 'endpointPolicy'> = {},
): UpstreamClient {
  const created = new UpstreamClient({ endpointPolicy: () => policy, ...options });
  clients.push(created);
  return created;
}

export function config(overrides: Partial<ClientConfig> = {}): ClientConfig {
  return { ...defaultClientConfig, ...overrides };
}

export function post(url: string, headers: Record<string, string> = {}): UpstreamCall {
  return {
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    body: '{}',
  };
}

/** Retries without waiting: the clock only moves when the loop sleeps. */
export function instantRetries(): Partial<RetryTools> {
  let clock = 0;
  return {
    now: () => clock,
    sleep: async (milliseconds) => {
      clock += milliseconds;
    },
  };
}

export function isError(code: string, message?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(ServiceError.isInstance(error), `expected a ServiceError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  };
}

export const statusSequence =
  (...statuses: number[]): Handler =>
  (_request, response, hit) => {
    response.statusCode = statuses[Math.min(hit, statuses.length) - 1] ?? 200;
    response.end(`{"hit":${hit}}`);
  };

export const noSignal = (): AbortSignal => new AbortController().signal;
