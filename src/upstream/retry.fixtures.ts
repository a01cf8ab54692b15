/** Shared by the retry tests: configs, a fake clock that moves only when the loop sleeps. */
import { type ClientConfig, defaultClientConfig } from '../domain/connector.ts';
import { ServiceError } from '../domain/errors.ts';
import type { RetryTools } from './retry.ts';

export const lowest = (): number => 0;
export const highest = (): number => 1 - Number.EPSILON;

export function config(overrides: Partial<ClientConfig>): ClientConfig {
  return { ...defaultClientConfig, ...overrides };
}

/** A clock that only moves when the retry loop sleeps; records every wait. */
export function fakeTools(random: () => number = lowest): RetryTools & { waits: number[] } {
  let clock = 0;
  const waits: number[] = [];
  return {
    waits,
    random,
    now: () => clock,
    sleep: async (milliseconds, signal) => {
      if (signal.aborted) throw new ServiceError('canceled', 'The request was cancelled');
      waits.push(milliseconds);
      clock += milliseconds;
    },
  };
}

export const retryable = (): ServiceError =>
  new ServiceError('upstream_unavailable', 'Connection to remote service failed: x', {
    retryable: true,
  });
