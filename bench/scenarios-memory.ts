/**
 * Scenario 5: resident memory per open idle stream, and memory under a client that stops
 * reading a long fast stream. Memory is read from /proc/<pid>/status (VmRSS) right after a
 * full garbage collection in the measured process, so a reading counts live memory rather than
 * garbage a later collection would free. The measured process is Sluice, or the mock when the
 * mock is called directly (a plain node:http server, for scale).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type BenchContext, type Row, type ScenarioResult, verdictOf } from './context.ts';
import {
  nextTag,
  runMany,
  runStream,
  type StreamControl,
  type StreamRecord,
  type Target,
  type TargetName,
} from './load.ts';
import { residentBytes } from './processes.ts';
import { defaultShape, type StreamShape } from './protocol.ts';

const mebibyte = 1024 * 1024;

function megabytes(bytes: number | undefined): string {
  return bytes === undefined ? 'n/a' : `${(bytes / mebibyte).toFixed(1)} MB`;
}

function withTimeout<T>(promise: Promise<T>, milliseconds: number): Promise<T | undefined> {
  return Promise.race([promise, sleep(milliseconds).then(() => undefined)]);
}

interface MemoryReading {
  rssBytes: number;
  heapUsedBytes: number;
}

/** Collects garbage in the process a target's memory is about, then reads its memory. */
async function readMemory(context: BenchContext, target: Target): Promise<MemoryReading> {
  if (target.name === 'sluice' && context.sluice !== undefined) {
    const inspector = await context.sluice.inspector();
    await inspector.collectGarbage();
    const heapUsedBytes = await inspector.heapUsedBytes();
    return { rssBytes: residentBytes(context.sluice.pid), heapUsedBytes };
  }
  const answer = await context.mock.query(undefined, true);
  return { rssBytes: residentBytes(context.mock.pid), heapUsedBytes: answer.heapUsedBytes };
}

interface IdleRun {
  baseline: MemoryReading;
  loaded: MemoryReading;
  openAtMeasurement: number;
  upstreamActive: number;
  records: StreamRecord[];
}

export async function idleMemory(context: BenchContext): Promise<ScenarioResult> {
  const scenario = '5a. Memory, idle streams';
  const count = context.quick ? 500 : 1000;
  const holdMs = context.quick ? 6_000 : 10_000;
  // One event, then silence for holdMs (well under Sluice's 30 s idle timeout), then the end.
  const shape: StreamShape = { ...defaultShape, events: 2, holdMs };
  context.log(`${scenario}: ${count} streams held open ${holdMs} ms after their first event`);
  const runs: Partial<Record<TargetName, IdleRun>> = {};
  for (const target of context.targets) {
    context.log(`  ${target.name}`);
    // Let sockets and timers of the previous scenario go first.
    await sleep(1_000);
    const baseline = await readMemory(context, target);
    let opened = 0;
    let allOpen = () => {};
    const allOpenPromise = new Promise<void>((resolve) => {
      allOpen = resolve;
    });
    const streams = runMany(count, count, () =>
      runStream(target, {
        shape,
        onFirstToken: () => {
          opened += 1;
          if (opened === count) allOpen();
        },
      }),
    );
    await withTimeout(allOpenPromise, holdMs - 3_000);
    await sleep(500);
    const loaded = await readMemory(context, target);
    const upstreamActive = (await context.mock.query()).counters.active;
    runs[target.name] = {
      baseline,
      loaded,
      openAtMeasurement: opened,
      upstreamActive,
      records: await streams,
    };
  }
  const perStreamKb = (run: IdleRun | undefined, key: keyof MemoryReading) =>
    run === undefined ? undefined : (run.loaded[key] - run.baseline[key]) / 1024 / count;
  const kb = (value: number | undefined) =>
    value === undefined ? 'n/a' : `${value.toFixed(1)} KB`;
  const sluiceKb = perStreamKb(runs.sluice, 'rssBytes');
  const show = (run: IdleRun | undefined) =>
    run === undefined
      ? 'n/a'
      : `${megabytes(run.baseline.rssBytes)} → ${megabytes(run.loaded.rssBytes)} (${run.openAtMeasurement} open)`;
  const rows: Row[] = [
    {
      scenario,
      metric: 'RSS per open idle stream (mock process | Sluice process)',
      direct: kb(perStreamKb(runs.direct, 'rssBytes')),
      sluice: kb(sluiceKb),
      comparison: '',
      target: '≤ 64 KB (Sluice)',
      verdict: verdictOf(
        sluiceKb === undefined || runs.sluice === undefined
          ? undefined
          : sluiceKb <= 64 && runs.sluice.openAtMeasurement === count,
      ),
    },
    {
      scenario,
      metric: 'of which V8 heap per stream',
      direct: kb(perStreamKb(runs.direct, 'heapUsedBytes')),
      sluice: kb(perStreamKb(runs.sluice, 'heapUsedBytes')),
      comparison: '',
      target: '—',
      verdict: 'info',
    },
    {
      scenario,
      metric: 'RSS baseline → with streams open',
      direct: show(runs.direct),
      sluice: show(runs.sluice),
      comparison: '',
      target: '—',
      verdict: 'info',
    },
  ];
  const details = Object.fromEntries(
    Object.entries(runs).map(([name, run]) => [
      name,
      {
        baseline: run.baseline,
        loaded: run.loaded,
        openAtMeasurement: run.openAtMeasurement,
        upstreamActiveAtMeasurement: run.upstreamActive,
        rssPerStreamKb: perStreamKb(run, 'rssBytes'),
        heapPerStreamKb: perStreamKb(run, 'heapUsedBytes'),
        complete: run.records.filter((record) => record.end === 'complete').length,
      },
    ]),
  );
  return { name: 'memory-idle', rows, details: { shape, count, ...details } };
}

interface PausedRun {
  before: MemoryReading;
  pausedEarly: MemoryReading;
  pausedLate: MemoryReading;
  after: MemoryReading;
  upstreamWrittenEarly: number | undefined;
  upstreamWrittenLate: number | undefined;
  record: StreamRecord;
}

export async function pausedReader(context: BenchContext): Promise<ScenarioResult> {
  const scenario = '5b. Memory, client stops reading';
  const events = context.quick ? 5_000 : 20_000;
  const shape: StreamShape = { ...defaultShape, events, bytes: 4096 };
  const pauseMs = context.quick ? 2_000 : 4_000;
  // Each mock event carries ~150 bytes of JSON around its content.
  const streamBytes = shape.events * (shape.bytes + 150);
  context.log(`${scenario}: one ${megabytes(streamBytes)} unpaced stream, paused ${pauseMs} ms`);
  const runs: Partial<Record<TargetName, PausedRun>> = {};
  for (const target of context.targets) {
    context.log(`  ${target.name}`);
    await sleep(500);
    const before = await readMemory(context, target);
    const tag = nextTag();
    let paused = (_control: StreamControl) => {};
    const pausedPromise = new Promise<StreamControl>((resolve) => {
      paused = resolve;
    });
    const stream = runStream(target, {
      shape,
      tag,
      onFirstToken: (control) => {
        control.pause();
        paused(control);
      },
    });
    const control = await withTimeout(pausedPromise, 10_000);
    await sleep(1_000);
    const pausedEarly = await readMemory(context, target);
    const upstreamWrittenEarly = (await context.mock.query(tag)).tag?.bytesWritten;
    await sleep(pauseMs);
    const pausedLate = await readMemory(context, target);
    const upstreamWrittenLate = (await context.mock.query(tag)).tag?.bytesWritten;
    control?.resume();
    const record = await stream;
    const after = await readMemory(context, target);
    runs[target.name] = {
      before,
      pausedEarly,
      pausedLate,
      after,
      upstreamWrittenEarly,
      upstreamWrittenLate,
      record,
    };
  }
  const sluiceGrowth =
    runs.sluice === undefined
      ? undefined
      : runs.sluice.pausedLate.rssBytes - runs.sluice.before.rssBytes;
  const growthLimit = 16 * mebibyte;
  const showRss = (run: PausedRun | undefined) =>
    run === undefined
      ? 'n/a'
      : [run.before, run.pausedEarly, run.pausedLate, run.after]
          .map((reading) => megabytes(reading.rssBytes))
          .join(' → ');
  const showWritten = (run: PausedRun | undefined) =>
    run === undefined
      ? 'n/a'
      : `${megabytes(run.upstreamWrittenEarly)} → ${megabytes(run.upstreamWrittenLate)}`;
  const showEnd = (run: PausedRun | undefined) =>
    run === undefined ? 'n/a' : `${run.record.end}, ${run.record.tokens}/${shape.events} events`;
  const rows: Row[] = [
    {
      scenario,
      metric: 'RSS before → paused 1 s → paused later → after the end (mock | Sluice)',
      direct: showRss(runs.direct),
      sluice: showRss(runs.sluice),
      comparison: `growth while paused ${megabytes(sluiceGrowth)}`,
      target: `growth ≤ 16 MB (stream is ${megabytes(streamBytes)})`,
      verdict: verdictOf(sluiceGrowth === undefined ? undefined : sluiceGrowth <= growthLimit),
    },
    {
      scenario,
      metric: 'bytes the upstream had written while paused (1 s → later)',
      direct: showWritten(runs.direct),
      sluice: showWritten(runs.sluice),
      comparison: '',
      target: 'stops growing',
      verdict: verdictOf(
        runs.sluice === undefined
          ? undefined
          : runs.sluice.upstreamWrittenEarly === runs.sluice.upstreamWrittenLate &&
              runs.sluice.upstreamWrittenLate !== undefined,
      ),
    },
    {
      scenario,
      metric: 'after resuming: end, content events',
      direct: showEnd(runs.direct),
      sluice: showEnd(runs.sluice),
      comparison: '',
      target: 'complete, no loss',
      verdict: verdictOf(
        runs.sluice === undefined
          ? undefined
          : runs.sluice.record.end === 'complete' && runs.sluice.record.tokens === shape.events,
      ),
    },
  ];
  return { name: 'memory-paused-reader', rows, details: { shape, pauseMs, streamBytes, runs } };
}
