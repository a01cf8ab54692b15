/**
 * Nodes authenticate each other with the cluster secret, sent on every Flight call as gRPC
 * metadata `authorization: Bearer <secret>` — the header Flight clients already know how to
 * send (pyarrow: `FlightCallOptions(headers=[(b'authorization', b'Bearer …')])`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http2';

export const authorizationKey = 'authorization';

const bearer = (secret: string): string => `Bearer ${secret}`;
const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export function assertClusterSecret(secret: string): void {
  if (secret.length === 0) throw new Error('Arrow Flight needs a non-empty cluster secret');
}

/**
 * The metadata (request headers) for outgoing calls. Node copies request headers, so one object
 * serves every call; it is frozen so that nobody changes it for all of them.
 */
export function authorizationMetadata(secret: string): Readonly<Record<string, string>> {
  return Object.freeze({ [authorizationKey]: bearer(secret) });
}

/**
 * Returns a check for incoming calls. Both sides are hashed before the constant-time compare, so
 * neither the content nor the length of the secret leaks through timing. Node's HTTP/2 keeps only
 * the first `authorization` header of a request that repeats it (a single-value header there).
 */
export function createAuthorizationCheck(
  secret: string,
): (headers: IncomingHttpHeaders) => boolean {
  assertClusterSecret(secret);
  const expected = digest(bearer(secret));
  return (headers) => {
    const value = headers[authorizationKey];
    if (typeof value !== 'string') return false;
    return timingSafeEqual(digest(value), expected);
  };
}
