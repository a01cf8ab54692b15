/**
 * The client's HTTP/2 connection to one gRPC server address: one session at a time, opened on
 * the first call, replaced after it is lost (the next call reconnects), pinged while calls run
 * (`http2-keepalive.ts`).
 *
 * Node's HTTP/2 server (nghttp2 ≥ 1.57, the "rapid reset" fix for CVE-2023-44487) accepts
 * incoming RST_STREAM frames in a burst of 1,000, then 33 per second; past that it sends GOAWAY
 * INTERNAL_ERROR and every stream on the connection fails. Measured with the default settings
 * on Node 20.20, 22.23 and 24.21 alike: a client cancelling 1,500 streams within about a second
 * on one connection lost it after 1,020–1,050 resets, taking the streams still flowing with it.
 * Node 22.23 and 24.21 accept the server options `streamResetBurst`/`streamResetRate`
 * (nodejs/node#54875); Node 20.20 ignores them. Raising them would also weaken the guard against
 * real attackers, who need no cluster secret to send resets, so the server keeps the defaults.
 *
 * Cancellations are legitimate here (clients of the coordinator disconnect mid-stream), so each
 * session keeps a budget that mirrors the server's from below (900 burst, 30 per second, where
 * nghttp2 refills 33 per whole second) and counts every reset this side sends. A session whose
 * remaining budget no longer covers one reset for each of its running calls plus a new one
 * takes no new calls: they go to a fresh session, and the old one closes (without resets) once
 * its calls are done. `flight-reset-flood.test.ts` shows both the trap and that the budget
 * avoids it.
 */
import http2, { type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { connect } from 'node:net';
import { frameMessage } from './grpc-framing.ts';
import { GrpcCallError, GrpcStatus, grpcContentType } from './grpc-protocol.ts';
import { type CallHost, ClientCall } from './http2-call.ts';
import { type KeepaliveOptions, keepSessionAlive } from './http2-keepalive.ts';

export interface ChannelOptions extends KeepaliveOptions {
  /** Request headers sent on every call (e.g. `authorization`). */
  metadata: Readonly<Record<string, string>>;
  maxMessageBytes: number;
}

const resetBurst = 900;
const resetRefillPerMs = 30 / 1000;

/** One HTTP/2 session and the calls running on it. */
class ChannelSession implements CallHost {
  readonly session: ClientHttp2Session;
  readonly calls = new Set<ClientCall>();
  retired = false;
  #resetTokens = resetBurst;
  #tokensAt = performance.now();
  #lostReason: string | undefined;
  readonly #onIdle: (entry: ChannelSession) => void;

  constructor(session: ClientHttp2Session, onIdle: (entry: ChannelSession) => void) {
    this.session = session;
    this.#onIdle = onIdle;
    session.on('error', (error) => {
      this.#lostReason ??= error.message;
    });
  }

  /** True when the session takes new calls and one more fits its reset budget (file comment). */
  canStart(now: number): boolean {
    const { session } = this;
    return !session.closed && !session.destroyed && this.#tokens(now) >= this.calls.size + 1;
  }

  onReset(): void {
    const now = performance.now();
    this.#resetTokens = this.#tokens(now) - 1;
    this.#tokensAt = now;
  }

  onClose(call: ClientCall): void {
    if (!this.calls.delete(call) || this.calls.size > 0) return;
    this.#onIdle(this);
  }

  lostBecause(): string | undefined {
    if (!this.session.destroyed && !this.session.closed) return undefined;
    return this.#lostReason ?? 'the connection closed';
  }

  #tokens(now: number): number {
    return Math.min(resetBurst, this.#resetTokens + (now - this.#tokensAt) * resetRefillPerMs);
  }
}

export class GrpcChannel {
  readonly #authority: string;
  readonly #host: string;
  readonly #port: number;
  readonly #options: ChannelOptions;
  readonly #headersByPath = new Map<string, OutgoingHttpHeaders>();
  readonly #sessions = new Set<ChannelSession>();
  #current: ChannelSession | undefined;
  #closed = false;

  /** `address` is `host:port` (IPv6 hosts in brackets). */
  constructor(address: string, options: ChannelOptions) {
    const url = new URL(`http://${address}`);
    this.#authority = url.origin;
    this.#host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.#port = Number(url.port || 80);
    this.#options = options;
  }

  /**
   * Starts a call with one request message (every Flight RPC Sluice makes sends one), already
   * half-closed. Throws GrpcCallError UNAVAILABLE if no session takes the stream.
   */
  start(path: string, request: Uint8Array): ClientCall {
    if (this.#closed) {
      throw new GrpcCallError({
        code: GrpcStatus.CANCELLED,
        details: 'The channel is closed',
        metadata: {},
      });
    }
    const headers = this.#headers(path);
    for (let attempt = 0; ; attempt++) {
      const entry = this.#usableSession();
      try {
        const stream = entry.session.request(headers, { endStream: false });
        const call = new ClientCall(stream, entry, this.#options.maxMessageBytes);
        if (entry.calls.size === 0) entry.session.ref();
        entry.calls.add(call);
        stream.end(frameMessage(request));
        return call;
      } catch (error) {
        // A session that went away (GOAWAY, out of stream ids) between calls: try a fresh one.
        this.#retire(entry);
        if (attempt > 0) {
          throw new GrpcCallError({
            code: GrpcStatus.UNAVAILABLE,
            details: `Could not start a call: ${(error as Error).message}`,
            metadata: {},
          });
        }
      }
    }
  }

  /** Fails running calls as CANCELLED and closes the connections; later calls are refused. */
  close(): void {
    this.#closed = true;
    this.#current = undefined;
    for (const entry of this.#sessions) {
      for (const call of entry.calls) call.abandon('The Flight client was closed');
      entry.session.destroy();
    }
    this.#sessions.clear();
  }

  /** How many sessions are open (retired ones included until they close), for tests. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  #headers(path: string): OutgoingHttpHeaders {
    let headers = this.#headersByPath.get(path);
    if (headers === undefined) {
      headers = {
        ...this.#options.metadata,
        ':method': 'POST',
        ':path': path,
        'content-type': grpcContentType,
        te: 'trailers',
      };
      this.#headersByPath.set(path, headers);
    }
    return headers;
  }

  #usableSession(): ChannelSession {
    const current = this.#current;
    if (current?.canStart(performance.now())) return current;
    if (current !== undefined) this.#retire(current);
    const created = this.#connect();
    this.#current = created;
    return created;
  }

  #connect(): ChannelSession {
    const session = http2.connect(this.#authority, {
      createConnection: () => connect({ host: this.#host, port: this.#port, noDelay: true }),
      // See startGrpcServer: flow control bounds each call's memory; Node's session cap only
      // refuses streams once many calls have output queued.
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    });
    const entry = new ChannelSession(session, (idle) => {
      if (session.destroyed) return;
      // Idle: an open connection alone must not keep the process running.
      session.unref();
      if (idle.retired) session.close();
    });
    this.#sessions.add(entry);
    const stopKeepalive = keepSessionAlive(session, this.#options, () => entry.calls.size > 0);
    // After a GOAWAY the session takes no new streams; Node closes it when its streams end.
    session.once('goaway', () => this.#retire(entry));
    session.once('close', () => {
      stopKeepalive();
      this.#sessions.delete(entry);
      if (this.#current === entry) this.#current = undefined;
    });
    return entry;
  }

  #retire(entry: ChannelSession): void {
    entry.retired = true;
    if (this.#current === entry) this.#current = undefined;
    const { session } = entry;
    if (entry.calls.size === 0 && !session.closed && !session.destroyed) session.close();
  }
}
