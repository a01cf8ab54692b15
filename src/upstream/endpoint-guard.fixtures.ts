/** Shared by the endpoint-guard tests: address policies and the bad-request matcher. */
import assert from 'node:assert/strict';
import { ServiceError } from '../domain/errors.ts';
import type { AddressPolicy } from './endpoint-guard.ts';

/** ml-commons' defaults: private addresses refused, no private-endpoint or restricted patterns. */
export const closedPolicy: AddressPolicy = {
  privateIpEnabled: false,
  trustedPrivateEndpointsRegex: [],
  restrictedIpPatterns: [],
};

export const privatePolicy: AddressPolicy = { ...closedPolicy, privateIpEnabled: true };

export function badRequestWith(pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(ServiceError.isInstance(error), 'expected a ServiceError');
    assert.equal(error.code, 'bad_request');
    assert.match(error.message, pattern);
    return true;
  };
}
