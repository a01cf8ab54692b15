import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelRateLimiters } from './rate-limiter.ts';

describe('ModelRateLimiters', () => {
  it('allows a burst of `limit` calls, then refills at limit per unit', () => {
    let now = 0n;
    const limiters = new ModelRateLimiters(() => now);
    const limiter = { limit: '4', unit: 'MINUTES' as const };
    const outcomes = Array.from({ length: 6 }, () => limiters.tryAcquire('m', limiter));
    assert.deepEqual(outcomes, [true, true, true, true, false, false]);
    now += 15_000_000_000n; // a quarter minute refills one token
    assert.equal(limiters.tryAcquire('m', limiter), true);
    assert.equal(limiters.tryAcquire('m', limiter), false);
  });

  it('splits the limit across eligible nodes with a capacity of at least one', () => {
    let now = 0n;
    const limiters = new ModelRateLimiters(() => now);
    const limiter = { limit: '1', unit: 'SECONDS' as const };
    assert.equal(limiters.tryAcquire('m', limiter, 4), true);
    assert.equal(limiters.tryAcquire('m', limiter, 4), false);
    now += 3_999_999_999n;
    assert.equal(limiters.tryAcquire('m', limiter, 4), false);
    now += 1n;
    assert.equal(limiters.tryAcquire('m', limiter, 4), true);
  });

  it('limit 0 refuses everything after the minimum burst of one', () => {
    const limiters = new ModelRateLimiters(() => 0n);
    const limiter = { limit: '0', unit: 'SECONDS' as const };
    assert.equal(limiters.tryAcquire('m', limiter), true);
    assert.equal(limiters.tryAcquire('m', limiter), false);
  });

  it('rebuilds the bucket when the limit changes and keeps models apart', () => {
    const limiters = new ModelRateLimiters(() => 0n);
    assert.equal(limiters.tryAcquire('a', { limit: '1', unit: 'HOURS' }), true);
    assert.equal(limiters.tryAcquire('a', { limit: '1', unit: 'HOURS' }), false);
    assert.equal(limiters.tryAcquire('b', { limit: '1', unit: 'HOURS' }), true);
    assert.equal(limiters.tryAcquire('a', { limit: '2', unit: 'HOURS' }), true);
    assert.equal(limiters.tryAcquire('a', undefined), true);
  });
});
