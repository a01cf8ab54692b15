import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import { config, fakeTools, highest, lowest, retryable } from './retry.fixtures.ts';
import { abortableSleep, backoffDelay, isRetryableStatus, runWithRetry } from './retry.ts';

describe('backoffDelay', () => {
  it('constant: the base every time', () => {
    const policy = config({ retry_backoff_policy: 'constant', retry_backoff_millis: 200 });
    for (const index of [0, 1, 5, 40]) {
      assert.equal(backoffDelay(policy, index, lowest), 200);
      assert.equal(backoffDelay(policy, index, highest), 200);
    }
  });

  it('exponential_equal_jitter: half of base*2^n plus up to the other half', () => {
    const policy = config({
      retry_backoff_policy: 'exponential_equal_jitter',
      retry_backoff_millis: 100,
      retry_timeout_seconds: 30,
    });
    for (const index of [0, 1, 2, 3]) {
      const exponential = 100 * 2 ** index;
      assert.equal(backoffDelay(policy, index, lowest), exponential / 2);
      assert.equal(backoffDelay(policy, index, highest), exponential);
    }
  });

  it('exponential_equal_jitter: capped by retry_timeout_seconds', () => {
    const policy = config({
      retry_backoff_policy: 'exponential_equal_jitter',
      retry_backoff_millis: 1000,
      retry_timeout_seconds: 5,
    });
    assert.equal(backoffDelay(policy, 10, lowest), 2500);
    assert.equal(backoffDelay(policy, 10, highest), 5000);
    assert.equal(backoffDelay(policy, 500, highest), 5000);
  });

  it('exponential_full_jitter: between 1 and base*2^n', () => {
    const policy = config({
      retry_backoff_policy: 'exponential_full_jitter',
      retry_backoff_millis: 100,
    });
    for (const index of [0, 1, 2, 3]) {
      assert.equal(backoffDelay(policy, index, lowest), 1);
      assert.equal(backoffDelay(policy, index, highest), 100 * 2 ** index);
    }
    assert.equal(backoffDelay(policy, 100, highest), 2_147_483_647);
  });

  it('a zero base never waits', () => {
    for (const policy of [
      'constant',
      'exponential_equal_jitter',
      'exponential_full_jitter',
    ] as const) {
      const zero = config({ retry_backoff_policy: policy, retry_backoff_millis: 0 });
      assert.equal(backoffDelay(zero, 3, highest), 0);
    }
  });
});

describe('isRetryableStatus', () => {
  it('retries 429 and 5xx only', () => {
    assert.deepEqual(
      [200, 400, 401, 403, 404, 408, 409, 429, 500, 502, 503, 504, 599].map(isRetryableStatus),
      [false, false, false, false, false, false, false, true, true, true, true, true, true],
    );
  });
});

describe('runWithRetry', () => {
  const signal = new AbortController().signal;

  it('returns the last retryable result once max_retry_times is spent', async () => {
    const tools = fakeTools();
    let attempts = 0;
    const result = await runWithRetry(
      config({ max_retry_times: 2, retry_backoff_millis: 50 }),
      signal,
      { attempt: async () => 500 + attempts++, shouldRetryResult: (status) => status >= 500 },
      tools,
    );
    assert.equal(attempts, 3);
    assert.equal(result, 502);
    assert.deepEqual(tools.waits, [50, 50]);
  });

  it('0 means no retry at all', async () => {
    let attempts = 0;
    await assert.rejects(
      runWithRetry(config({ max_retry_times: 0 }), signal, {
        attempt: async () => {
          attempts += 1;
          throw retryable();
        },
        shouldRetryResult: () => false,
      }),
      /Connection to remote service failed/,
    );
    assert.equal(attempts, 1);
  });

  it('-1 retries until retry_timeout_seconds has passed', async () => {
    const tools = fakeTools();
    let attempts = 0;
    await assert.rejects(
      runWithRetry(
        config({ max_retry_times: -1, retry_backoff_millis: 200, retry_timeout_seconds: 1 }),
        signal,
        {
          attempt: async () => {
            attempts += 1;
            throw retryable();
          },
          shouldRetryResult: () => false,
        },
        tools,
      ),
      /Connection to remote service failed/,
    );
    // Failures at 0, 200, …, 800 ms are retried; the one at 1000 ms is final.
    assert.equal(attempts, 6);
    assert.deepEqual(tools.waits, [200, 200, 200, 200, 200]);
  });

  it('never retries errors that are not marked retryable', async () => {
    let attempts = 0;
    await assert.rejects(
      runWithRetry(config({ max_retry_times: 5 }), signal, {
        attempt: async () => {
          attempts += 1;
          throw new ServiceError('bad_request', 'no');
        },
        shouldRetryResult: () => false,
      }),
      /no/,
    );
    assert.equal(attempts, 1);
  });

  it('discards dropped results and passes growing retry indexes to the policy', async () => {
    const tools = fakeTools(highest);
    const discarded: number[] = [];
    let attempts = 0;
    const result = await runWithRetry(
      config({
        max_retry_times: 3,
        retry_backoff_policy: 'exponential_full_jitter',
        retry_backoff_millis: 10,
      }),
      signal,
      {
        attempt: async () => (attempts++ < 3 ? 503 : 200),
        shouldRetryResult: (status) => status === 503,
        discardResult: (status) => discarded.push(status),
      },
      tools,
    );
    assert.equal(result, 200);
    assert.deepEqual(discarded, [503, 503, 503]);
    assert.deepEqual(tools.waits, [10, 20, 40]);
  });

  it('does not retry once the signal fired', async () => {
    const controller = new AbortController();
    let attempts = 0;
    await assert.rejects(
      runWithRetry(
        config({ max_retry_times: 5 }),
        controller.signal,
        {
          attempt: async () => {
            attempts += 1;
            controller.abort();
            throw retryable();
          },
          shouldRetryResult: () => false,
        },
        fakeTools(),
      ),
      (error: unknown) => ServiceError.isInstance(error) && error.code === 'canceled',
    );
    assert.equal(attempts, 1);
  });
});

describe('abortableSleep', () => {
  it('rejects at once on abort and leaves no listener behind', async () => {
    const controller = new AbortController();
    const sleeping = abortableSleep(60_000, controller.signal);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    controller.abort();
    await assert.rejects(sleeping, (error: unknown) => {
      return ServiceError.isInstance(error) && error.code === 'canceled';
    });
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  it('removes its listener when the wait ends normally', async () => {
    const controller = new AbortController();
    await abortableSleep(1, controller.signal);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });

  it('passes a ServiceError reason through and maps TimeoutError to timeout', async () => {
    const reason = new ServiceError('timeout', 'First token did not arrive');
    await assert.rejects(
      abortableSleep(10, AbortSignal.abort(reason)),
      (error) => error === reason,
    );
    const timedOut = AbortSignal.abort(new DOMException('late', 'TimeoutError'));
    await assert.rejects(abortableSleep(10, timedOut), (error: unknown) => {
      return ServiceError.isInstance(error) && error.code === 'timeout';
    });
  });
});
