/**
 * HTTP/2 keep-alive: ping the peer every `keepaliveTimeMs`, and destroy the session when a ping
 * (or, while still connecting, the connection itself) is not answered within
 * `keepaliveTimeoutMs`. A killed process closes its socket and is noticed at once; this catches
 * a peer that vanished without closing it (power loss, partition, a frozen machine). Destroying
 * the session fails every call on it, which is how callers learn that the peer is gone.
 */
import type { Http2Session } from 'node:http2';

export interface KeepaliveOptions {
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
}

/** Starts pinging; `shouldPing` can skip idle periods. Returns the function that stops it. */
export function keepSessionAlive(
  session: Http2Session,
  options: KeepaliveOptions,
  shouldPing: () => boolean = () => true,
): () => void {
  let timeout: NodeJS.Timeout | undefined;
  const answered = () => {
    clearTimeout(timeout);
    timeout = undefined;
  };
  const interval = setInterval(() => {
    if (timeout !== undefined || session.destroyed || !shouldPing()) return;
    timeout = setTimeout(() => {
      session.destroy(
        new Error(`The peer did not answer a ping within ${options.keepaliveTimeoutMs} ms`),
      );
    }, options.keepaliveTimeoutMs);
    timeout.unref();
    if (session.connecting) {
      // Node cancels pings sent before the connection is up; being connected is the answer.
      session.once('connect', answered);
      return;
    }
    try {
      session.ping(answered);
    } catch {
      // Too many unanswered pings or a closing session: the timeout decides.
    }
  }, options.keepaliveTimeMs);
  interval.unref();
  return () => {
    clearInterval(interval);
    answered();
  };
}
