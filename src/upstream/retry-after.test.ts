import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import { config, fakeTools, retryable } from './retry.fixtures.ts';
import { abortableSleep, parseRetryAfter, runWithRetry } from './retry.ts';

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
  const parse = (headers: Record<string, string | string[]>): number | undefined =>
    parseRetryAfter(headers, now);

  it('reads delta-seconds, trimmed, fractions rounded up to a millisecond', () => {
    assert.equal(parse({ 'retry-after': '2' }), 2000);
    assert.equal(parse({ 'retry-after': ' 3 ' }), 3000);
    assert.equal(parse({ 'retry-after': '0' }), 0);
    assert.equal(parse({ 'retry-after': '1.5' }), 1500);
    assert.equal(parse({ 'retry-after': '0.0001' }), 1);
  });

  it('reads an IMF-fixdate against the wall clock; a past date is 0', () => {
    assert.equal(parse({ 'retry-after': 'Wed, 21 Oct 2015 07:28:30 GMT' }), 30_000);
    assert.equal(parse({ 'retry-after': 'Wed, 21 Oct 2015 07:27:00 GMT' }), 0);
    assert.equal(parse({ 'retry-after': 'Sun, 06 Nov 1994 08:49:37 GMT' }), 0);
  });

  it('prefers a valid retry-after-ms, and falls back to Retry-After when it is not', () => {
    assert.equal(parse({ 'retry-after-ms': '150', 'retry-after': '5' }), 150);
    assert.equal(parse({ 'retry-after-ms': '150.2' }), 151);
    assert.equal(parse({ 'retry-after-ms': 'soon', 'retry-after': '2' }), 2000);
    assert.equal(parse({ 'retry-after-ms': '-100', 'retry-after': '1' }), 1000);
  });

  it('ignores garbage and negative values', () => {
    for (const value of [
      '',
      'soon',
      '-5',
      '-0.5',
      '+5',
      '1e3',
      '0x10',
      'NaN',
      'Infinity',
      '2015-10-21T07:28:30Z',
      'Oct 21 2015',
      'Wed, 21 Oct 2015 07:28:30 PST',
      'Wednesday, 21-Oct-15 07:28:30 GMT',
    ]) {
      assert.equal(parse({ 'retry-after': value }), undefined, `Retry-After: ${value}`);
      assert.equal(parse({ 'retry-after-ms': value }), undefined, `retry-after-ms: ${value}`);
    }
    assert.equal(parse({}), undefined);
  });

  it('returns huge values as they are, for the retry loop to refuse', () => {
    assert.equal(parse({ 'retry-after': '864000' }), 864_000_000);
    assert.equal(parse({ 'retry-after': '9'.repeat(400) }), Number.POSITIVE_INFINITY);
    const farFuture = parse({ 'retry-after': 'Fri, 31 Dec 9999 23:59:59 GMT' }) ?? 0;
    assert.ok(farFuture > 1e14);
  });

  it('takes the first of repeated headers', () => {
    assert.equal(parse({ 'retry-after': ['2', '7'] }), 2000);
  });
});

describe('runWithRetry with Retry-After', () => {
  const signal = new AbortController().signal;
  interface Answer {
    status: number;
    retryAfter?: number;
  }
  /** Answers in order, then 200; counts attempts and discarded answers. */
  function answers(...planned: Answer[]) {
    const discarded: Answer[] = [];
    let attempts = 0;
    return {
      discarded,
      attempts: () => attempts,
      attempt: async (): Promise<Answer> => planned[attempts++] ?? { status: 200 },
      shouldRetryResult: (answer: Answer) => answer.status !== 200,
      discardResult: (answer: Answer) => discarded.push(answer),
      retryAfterOf: (answer: Answer) => answer.retryAfter,
    };
  }

  it('waits max(backoff, Retry-After)', async () => {
    const tools = fakeTools();
    const plan = answers(
      { status: 429, retryAfter: 500 },
      { status: 429, retryAfter: 50 },
      { status: 503 },
      { status: 429, retryAfter: Number.NaN },
    );
    const result = await runWithRetry(
      config({ max_retry_times: 5, retry_backoff_millis: 200 }),
      signal,
      plan,
      tools,
    );
    assert.equal(result.status, 200);
    assert.deepEqual(tools.waits, [500, 200, 200, 200]);
    assert.equal(plan.discarded.length, 4);
  });

  it('gives up at once when Retry-After ends past the budget, returning that answer', async () => {
    const tools = fakeTools();
    const throttled = { status: 429, retryAfter: 31_000 };
    const plan = answers(throttled);
    const result = await runWithRetry(
      config({ max_retry_times: 5, retry_timeout_seconds: 30 }),
      signal,
      plan,
      tools,
    );
    assert.equal(result, throttled);
    assert.equal(plan.attempts(), 1);
    assert.deepEqual(tools.waits, []);
    assert.deepEqual(plan.discarded, []);
  });

  it('counts the time already spent against the budget', async () => {
    const tools = fakeTools();
    const plan = answers({ status: 503 }, { status: 429, retryAfter: 700 });
    const result = await runWithRetry(
      config({ max_retry_times: -1, retry_backoff_millis: 400, retry_timeout_seconds: 1 }),
      signal,
      plan,
      tools,
    );
    // 400 ms spent, then 700 more would end at 1100 ms: past the 1 s budget.
    assert.equal(result.status, 429);
    assert.deepEqual(tools.waits, [400]);
  });

  it('never sleeps longer than a timer can, whatever the budget', async () => {
    const tools = fakeTools();
    const plan = answers({ status: 429, retryAfter: 3_000_000_000 });
    const result = await runWithRetry(
      config({ max_retry_times: 1, retry_timeout_seconds: 1e9 }),
      signal,
      plan,
      tools,
    );
    assert.equal(result.status, 429);
    assert.deepEqual(tools.waits, []);
  });

  it("makes no retry that could start only after the caller's deadline", async () => {
    const tools = fakeTools();
    const plan = answers({ status: 429, retryAfter: 900 }, { status: 503 });
    const result = await runWithRetry(
      config({ max_retry_times: 5, retry_backoff_millis: 200 }),
      signal,
      { ...plan, deadlineMilliseconds: 1000 },
      tools,
    );
    // The 429 is retried at 900 ms; the 503 there would wait until 1100 ms.
    assert.equal(result.status, 503);
    assert.deepEqual(tools.waits, [900]);

    const erring = fakeTools();
    let attempts = 0;
    await assert.rejects(
      runWithRetry(
        config({ max_retry_times: 5, retry_backoff_millis: 600 }),
        signal,
        {
          attempt: async () => {
            attempts += 1;
            throw retryable();
          },
          shouldRetryResult: () => false,
          deadlineMilliseconds: 1000,
        },
        erring,
      ),
      /Connection to remote service failed/,
    );
    assert.equal(attempts, 2);
    assert.deepEqual(erring.waits, [600]);
  });

  it('an abort during a Retry-After wait rejects at once and leaves no listener', async () => {
    const controller = new AbortController();
    const waits: number[] = [];
    const started = performance.now();
    await assert.rejects(
      runWithRetry(
        config({ max_retry_times: 1 }),
        controller.signal,
        answers({ status: 429, retryAfter: 20_000 }),
        {
          sleep: (milliseconds, sleepSignal) => {
            waits.push(milliseconds);
            const sleeping = abortableSleep(milliseconds, sleepSignal);
            setTimeout(() => controller.abort(), 10);
            return sleeping;
          },
        },
      ),
      (error: unknown) => ServiceError.isInstance(error) && error.code === 'canceled',
    );
    assert.deepEqual(waits, [20_000]);
    assert.ok(performance.now() - started < 1000);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
  });
});
