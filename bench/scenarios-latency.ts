/**
 * Scenarios 1-2: time to first token at concurrency 1, and with 256 paced streams (all started
 * together, then with starts spread out). Each runs the same load against every target.
 */
import {
  type BenchContext,
  milliseconds,
  type Row,
  type ScenarioResult,
  signed,
  verdictOf,
} from './context.ts';
import { runMany, runStream, sluiceTarget, type TargetName } from './load.ts';
import { defaultShape, type StreamShape } from './protocol.ts';
import {
  completeCount,
  countRow,
  cpuRow,
  failureSamples,
  latencyRatioRow,
  pacedRounds,
  pacedShape,
  perTarget,
  pick,
  steadyState,
  ttftsOf,
  withCpu,
} from './scenario-kit.ts';
import { distribution, roundedDistribution } from './stats.ts';

export async function firstTokenSequential(context: BenchContext): Promise<ScenarioResult> {
  const scenario = '1. TTFT, concurrency 1';
  const shape: StreamShape = { ...defaultShape, events: 8 };
  const count = context.quick ? 50 : 200;
  const warmup = 20;
  context.log(`${scenario}: ${count} sequential streams of ${shape.events} events`);
  const measured = await perTarget(context, async (target) => {
    await runMany(warmup, 1, () => runStream(target, { shape }));
    return withCpu(context, target, async () => {
      const records = await runMany(count, 1, () => runStream(target, { shape }));
      return { records, ttft: distribution(ttftsOf(records)) };
    });
  });
  const p50 = pick(measured, (value) => value.ttft.p50);
  const p99 = pick(measured, (value) => value.ttft.p99);
  const added = (values: Record<TargetName, number | undefined>) =>
    values.sluice === undefined || values.direct === undefined
      ? undefined
      : values.sluice - values.direct;
  const addedP50 = added(p50);
  const rows: Row[] = [
    {
      scenario,
      metric: 'TTFT p50',
      direct: milliseconds(p50.direct),
      sluice: milliseconds(p50.sluice),
      comparison: signed(addedP50),
      target: 'added p50 ≤ 1 ms',
      verdict: verdictOf(addedP50 === undefined ? undefined : addedP50 <= 1),
    },
    {
      scenario,
      metric: 'TTFT p99',
      direct: milliseconds(p99.direct),
      sluice: milliseconds(p99.sluice),
      comparison: signed(added(p99)),
      target: '—',
      verdict: 'info',
    },
    countRow(
      scenario,
      'complete streams',
      pick(measured, (value) => completeCount(value.records, shape.events)),
      count,
      'all',
      (value) => value === count,
    ),
    cpuRow(scenario, measured),
  ];
  return {
    name: 'ttft-concurrency-1',
    rows,
    details: {
      shape,
      count,
      warmup,
      cpuMsPerStream: pick(measured, (value) => value.cpu),
      ttftMs: pick(measured, (value) => roundedDistribution(ttftsOf(value.records))),
      failures: pick(measured, (value) => failureSamples(value.records)),
    },
  };
}

export async function firstTokenConcurrent(context: BenchContext): Promise<ScenarioResult> {
  const scenario = '2. TTFT, 256 paced streams';
  const shape = pacedShape;
  const concurrency = 256;
  const rounds = context.quick ? 1 : 2;
  context.log(`${scenario}: ${rounds} round(s) of ${concurrency} streams started together`);
  const measured = await perTarget(context, async (target) => {
    // One unmeasured round opens the keep-alive connections on every hop.
    await pacedRounds(target, shape, concurrency, 1);
    const burst = await withCpu(context, target, () =>
      pacedRounds(target, shape, concurrency, rounds),
    );
    const steady = await steadyState(target, shape, concurrency, context.quick ? 2_000 : 4_000);
    return { ...burst, steady };
  });
  const total = concurrency * rounds;
  const rows: Row[] = [
    latencyRatioRow(
      scenario,
      'TTFT p50, all started together',
      pick(measured, (value) => value.ttft.p50),
      1.1,
    ),
    latencyRatioRow(
      scenario,
      'TTFT p99, all started together',
      pick(measured, (value) => value.ttft.p99),
      1.1,
    ),
    latencyRatioRow(
      scenario,
      'TTFT p50, steady (starts spread, 256 in flight)',
      pick(measured, (value) => value.steady.ttft.p50),
      1.1,
    ),
    latencyRatioRow(
      scenario,
      'TTFT p99, steady (starts spread, 256 in flight)',
      pick(measured, (value) => value.steady.ttft.p99),
      1.1,
    ),
    latencyRatioRow(
      scenario,
      'gap between events p50 (paced 20 ms)',
      pick(measured, (value) => distribution(value.gaps).p50),
      undefined,
    ),
    latencyRatioRow(
      scenario,
      'gap between events p99',
      pick(measured, (value) => distribution(value.gaps).p99),
      undefined,
    ),
    countRow(
      scenario,
      'complete streams',
      pick(measured, (value) => completeCount(value.records, shape.events)),
      total,
      'all',
      (value) => value === total,
    ),
    cpuRow(scenario, measured),
  ];
  const details: Record<string, unknown> = {
    shape,
    concurrency,
    rounds,
    cpuMsPerStream: pick(measured, (value) => value.cpu),
    ttftMs: pick(measured, (value) => roundedDistribution(ttftsOf(value.records))),
    gapMs: pick(measured, (value) => roundedDistribution(value.gaps)),
    failures: pick(measured, (value) => failureSamples(value.records)),
    steady: pick(measured, (value) => ({
      streams: value.steady.records.length,
      complete: completeCount(value.steady.records, shape.events),
      ttftMs: roundedDistribution(ttftsOf(value.steady.records)),
      gapMs: roundedDistribution(value.steady.gaps),
    })),
  };
  if (context.sluice !== undefined && !context.quick) {
    // The connector as registered without client_config: ml-commons' default pool of 30.
    context.log(`  sluice with the default client_config (max_connection 256)`);
    const target = sluiceTarget(context.sluice.origin, context.mockOrigin, {
      connections: concurrency,
      maxConnection: undefined,
    });
    try {
      const run = await pacedRounds(target, shape, concurrency, 1);
      rows.push({
        scenario,
        metric: 'TTFT p50 / p99, connector without client_config',
        direct: `${milliseconds(measured.direct?.ttft.p50)} / ${milliseconds(measured.direct?.ttft.p99)}`,
        sluice: `${milliseconds(run.ttft.p50)} / ${milliseconds(run.ttft.p99)}`,
        comparison: '',
        target: 'info: default max_connection is 256',
        verdict: 'info',
      });
      details['defaultClientConfigTtftMs'] = roundedDistribution(ttftsOf(run.records));
    } finally {
      await target.pool.destroy();
    }
  }
  return { name: 'ttft-concurrency-256', rows, details };
}
