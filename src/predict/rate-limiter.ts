/**
 * Per-model `rate_limiter` as ml-commons implements it (MLModelManager#createTokenBucket): a token
 * bucket whose rate is limit / unit / eligibleNodeCount per nanosecond and whose capacity is
 * max(limit / eligibleNodeCount, 1). Buckets are per model and rebuilt when the limit changes.
 */
import type { RateLimiter, TimeUnit } from '../domain/model.ts';

const nanosecondsPerUnit: Record<TimeUnit, number> = {
  NANOSECONDS: 1,
  MICROSECONDS: 1e3,
  MILLISECONDS: 1e6,
  SECONDS: 1e9,
  MINUTES: 60e9,
  HOURS: 3600e9,
  DAYS: 86_400e9,
};

interface Bucket {
  key: string;
  tokens: number;
  capacity: number;
  tokensPerNanosecond: number;
  refilledAt: bigint;
}

export class ModelRateLimiters {
  readonly #buckets = new Map<string, Bucket>();
  readonly #clock: () => bigint;

  constructor(clock: () => bigint = process.hrtime.bigint) {
    this.#clock = clock;
  }

  /** Takes one token; false means the call must be refused (429). */
  tryAcquire(modelId: string, limiter: RateLimiter | undefined, eligibleNodeCount = 1): boolean {
    if (limiter === undefined) {
      this.#buckets.delete(modelId);
      return true;
    }
    const nodes = Math.max(1, eligibleNodeCount);
    const key = `${limiter.limit}/${limiter.unit}/${nodes}`;
    const now = this.#clock();
    let bucket = this.#buckets.get(modelId);
    if (bucket === undefined || bucket.key !== key) {
      const limit = Number(limiter.limit);
      const capacity = Math.max(limit / nodes, 1);
      bucket = {
        key,
        tokens: capacity,
        capacity,
        tokensPerNanosecond: limit / nanosecondsPerUnit[limiter.unit] / nodes,
        refilledAt: now,
      };
      this.#buckets.set(modelId, bucket);
    }
    const elapsed = Number(now - bucket.refilledAt);
    bucket.tokens = Math.min(bucket.capacity, bucket.tokens + elapsed * bucket.tokensPerNanosecond);
    bucket.refilledAt = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  forget(modelId: string): void {
    this.#buckets.delete(modelId);
  }
}
