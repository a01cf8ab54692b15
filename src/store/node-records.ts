/**
 * What both stores check before writing a node's heartbeat. The record comes from the node's
 * own membership loop, so a failure here is a bug in the caller: it is refused as bad_request
 * with the field named, instead of surfacing as an opaque database type error.
 */
import { badRequest } from '../domain/errors.ts';
import type { NodeRecord } from './store.ts';

const knownRoles: readonly string[] = ['coordinator', 'ml'] satisfies NodeRecord['roles'];

export function checkNodeRecord(node: NodeRecord): void {
  for (const field of ['startedAt', 'lastSeen', 'leaseExpiresAt', 'activeStreams'] as const) {
    const value = node[field];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw badRequest(`Node ${field} must be a non-negative integer; got ${value}`);
    }
  }
  for (const role of node.roles) {
    if (!knownRoles.includes(role)) throw badRequest(`Unknown node role: ${role}`);
  }
}

/** Narrows a stored role list back to the declared type, dropping anything unknown. */
export function toRoles(values: readonly unknown[]): NodeRecord['roles'] {
  return values.filter((value): value is NodeRecord['roles'][number] =>
    knownRoles.includes(String(value)),
  );
}
