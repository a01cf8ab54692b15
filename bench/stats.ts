/** Small statistics helpers: nearest-rank percentiles over samples in milliseconds. */

export interface Distribution {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted values; NaN for no values. */
function percentileOfSorted(sorted: readonly number[], percent: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = Float64Array.from(values).sort();
  const list = Array.from(sorted);
  let sum = 0;
  for (const value of list) sum += value;
  return {
    count: list.length,
    p50: percentileOfSorted(list, 50),
    p90: percentileOfSorted(list, 90),
    p99: percentileOfSorted(list, 99),
    max: list.at(-1) ?? Number.NaN,
    mean: list.length === 0 ? Number.NaN : sum / list.length,
  };
}

/** Rounds for reports: 3 decimals under 10, 1 decimal above. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  return Math.abs(value) < 10 ? Math.round(value * 1000) / 1000 : Math.round(value * 10) / 10;
}

export function roundedDistribution(values: readonly number[]): Distribution {
  const raw = distribution(values);
  return {
    count: raw.count,
    p50: round(raw.p50),
    p90: round(raw.p90),
    p99: round(raw.p99),
    max: round(raw.max),
    mean: round(raw.mean),
  };
}
