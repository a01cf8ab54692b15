/**
 * The one way Sluice talks to remote providers: undici agents per `client_config`, the SSRF
 * checks on every call, `client_config` retries, and cancellation that reaches the socket.
 */

import type { Socket } from 'node:net';
import { Agent, buildConnector, type Dispatcher, request } from 'undici';
import type { ClientConfig } from '../domain/connector.ts';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { UpstreamCall } from '../domain/provider.ts';
import {
  type AddressRules,
  builtInTarget,
  checkCallEndpoint,
  createGuardedLookup,
  type EndpointPolicy,
  openAddressRules,
  refusesAddresses,
} from './endpoint-guard.ts';
import { isReleased, type ResponseHead, ResponseStream } from './response-stream.ts';
import { isRetryableStatus, parseRetryAfter, type RetryTools, runWithRetry } from './retry.ts';
import {
  cancellationError,
  providerError,
  releaseBody,
  type TimeoutLimits,
  toUpstreamError,
} from './upstream-error.ts';

export type UpstreamHeaders = Record<string, string | string[] | undefined>;

export interface UpstreamResponse {
  status: number;
  headers: UpstreamHeaders;
  body: string;
}

export interface UpstreamStream {
  status: number;
  headers: UpstreamHeaders;
  body: AsyncIterable<Uint8Array>;
  /** Releases the socket early (the consumer stops reading). */
  abort(): void;
}

export type { EndpointPolicy } from './endpoint-guard.ts';

/** Signs one attempt (aws_sigv4); called again for every retry. */
export type CallSigner = (call: UpstreamCall) => Promise<UpstreamCall>;

export interface UpstreamClientOptions {
  /** Read on every call, so settings changes apply to the next call. */
  endpointPolicy: () => EndpointPolicy;
  /** Cap on non-streaming response bodies; default 100 MB. */
  maxResponseBytes?: number;
  /** Test seams for the retry loop. */
  retryTools?: Partial<RetryTools>;
  /**
   * Virtual origins served by this process itself (the demo provider), mapped to the loopback
   * origin that really serves them. They are not remote endpoints, so the endpoint guard does not
   * apply to them; nothing else is exempt. Every node maps the same virtual origin to its own
   * server, so a stored connector works on whichever node runs it.
   */
  builtInOrigins?: ReadonlyMap<string, string>;
}

export interface OpenOptions {
  /** The caller's first-byte deadline: each attempt's wait for headers, and no retry after it
   * (default: `read_timeout` per attempt, no overall deadline). */
  firstByteTimeoutMs?: number;
  sign?: CallSigner;
}

const defaultMaxResponseBytes = 100 * 1024 * 1024;
// More distinct client_configs than this are unusual; the oldest agent is then closed gracefully.
const maxAgents = 32;

/**
 * The signal of the request being dispatched right now. undici calls the connector synchronously
 * inside `dispatch` when the pool needs a new socket for that request, and that socket serves no
 * other request until it is connected; so a connector that sees this signal may destroy the
 * half-open socket on abort. undici alone would only notice the abort once connected.
 */
let dispatchingSignal: AbortSignal | undefined;

function abortableConnector(base: buildConnector.connector): buildConnector.connector {
  // buildConnector returns the socket it creates, although its type says void.
  const connect = base as unknown as (
    options: buildConnector.Options,
    callback: buildConnector.Callback,
  ) => Socket | undefined;
  return (options, callback) => {
    const signal = dispatchingSignal;
    let settled = false;
    let onAbort: (() => void) | undefined;
    const socket = connect(options, (...result) => {
      settled = true;
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
      callback(...result);
    });
    if (signal === undefined || settled || socket === undefined) return;
    const connectAborted = Object.assign(new Error('Connect aborted'), { code: 'UND_ERR_ABORTED' });
    onAbort = () => socket.destroy(connectAborted);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  };
}

interface DispatchTimeouts {
  headersTimeout: number;
  bodyTimeout: number;
}

/**
 * Starts the request and settles as soon as `signal` fires, even when undici still waits for a
 * free connection in the pool (it only acts on the abort once the request reaches a socket).
 */
function dispatch(
  agent: Agent,
  call: UpstreamCall,
  signal: AbortSignal,
  timeouts: DispatchTimeouts,
): Promise<Dispatcher.ResponseData> {
  if (signal.aborted) return Promise.reject(cancellationError(signal));
  const previous = dispatchingSignal;
  dispatchingSignal = signal;
  let pending: Promise<Dispatcher.ResponseData>;
  try {
    pending = request(call.url, {
      dispatcher: agent,
      method: call.method.toUpperCase() as Dispatcher.HttpMethod,
      headers: call.headers,
      body: call.body === '' ? null : call.body,
      signal,
      ...timeouts,
    });
  } finally {
    dispatchingSignal = previous;
  }
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(cancellationError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (response) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) {
          releaseBody(response.body);
          reject(cancellationError(signal));
        } else {
          resolve(response);
        }
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function failure(error: unknown, signal: AbortSignal, limits: TimeoutLimits): ServiceError {
  return signal.aborted ? cancellationError(signal) : toUpstreamError(error, limits);
}

function streamFailure(error: unknown, signal: AbortSignal, limits: TimeoutLimits): ServiceError {
  if (signal.aborted) return cancellationError(signal);
  if (isReleased(error)) {
    return new ServiceError(ErrorCode.Canceled, 'The upstream stream was released');
  }
  return toUpstreamError(error, limits);
}

/**
 * Starts a streaming request on the handler API (see response-stream.ts for why not
 * `request()`). Like `dispatch`, an abort settles it at once, even while it waits for a socket.
 */
function dispatchStream(
  agent: Agent,
  call: UpstreamCall,
  signal: AbortSignal,
  timeouts: DispatchTimeouts,
  limits: TimeoutLimits,
): ResponseStream {
  const stream = new ResponseStream(signal, (error) => streamFailure(error, signal, limits));
  const previous = dispatchingSignal;
  dispatchingSignal = signal;
  try {
    const url = new URL(call.url);
    agent.dispatch(
      {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: call.method.toUpperCase() as Dispatcher.HttpMethod,
        headers: call.headers,
        body: call.body === '' ? null : call.body,
        ...timeouts,
      },
      stream,
    );
  } catch (error) {
    stream.fail(error);
  } finally {
    dispatchingSignal = previous;
  }
  return stream;
}

export class UpstreamClient {
  readonly #endpointPolicy: () => EndpointPolicy;
  readonly #maxResponseBytes: number;
  readonly #retryTools: Partial<RetryTools>;
  readonly #agents = new Map<string, Agent>();
  readonly #builtInOrigins: ReadonlyMap<string, string>;
  #closed = false;

  constructor(options: UpstreamClientOptions) {
    this.#endpointPolicy = options.endpointPolicy;
    this.#maxResponseBytes = options.maxResponseBytes ?? defaultMaxResponseBytes;
    this.#retryTools = options.retryTools ?? {};
    this.#builtInOrigins = options.builtInOrigins ?? new Map();
  }

  /**
   * Non-streaming call with client_config timeouts and retries. A non-2xx status (after retries)
   * is returned for the caller to report; transport failures throw ServiceError.
   */
  send(
    call: UpstreamCall,
    config: ClientConfig,
    signal: AbortSignal,
    sign?: CallSigner,
  ): Promise<UpstreamResponse> {
    const readMilliseconds = config.read_timeout * 1000;
    const limits = this.#limits(config, readMilliseconds, readMilliseconds);
    const timeouts = { headersTimeout: readMilliseconds, bodyTimeout: readMilliseconds };
    return runWithRetry(
      config,
      signal,
      {
        attempt: async () => {
          const { agent, target } = this.#prepare(call, config);
          const outgoing = sign === undefined ? target : await sign(target);
          try {
            const response = await dispatch(agent, outgoing, signal, timeouts);
            const body = await this.#readCapped(response);
            return { status: response.statusCode, headers: response.headers, body };
          } catch (error) {
            throw failure(error, signal, limits);
          }
        },
        shouldRetryResult: (response) => isRetryableStatus(response.status),
        retryAfterOf: (response) => parseRetryAfter(response.headers, Date.now()),
      },
      this.#retryTools,
    );
  }

  /**
   * Streaming call: resolves once 2xx headers arrive. Retries happen only before that point.
   * Aborting `signal` at any stage destroys the socket; the body has no idle timeout here (the
   * stream core runs its own per-event timer).
   */
  async open(
    call: UpstreamCall,
    config: ClientConfig,
    signal: AbortSignal,
    options: OpenOptions = {},
  ): Promise<UpstreamStream> {
    const headersMilliseconds = options.firstByteTimeoutMs ?? config.read_timeout * 1000;
    const limits = this.#limits(config, headersMilliseconds, 0);
    const timeouts = { headersTimeout: headersMilliseconds, bodyTimeout: 0 };
    const { sign } = options;
    // The signed headers may hold secrets (a session token) that an echoing provider returns.
    let lastSent = call;
    const response = await runWithRetry(
      config,
      signal,
      {
        attempt: async (): Promise<ResponseHead & { stream: ResponseStream }> => {
          const { agent, target } = this.#prepare(call, config);
          const outgoing = sign === undefined ? target : await sign(target);
          lastSent = outgoing;
          const stream = dispatchStream(agent, outgoing, signal, timeouts, limits);
          return { ...(await stream.head), stream };
        },
        shouldRetryResult: (candidate) => isRetryableStatus(candidate.status),
        discardResult: (candidate) => candidate.stream.release(),
        retryAfterOf: (candidate) => parseRetryAfter(candidate.headers, Date.now()),
        deadlineMilliseconds: options.firstByteTimeoutMs,
      },
      this.#retryTools,
    );
    const { stream } = response;
    if (response.status < 200 || response.status > 299) {
      const answer = { statusCode: response.status, body: stream, release: () => stream.release() };
      throw await providerError(answer, lastSent.headers, config.read_timeout * 1000, signal);
    }
    return {
      status: response.status,
      headers: response.headers,
      body: stream,
      abort: () => stream.release(),
    };
  }

  /** Destroys every agent; calls still in flight fail. */
  async close(): Promise<void> {
    this.#closed = true;
    const agents = [...this.#agents.values()];
    this.#agents.clear();
    await Promise.all(agents.map((agent) => agent.destroy().catch(() => undefined)));
  }

  /** The SSRF checks (on every attempt: settings may change) and the agent for this config. */
  #prepare(call: UpstreamCall, config: ClientConfig): { agent: Agent; target: UpstreamCall } {
    if (this.#closed) {
      throw new ServiceError(ErrorCode.UpstreamUnavailable, 'The upstream client is closed');
    }
    const served = builtInTarget(call.url, this.#builtInOrigins);
    if (served !== undefined) {
      return { agent: this.#agentFor(config, openAddressRules), target: { ...call, url: served } };
    }
    const rules = checkCallEndpoint(call.url, this.#endpointPolicy());
    return { agent: this.#agentFor(config, rules), target: call };
  }

  /**
   * One agent per pool-shaping config. The address rules are part of the key so that a pooled
   * socket is only reused under the rules it was checked against: not after a settings change,
   * and not by a URL of the same origin that the private-endpoint patterns do not match.
   */
  #agentFor(config: ClientConfig, rules: AddressRules): Agent {
    const connections = Math.max(1, Math.floor(config.max_connection) || 1);
    const connectMilliseconds = Math.max(0, config.connection_timeout * 1000);
    const skipVerification = config.skip_ssl_verification;
    const guard = `${rules.privateRefusal}|${JSON.stringify(rules.restrictedIpPatterns)}`;
    const key = `${connections}|${connectMilliseconds}|${skipVerification}|${guard}`;
    const existing = this.#agents.get(key);
    if (existing !== undefined) return existing;
    if (this.#agents.size >= maxAgents) {
      const [oldestKey, oldest] = this.#agents.entries().next().value ?? [];
      if (oldestKey !== undefined) this.#agents.delete(oldestKey);
      oldest?.close().catch(() => undefined);
    }
    const connector = buildConnector({
      timeout: connectMilliseconds,
      rejectUnauthorized: !skipVerification,
      ...(refusesAddresses(rules) ? { lookup: createGuardedLookup(rules) } : {}),
    });
    const agent = new Agent({
      connections,
      // Providers close idle connections after roughly a minute; stay well below that.
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 60_000,
      connect: abortableConnector(connector),
    });
    this.#agents.set(key, agent);
    return agent;
  }

  #limits(config: ClientConfig, headersMs: number, bodyMs: number): TimeoutLimits {
    return {
      connectMilliseconds: config.connection_timeout * 1000,
      headersMilliseconds: headersMs,
      bodyMilliseconds: bodyMs,
    };
  }

  async #readCapped(response: Dispatcher.ResponseData): Promise<string> {
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.#maxResponseBytes) {
      releaseBody(response.body);
      throw tooLarge(this.#maxResponseBytes);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > this.#maxResponseBytes) {
        releaseBody(response.body);
        throw tooLarge(this.#maxResponseBytes);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}

function tooLarge(limit: number): ServiceError {
  return new ServiceError(
    ErrorCode.UpstreamProtocol,
    `Response from remote service is larger than ${limit} bytes`,
  );
}
