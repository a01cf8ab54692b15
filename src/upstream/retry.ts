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
 *
 * Sluice further honours the provider's `Retry-After` / `retry-after-ms` on a retried answer:
 * the wait is max(backoff, that delay). A header only ever lengthens the wait, so without one (or
 * with a short one) the schedule above is unchanged. Waiting is pointless when the next attempt
 * could start only after the budget, or after the caller's own deadline: the current failure is
 * then final at once, instead of a sleep that ends in a timeout.
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

// Java int arithmetic caps these delays; keeping the cap avoids absurd (or infinite) waits. It is
// also the longest timeout Node can set (longer ones fire after 1 ms).
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
  /**
   * How long the provider asked to wait before trying again (see `parseRetryAfter`), in
   * milliseconds. Only results carry it: a thrown error never holds a provider's answer, since a
   * non-2xx answer is a result until the retries are over.
   */
  retryAfterOf?: (result: T) => number | undefined;
  /**
   * Milliseconds after the first attempt at which the caller stops waiting anyway (e.g. its
   * first-token deadline). A retry that could start only then or later is not made.
   */
  deadlineMilliseconds?: number | undefined;
}

type HeaderValues = Readonly<Record<string, string | string[] | undefined>>;

// RFC 9110 section 5.6.7; the obsolete RFC 850 and asctime forms are not accepted. The pattern
// matters: Date.parse alone reads "1" or "-5" as dates.
const imfFixdate =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
// Fractions are accepted as the OpenAI SDK does; a sign is not, so a negative value is ignored.
const unsignedNumber = /^\d+(?:\.\d+)?$/;

function singleValue(value: string | string[] | undefined): string | undefined {
  return (Array.isArray(value) ? value[0] : value)?.trim();
}

function unsignedNumberOf(value: string | undefined): number | undefined {
  return value !== undefined && unsignedNumber.test(value) ? Number(value) : undefined;
}

/**
 * The wait a provider asks for before the next attempt, in whole milliseconds, or undefined when
 * it names none or an unusable one:
 * - `retry-after-ms` (OpenAI, Azure OpenAI): milliseconds; wins over `Retry-After` when valid.
 * - `Retry-After` (RFC 9110 section 10.2.3; Anthropic and most others): delta-seconds, or an
 *   IMF-fixdate compared with `now` (wall-clock milliseconds, as `Date.now()`); a past date is 0.
 *
 * Huge values come back as they are (`Infinity` for an absurdly long digit run): capping them here
 * would turn "come back in a week" into an early retry. The retry loop treats any wait past its
 * budget as "no retry". `headers` names are lower-case, as undici hands them out.
 */
export function parseRetryAfter(headers: HeaderValues, now: number): number | undefined {
  const milliseconds = unsignedNumberOf(singleValue(headers['retry-after-ms']));
  if (milliseconds !== undefined) return Math.ceil(milliseconds);
  const value = singleValue(headers['retry-after']);
  if (value === undefined) return undefined;
  const seconds = unsignedNumberOf(value);
  if (seconds !== undefined) return Math.ceil(seconds * 1000);
  if (!imfFixdate.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Runs `plan.attempt` until it succeeds, fails for good, or the retry budget is spent. When the
 * budget runs out on a retryable result (or the next attempt could start only past the budget's
 * or the caller's deadline), that result is returned (the caller reports it); on a retryable
 * error, that error is thrown.
 */
export async function runWithRetry<T>(
  config: RetryConfig,
  signal: AbortSignal,
  plan: RetryPlan<T>,
  tools: Partial<RetryTools> = {},
): Promise<T> {
  const { random, sleep, now } = { ...defaultRetryTools, ...tools };
  const started = now();
  const limits: RetryLimits = {
    config,
    budgetMilliseconds: config.retry_timeout_seconds * 1000,
    deadlineMilliseconds: plan.deadlineMilliseconds,
  };
  const waitAfter = (attemptIndex: number, retryAfter: number | undefined): number | undefined =>
    waitBeforeRetry(limits, attemptIndex, now() - started, retryAfter, random);
  for (let attemptIndex = 0; ; attemptIndex += 1) {
    if (signal.aborted) throw cancellationError(signal);
    let result: T;
    try {
      result = await plan.attempt(attemptIndex);
    } catch (error) {
      if (signal.aborted) throw cancellationError(signal);
      const retryable = ServiceError.isInstance(error) && error.retryable;
      const wait = retryable ? waitAfter(attemptIndex, undefined) : undefined;
      if (wait === undefined) throw error;
      await sleep(wait, signal);
      continue;
    }
    if (!plan.shouldRetryResult(result)) return result;
    const wait = waitAfter(attemptIndex, plan.retryAfterOf?.(result));
    if (wait === undefined) return result;
    plan.discardResult?.(result);
    await sleep(wait, signal);
  }
}

interface RetryLimits {
  config: RetryConfig;
  budgetMilliseconds: number;
  deadlineMilliseconds: number | undefined;
}

/** The wait before the next attempt after a retryable failure, or undefined for none. */
function waitBeforeRetry(
  limits: RetryLimits,
  attemptIndex: number,
  elapsedMilliseconds: number,
  retryAfter: number | undefined,
  random: () => number,
): number | undefined {
  const { config, budgetMilliseconds, deadlineMilliseconds } = limits;
  if (!mayRetry(config, attemptIndex, elapsedMilliseconds, budgetMilliseconds)) return undefined;
  const backoff = backoffDelay(config, attemptIndex, random);
  let wait = backoff;
  // `retryAfter > backoff` is false for NaN too: a value that cannot be compared is ignored.
  if (retryAfter !== undefined && retryAfter > backoff) {
    // Past the budget or beyond any timer (Node fires longer timeouts at once): no retry.
    const endsPastBudget = elapsedMilliseconds + retryAfter > budgetMilliseconds;
    if (endsPastBudget || retryAfter > maxDelayMilliseconds) return undefined;
    wait = retryAfter;
  }
  if (deadlineMilliseconds !== undefined && elapsedMilliseconds + wait >= deadlineMilliseconds) {
    return undefined;
  }
  return wait;
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
