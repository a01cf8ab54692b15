/**
 * Scenario 6: how soon the upstream sees its connection closed after the client disconnects,
 * mid-stream and while Sluice still waits for the first token. Both times are epoch
 * milliseconds from performance.timeOrigin + now(), taken in two processes on one machine.
 */
import {
  type BenchContext,
  milliseconds,
  type Row,
  type ScenarioResult,
  verdictOf,
} from './context.ts';
import { nextTag, runStream, type Target, type TargetName } from './load.ts';
import { defaultShape, type StreamShape } from './protocol.ts';
import { distribution, roundedDistribution } from './stats.ts';

interface CancelRun {
  latencies: number[];
  /** Streams the upstream did not see closed within the wait. */
  missing: number;
}

async function cancelLoop(
  context: BenchContext,
  target: Target,
  count: number,
  options: { shape: StreamShape; cancelAfterTokens?: number; cancelAfterMs?: number },
): Promise<CancelRun> {
  const latencies: number[] = [];
  let missing = 0;
  for (let index = 0; index < count; index += 1) {
    const tag = nextTag();
    const record = await runStream(target, { ...options, tag });
    const close = await context.mock.waitForClose(tag, 2_000);
    if (close === undefined || record.destroyedAtEpochMs === undefined || close.completed) {
      missing += 1;
      continue;
    }
    latencies.push(close.atEpochMs - record.destroyedAtEpochMs);
  }
  return { latencies, missing };
}

export async function cancellation(context: BenchContext): Promise<ScenarioResult> {
  const scenario = '6. Cancellation';
  const midCount = context.quick ? 40 : 200;
  const earlyCount = context.quick ? 20 : 50;
  const midShape: StreamShape = { ...defaultShape, events: 2_000, paceMs: 5 };
  // The first event would come after 2 s; the client leaves after 30 ms, while Sluice waits.
  const earlyShape: StreamShape = { ...defaultShape, events: 4, firstDelayMs: 2_000 };
  context.log(
    `${scenario}: ${midCount} mid-stream and ${earlyCount} before-first-token disconnects`,
  );
  const mid: Partial<Record<TargetName, CancelRun>> = {};
  const early: Partial<Record<TargetName, CancelRun>> = {};
  for (const target of context.targets) {
    context.log(`  ${target.name}`);
    mid[target.name] = await cancelLoop(context, target, midCount, {
      shape: midShape,
      cancelAfterTokens: 3,
    });
    early[target.name] = await cancelLoop(context, target, earlyCount, {
      shape: earlyShape,
      cancelAfterMs: 30,
    });
  }
  const quantile = (run: CancelRun | undefined, which: 'p50' | 'p99') =>
    run === undefined ? undefined : distribution(run.latencies)[which];
  const latencyRow = (
    metric: string,
    runs: Partial<Record<TargetName, CancelRun>>,
    which: 'p50' | 'p99',
  ): Row => {
    const sluiceValue = quantile(runs.sluice, which);
    return {
      scenario,
      metric,
      direct: milliseconds(quantile(runs.direct, which)),
      sluice: milliseconds(sluiceValue),
      comparison: '',
      target: which === 'p99' ? 'p99 ≤ 50 ms' : '—',
      verdict:
        which === 'p99'
          ? verdictOf(sluiceValue === undefined ? undefined : sluiceValue <= 50)
          : 'info',
    };
  };
  const missing = (runs: Partial<Record<TargetName, CancelRun>>, name: TargetName) =>
    runs[name]?.missing;
  const rows: Row[] = [
    latencyRow('upstream closed after disconnect, mid-stream p50', mid, 'p50'),
    latencyRow('upstream closed after disconnect, mid-stream p99', mid, 'p99'),
    latencyRow('upstream closed after disconnect, before first token p99', early, 'p99'),
    {
      scenario,
      metric: 'upstream not closed within 2 s (mid-stream + before first token)',
      direct: String((missing(mid, 'direct') ?? 0) + (missing(early, 'direct') ?? 0)),
      sluice:
        mid.sluice === undefined
          ? 'n/a'
          : String((missing(mid, 'sluice') ?? 0) + (missing(early, 'sluice') ?? 0)),
      comparison: '',
      target: 'zero',
      verdict: verdictOf(
        mid.sluice === undefined || early.sluice === undefined
          ? undefined
          : mid.sluice.missing + early.sluice.missing === 0,
      ),
    },
  ];
  const summary = (runs: Partial<Record<TargetName, CancelRun>>) =>
    Object.fromEntries(
      Object.entries(runs).map(([name, run]) => [
        name,
        { latencyMs: roundedDistribution(run.latencies), missing: run.missing },
      ]),
    );
  return {
    name: 'cancellation',
    rows,
    details: {
      midStream: { shape: midShape, count: midCount, cancelAfterTokens: 3, ...summary(mid) },
      beforeFirstToken: {
        shape: earlyShape,
        count: earlyCount,
        cancelAfterMs: 30,
        ...summary(early),
      },
    },
  };
}
