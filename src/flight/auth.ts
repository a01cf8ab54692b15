/**
 * Nodes authenticate each other with the cluster secret, sent on every Flight call as gRPC
 * metadata `authorization: Bearer <secret>` — the header Flight clients already know how to
 * send (pyarrow: `FlightCallOptions(headers=[(b'authorization', b'Bearer …')])`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';

export const authorizationKey = 'authorization';

const bearer = (secret: string): string => `Bearer ${secret}`;
const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export function assertClusterSecret(secret: string): void {
  if (secret.length === 0) throw new Error('Arrow Flight needs a non-empty cluster secret');
}

/** Metadata for one outgoing call. Metadata objects are mutable, so one per call. */
export function authorizationMetadata(secret: string): Metadata {
  const metadata = new Metadata();
  metadata.set(authorizationKey, bearer(secret));
  return metadata;
}

/**
 * Returns a check for incoming calls. Both sides are hashed before the constant-time compare, so
 * neither the content nor the length of the secret leaks through timing.
 */
export function createAuthorizationCheck(secret: string): (metadata: Metadata) => boolean {
  assertClusterSecret(secret);
  const expected = digest(bearer(secret));
  return (metadata) => {
    const values = metadata.get(authorizationKey);
    const value = values[0];
    if (values.length !== 1 || typeof value !== 'string') return false;
    return timingSafeEqual(digest(value), expected);
  };
}
