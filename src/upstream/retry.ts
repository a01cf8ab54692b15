/**
 * `client_config` retries with ml-commons semantics (RemoteConnectorExecutor#invokeRemoteServiceWithRetry
 * on OpenSearch's RetryableAction):
 *
 * - `max_retry_times`: retries after the first attempt; 0 = none, -1 = no count limit.
 * - `retry_timeout_seconds`: once this much time has passed since the first attempt, a failure
 *   is final. Checked when an attempt fails, like RetryableAction, so it bounds -1 too.
 * - `retry_backoff_policy` with `retry_backoff_millis` as base (retry index n from 0):
 *   `constant` = base; `exponential_equal_jitter` = e/2 + rand[0, e/2] with
 *   e = min(base * 2^n, retry_timeout) (BackoffPolicy.exponentialEqualJitterBackoff);
 *   `exponential_full_jitter` = rand[1, base * 2^n] (BackoffPolicy.exponentialFullJitterBackoff).
 *
 * ml-commons retries only throttling (429). Sluice also retries 5xx and failures to connect, as
 * the product decided; other 4xx are final, and nothing is retried once the caller's signal fired.
 */
import type { ClientConfig } from '../domain/connector.ts';
import { ServiceError } from '../domain/errors.ts';
import { cancellationError } from './upstream-error.ts';

/** Seams for tests: randomness, the wait between attempts and the clock. */
export interface RetryTools {
  /** Uniform in [0, 1), like Math.random. */
  random: () => number;
  /** Waits, or rejects as soon as `signal` fires. */
  sleep: (milliseconds: number, signal: AbortSignal) => Promise<void>;
  /** Milliseconds on a monotonic clock. */
  now: () => number;
}

type BackoffConfig = Pick<
  ClientConfig,
  'retry_backoff_policy' | 'retry_backoff_millis' | 'retry_timeout_seconds'
>;

type RetryConfig = BackoffConfig & Pick<ClientConfig, 'max_retry_times'>;

// Java int arithmetic caps these delays; keeping the cap avoids absurd (or infinite) waits.
const maxDelayMilliseconds = 2_147_483_647;

function randomInteger(random: () => number, exclusiveBound: number): number {
  return Math.min(exclusiveBound - 1, Math.floor(random() * exclusiveBound));
}

/** The wait before retry number `retryIndex` (0 for the first retry). */
export function backoffDelay(
  config: BackoffConfig,
  retryIndex: number,
  random: () => number,
): number {
  const base = Math.max(0, config.retry_backoff_millis);
  const grown = Math.min(base * 2 ** Math.min(retryIndex, 30), maxDelayMilliseconds);
  switch (config.retry_backoff_policy) {
    case 'exponential_equal_jitter': {
      const exponential = Math.floor(Math.min(grown, config.retry_timeout_seconds * 1000));
      const half = Math.floor(exponential / 2);
      return half + randomInteger(random, half + 1);
    }
    case 'exponential_full_jitter':
      return grown < 1 ? 0 : randomInteger(random, Math.floor(grown)) + 1;
    default:
      return base;
  }
}

/** A wait that a signal cancels at once, clearing its timer and its listener either way. */
export function abortableSleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(cancellationError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancellationError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, milliseconds);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const defaultRetryTools: RetryTools = {
  random: Math.random,
  sleep: abortableSleep,
  now: () => performance.now(),
};

/** 429 (throttled) and 5xx may succeed on a later attempt; other statuses will not. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

export interface RetryPlan<T> {
  /** One attempt; throws ServiceError (its `retryable` flag decides) or returns a result. */
  attempt: (attemptIndex: number) => Promise<T>;
  /** Whether a returned result (e.g. a 503 response) should be tried again. */
  shouldRetryResult: (result: T) => boolean;
  /** Releases a result that is dropped in favour of another attempt. */
  discardResult?: (result: T) => void;
}

/**
 * Runs `plan.attempt` until it succeeds, fails for good, or the retry budget is spent. When the
 * budget runs out on a retryable result, that result is returned (the caller reports it); on a
 * retryable error, that error is thrown.
 */
export async function runWithRetry<T>(
  config: RetryConfig,
  signal: AbortSignal,
  plan: RetryPlan<T>,
  tools: Partial<RetryTools> = {},
): Promise<T> {
  const { random, sleep, now } = { ...defaultRetryTools, ...tools };
  const started = now();
  const timeoutMilliseconds = config.retry_timeout_seconds * 1000;
  for (let attemptIndex = 0; ; attemptIndex += 1) {
    if (signal.aborted) throw cancellationError(signal);
    let result: T;
    try {
      result = await plan.attempt(attemptIndex);
    } catch (error) {
      if (signal.aborted) throw cancellationError(signal);
      const retryable = ServiceError.isInstance(error) && error.retryable;
      if (!retryable || !mayRetry(config, attemptIndex, now() - started, timeoutMilliseconds)) {
        throw error;
      }
      await sleep(backoffDelay(config, attemptIndex, random), signal);
      continue;
    }
    if (!plan.shouldRetryResult(result)) return result;
    if (!mayRetry(config, attemptIndex, now() - started, timeoutMilliseconds)) return result;
    plan.discardResult?.(result);
    await sleep(backoffDelay(config, attemptIndex, random), signal);
  }
}

function mayRetry(
  config: RetryConfig,
  attemptIndex: number,
  elapsedMilliseconds: number,
  timeoutMilliseconds: number,
): boolean {
  const retriesDone = attemptIndex;
  if (config.max_retry_times !== -1 && retriesDone >= config.max_retry_times) return false;
  return elapsedMilliseconds < timeoutMilliseconds;
}
