/**
 * What the throughput and latency scenarios share: running one load against each target,
 * gathering timings and CPU, and turning pairs of numbers into table rows.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type BenchContext,
  cpuPerStream,
  cpuSnapshot,
  formatRatio,
  milliseconds,
  type Row,
  ratio,
  signed,
  verdictOf,
} from './context.ts';
import { runMany, runStream, type StreamRecord, type Target, type TargetName } from './load.ts';
import { defaultShape, type StreamShape } from './protocol.ts';
import { type Distribution, distribution } from './stats.ts';

/**
 * The paced stream of scenarios 2 and 3: 64 events 20 ms apart, the first one also 20 ms after
 * the request, as a model decoding at 50 tokens/s would send them. With a first event at 0 ms,
 * "10 % over direct" would compare Sluice against a bare loopback round trip (~0.4 ms).
 */
export const pacedShape: StreamShape = {
  ...defaultShape,
  events: 64,
  paceMs: 20,
  firstDelayMs: 20,
};

/** A gap over this between two content events is a stall. */
export const stallThresholdMs = 200;

export function completeCount(records: readonly StreamRecord[], events: number): number {
  return records.filter((record) => record.end === 'complete' && record.tokens === events).length;
}

export function ttftsOf(records: readonly StreamRecord[]): number[] {
  return records.flatMap((record) => (record.ttftMs === undefined ? [] : [record.ttftMs]));
}

/** A few failures are worth a look; all of them would flood the JSON. */
export function failureSamples(records: readonly StreamRecord[]): StreamRecord[] {
  return records.filter((record) => record.end !== 'complete').slice(0, 5);
}

export interface Pair<T> {
  direct: T | undefined;
  sluice: T | undefined;
}

export async function perTarget<T>(
  context: BenchContext,
  run: (target: Target) => Promise<T>,
): Promise<Pair<T>> {
  const pair: Pair<T> = { direct: undefined, sluice: undefined };
  for (const target of context.targets) {
    context.log(`  ${target.name}`);
    pair[target.name] = await run(target);
  }
  return pair;
}

export function pick<T, V>(
  pair: Pair<T>,
  read: (value: T) => V,
): Record<TargetName, V | undefined> {
  return {
    direct: pair.direct === undefined ? undefined : read(pair.direct),
    sluice: pair.sluice === undefined ? undefined : read(pair.sluice),
  };
}

/** A latency row whose target is "Sluice at most `allowedRatio` × direct". */
export function latencyRatioRow(
  scenario: string,
  metric: string,
  values: Record<TargetName, number | undefined>,
  allowedRatio: number | undefined,
): Row {
  const measured = ratio(values.sluice, values.direct);
  const over = allowedRatio === undefined ? undefined : Math.round((allowedRatio - 1) * 100);
  return {
    scenario,
    metric,
    direct: milliseconds(values.direct),
    sluice: milliseconds(values.sluice),
    comparison: `${formatRatio(measured)} (${signed(
      values.sluice === undefined || values.direct === undefined
        ? undefined
        : values.sluice - values.direct,
    )})`,
    target: over === undefined ? '—' : `≤ ${over} % over direct`,
    verdict: verdictOf(
      allowedRatio === undefined || measured === undefined ? undefined : measured <= allowedRatio,
    ),
  };
}

export function countRow(
  scenario: string,
  metric: string,
  values: Record<TargetName, number | undefined>,
  total: number,
  target: string,
  pass: ((value: number) => boolean) | undefined,
): Row {
  const show = (value: number | undefined) => (value === undefined ? 'n/a' : `${value}/${total}`);
  return {
    scenario,
    metric,
    direct: show(values.direct),
    sluice: show(values.sluice),
    comparison: '',
    target,
    verdict: verdictOf(
      pass === undefined || values.sluice === undefined ? undefined : pass(values.sluice),
    ),
  };
}

export type CpuPerStream = ReturnType<typeof cpuPerStream>;

/** Runs `measure` and reports the CPU each process spent per stream meanwhile. */
export async function withCpu<T extends { records: StreamRecord[] }>(
  context: BenchContext,
  target: Target,
  measure: () => Promise<T>,
): Promise<T & { cpu: CpuPerStream }> {
  const before = cpuSnapshot(context);
  const result = await measure();
  const cpu = cpuPerStream(
    before,
    cpuSnapshot(context),
    result.records.length,
    target.name === 'sluice',
  );
  return { ...result, cpu };
}

export function cpuRow(scenario: string, pair: Pair<{ cpu: CpuPerStream }>): Row {
  return {
    scenario,
    metric: 'CPU ms per stream: load generator / mock / Sluice',
    direct: pair.direct?.cpu.text ?? 'n/a',
    sluice: pair.sluice?.cpu.text ?? 'n/a',
    comparison: '',
    target: '—',
    verdict: 'info',
  };
}

export interface PacedRun {
  records: StreamRecord[];
  gaps: number[];
  ttft: Distribution;
}

/** Starts `concurrency` streams at the same moment, `rounds` times, and gathers their timings. */
export async function pacedRounds(
  target: Target,
  shape: StreamShape,
  concurrency: number,
  rounds: number,
): Promise<PacedRun> {
  const records: StreamRecord[] = [];
  const gaps: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const open = () => runStream(target, { shape, gapSink: gaps });
    records.push(...(await runMany(concurrency, concurrency, open)));
  }
  return { records, gaps, ttft: distribution(ttftsOf(records)) };
}

const goldenRatio = (Math.sqrt(5) - 1) / 2;

/**
 * Keeps `concurrency` streams in flight, their starts spread evenly over one stream's length
 * (no burst), and keeps the streams started once every worker is running: TTFT under a
 * steady load of that many streams, without the queue a simultaneous start builds.
 */
export async function steadyState(
  target: Target,
  shape: StreamShape,
  concurrency: number,
  durationMs: number,
): Promise<PacedRun> {
  const streamMs = shape.events * shape.paceMs;
  const steadyFrom = performance.now() + streamMs;
  const deadline = steadyFrom + durationMs;
  const records: StreamRecord[] = [];
  const gaps: number[] = [];
  const worker = async (index: number) => {
    // Golden-ratio offsets: evenly spread starts whose phases against the 20 ms pacing differ
    // (index × streamMs / concurrency would put 64 streams on each of only 4 phases).
    await sleep(((index * goldenRatio) % 1) * streamMs);
    while (performance.now() < deadline) {
      const steady = performance.now() >= steadyFrom;
      const record = await runStream(target, { shape, ...(steady ? { gapSink: gaps } : {}) });
      if (steady) records.push(record);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, index) => worker(index)));
  return { records, gaps, ttft: distribution(ttftsOf(records)) };
}
