/**
 * Scenarios 3-4: stalls among 1,000 paced streams, and unpaced throughput. Each runs the same
 * load against every target, one after the other.
 */
import { type BenchContext, type Row, ratio, type ScenarioResult, verdictOf } from './context.ts';
import { runForDuration, runStream, type StreamRecord } from './load.ts';
import { defaultShape, type StreamShape } from './protocol.ts';
import {
  completeCount,
  countRow,
  cpuRow,
  failureSamples,
  latencyRatioRow,
  type PacedRun,
  pacedRounds,
  pacedShape,
  perTarget,
  pick,
  stallThresholdMs,
  ttftsOf,
  withCpu,
} from './scenario-kit.ts';
import { distribution, roundedDistribution } from './stats.ts';

function stallPositions(records: readonly StreamRecord[]): Record<string, number> {
  const buckets: Record<string, number> = {};
  for (const record of records) {
    if (record.maxGapMs <= stallThresholdMs) continue;
    const from = Math.floor((record.maxGapBeforeToken - 1) / 8) * 8 + 1;
    const key = `tokens ${from}-${from + 7}`;
    buckets[key] = (buckets[key] ?? 0) + 1;
  }
  return buckets;
}

export async function stallsAtThousand(context: BenchContext): Promise<ScenarioResult> {
  const scenario = '3. 1,000 paced streams';
  const shape = pacedShape;
  const concurrency = 1000;
  context.log(`${scenario}: ${concurrency} streams started together`);
  const measured = await perTarget(context, (target) =>
    withCpu(context, target, () => pacedRounds(target, shape, concurrency, 1)),
  );
  const stalled = (run: PacedRun) =>
    run.records.filter((record) => record.maxGapMs > stallThresholdMs).length;
  const rows: Row[] = [
    countRow(
      scenario,
      `streams with a gap > ${stallThresholdMs} ms`,
      pick(measured, stalled),
      concurrency,
      'zero',
      (value) => value === 0,
    ),
    countRow(
      scenario,
      'complete streams',
      pick(measured, (value) => completeCount(value.records, shape.events)),
      concurrency,
      'all',
      (value) => value === concurrency,
    ),
    latencyRatioRow(
      scenario,
      'largest gap between events',
      pick(measured, (value) => distribution(value.gaps).max),
      undefined,
    ),
    latencyRatioRow(
      scenario,
      'TTFT p99',
      pick(measured, (value) => value.ttft.p99),
      undefined,
    ),
    cpuRow(scenario, measured),
  ];
  return {
    name: 'stalls-1000',
    rows,
    details: {
      shape,
      concurrency,
      stallThresholdMs,
      stalledStreams: pick(measured, stalled),
      // Where in the stream the stalls happened: at the start (while 1,000 requests are being
      // set up) or later (falling behind the pace).
      stallsByToken: pick(measured, (value) => stallPositions(value.records)),
      cpuMsPerStream: pick(measured, (value) => value.cpu),
      ttftMs: pick(measured, (value) => roundedDistribution(ttftsOf(value.records))),
      gapMs: pick(measured, (value) => roundedDistribution(value.gaps)),
      failures: pick(measured, (value) => failureSamples(value.records)),
    },
  };
}

export async function unpacedThroughput(context: BenchContext): Promise<ScenarioResult> {
  const scenario = '4. Unpaced throughput';
  const shape: StreamShape = { ...defaultShape, events: 64 };
  const concurrency = 64;
  const durationMs = context.quick ? 2_000 : 10_000;
  context.log(
    `${scenario}: ${concurrency} concurrent streams of ${shape.events} events for ${durationMs} ms`,
  );
  const measured = await perTarget(context, async (target) => {
    await runForDuration(1_000, concurrency, () => runStream(target, { shape }));
    const run = await withCpu(context, target, () =>
      runForDuration(durationMs, concurrency, () => runStream(target, { shape })),
    );
    const complete = completeCount(run.records, shape.events);
    return {
      cpu: run.cpu,
      streamsPerSecond: (complete * 1000) / run.elapsedMs,
      eventsPerSecond: (complete * shape.events * 1000) / run.elapsedMs,
      failed: run.records.length - complete,
      started: run.records.length,
      failures: failureSamples(run.records),
    };
  });
  const rate = pick(measured, (value) => value.streamsPerSecond);
  const measuredRatio = ratio(rate.sluice, rate.direct);
  const show = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(0));
  const rows: Row[] = [
    {
      scenario,
      metric: 'streams/s',
      direct: show(rate.direct),
      sluice: show(rate.sluice),
      comparison: measuredRatio === undefined ? 'n/a' : `${(measuredRatio * 100).toFixed(0)} %`,
      target: '≥ 60 % of direct',
      verdict: verdictOf(measuredRatio === undefined ? undefined : measuredRatio >= 0.6),
    },
    {
      scenario,
      metric: 'content events/s',
      direct: show(measured.direct?.eventsPerSecond),
      sluice: show(measured.sluice?.eventsPerSecond),
      comparison: '',
      target: '—',
      verdict: 'info',
    },
    {
      scenario,
      metric: 'failed streams',
      direct: String(measured.direct?.failed ?? 'n/a'),
      sluice: String(measured.sluice?.failed ?? 'n/a'),
      comparison: '',
      target: 'zero',
      verdict: verdictOf(measured.sluice === undefined ? undefined : measured.sluice.failed === 0),
    },
    cpuRow(scenario, measured),
  ];
  return {
    name: 'throughput-unpaced',
    rows,
    details: { shape, concurrency, durationMs, measured },
  };
}
