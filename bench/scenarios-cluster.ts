/**
 * Scenario 7: what the cluster's Arrow Flight hop costs (issue 4, "Benchmark"). The same loads
 * as scenarios 1 and 4 run against the single node of the other scenarios (SQLite) and against
 * a coordinator-only node that forwards every stream over Arrow Flight to one ML-only node (both
 * on an embedded PostgreSQL), in alternating blocks, so that a drift of the machine (another
 * session's work, a GC) lands on both setups alike:
 *
 * 1. TTFT at concurrency 1 right after the cluster started (information: fresh processes).
 * 2. Unpaced throughput: 64 workers streaming 64-event streams back to back for a fixed time.
 * 3. TTFT at concurrency 1 (8-event unpaced streams, one at a time) once every process is warm:
 *    the verdict, so that JIT warm-up of the fresh cluster is not counted as the hop's cost.
 *
 * The cluster is started inside the scenario and stopped at its end (even when it fails), so the
 * other scenarios run with the machine as they always did. While one setup is measured the other
 * one's processes stay up but idle (heartbeats only); their CPU is recorded as well.
 */
import { type BenchCluster, type ClusterCpu, startCluster } from './cluster.ts';
import {
  type BenchContext,
  milliseconds,
  type Row,
  ratio,
  type ScenarioResult,
  signed,
  startNoiseMeter,
  verdictOf,
} from './context.ts';
import {
  runForDuration,
  runMany,
  runStream,
  type StreamRecord,
  sluiceTarget,
  type Target,
} from './load.ts';
import { cpuMilliseconds } from './processes.ts';
import { defaultShape, type StreamShape } from './protocol.ts';
import { completeCount, failureSamples, ttftsOf } from './scenario-kit.ts';
import { distribution, roundedDistribution } from './stats.ts';

type Setup = 'single' | 'cluster';
const setups: readonly Setup[] = ['single', 'cluster'];

/** Targets of issue 4. */
const maxAddedP50Ms = 1;
const minThroughputRatio = 0.8;

interface CpuReading extends ClusterCpu {
  loadGenerator: number;
  mock: number;
  single: number;
}
type ProcessName = keyof CpuReading;
const processNames: readonly ProcessName[] = [
  'loadGenerator',
  'mock',
  'single',
  'coordinator',
  'ml',
  'postgres',
];
/** The processes that serve a setup's streams (besides the load generator and the mock). */
const servingProcesses: Record<Setup, readonly ProcessName[]> = {
  single: ['single'],
  cluster: ['coordinator', 'ml', 'postgres'],
};

function readCpu(context: BenchContext, cluster: BenchCluster, single: number): CpuReading {
  const own = process.cpuUsage();
  return {
    loadGenerator: (own.user + own.system) / 1000,
    mock: cpuMilliseconds(context.mock.pid),
    single: cpuMilliseconds(single),
    ...cluster.cpu(),
  };
}

/** Streams, wall time and CPU per process gathered over the measured blocks of one setup. */
class Tally {
  readonly records: StreamRecord[] = [];
  readonly cpu: Record<ProcessName, number> = {
    loadGenerator: 0,
    mock: 0,
    single: 0,
    coordinator: 0,
    ml: 0,
    postgres: 0,
  };
  elapsedMs = 0;
  /** Complete streams per second of each block (throughput rounds). */
  readonly roundRates: number[] = [];

  add(before: CpuReading, after: CpuReading, elapsedMs: number, records: StreamRecord[]): void {
    for (const name of processNames) this.cpu[name] += after[name] - before[name];
    this.elapsedMs += elapsedMs;
    this.records.push(...records);
  }

  perStream(name: ProcessName): number {
    return this.cpu[name] / Math.max(1, this.records.length);
  }

  cores(name: ProcessName): number {
    return this.cpu[name] / Math.max(1, this.elapsedMs);
  }
}

const fixed = (value: number, digits: number) => value.toFixed(digits);

/** `load generator / mock / <serving processes>` CPU ms per stream. */
function cpuText(tally: Tally, setup: Setup): string {
  const names: ProcessName[] = ['loadGenerator', 'mock', ...servingProcesses[setup]];
  return names.map((name) => fixed(tally.perStream(name), 3)).join(' / ');
}

function servingCpuPerStream(tally: Tally, setup: Setup): number {
  return servingProcesses[setup].reduce((sum, name) => sum + tally.perStream(name), 0);
}

/** `load generator + mock + … = total` in cores, over the measured time. */
function coresText(tally: Tally, setup: Setup): string {
  const names: ProcessName[] = ['loadGenerator', 'mock', ...servingProcesses[setup]];
  const total = names.reduce((sum, name) => sum + tally.cores(name), 0);
  return `${names.map((name) => fixed(tally.cores(name), 2)).join(' + ')} = ${fixed(total, 2)}`;
}

function cpuRow(scenario: string, tallies: Record<Setup, Tally>): Row {
  const single = servingCpuPerStream(tallies.single, 'single');
  const cluster = servingCpuPerStream(tallies.cluster, 'cluster');
  return {
    scenario,
    metric:
      'CPU ms per stream: load generator / mock / Sluice (cluster: coordinator / ML node / PostgreSQL)',
    direct: cpuText(tallies.single, 'single'),
    sluice: cpuText(tallies.cluster, 'cluster'),
    comparison: `Sluice ${signed(cluster - single)} (×${fixed(cluster / Math.max(1e-9, single), 2)})`,
    target: '—',
    verdict: 'info',
  };
}

export async function clusterHop(context: BenchContext): Promise<ScenarioResult> {
  const columns: [string, string, string] = [
    'Single node',
    'Cluster (coordinator → Flight → ML node)',
    'Cluster vs single',
  ];
  const ttftScenario = '7. Cluster hop, TTFT concurrency 1';
  const throughputScenario = '7. Cluster hop, unpaced throughput';
  const singleNode = context.sluice;
  const singleTarget = context.targets.find((target) => target.name === 'sluice');
  if (singleNode === undefined || singleTarget === undefined) {
    return {
      name: 'cluster-hop',
      columns,
      rows: [
        {
          scenario: ttftScenario,
          metric: 'skipped: no Sluice in this run (--direct-only)',
          direct: 'n/a',
          sluice: 'n/a',
          comparison: '',
          target: '—',
          verdict: 'info',
        },
      ],
      details: {},
    };
  }

  const ttftShape: StreamShape = { ...defaultShape, events: 8 };
  const ttftCount = context.quick ? 50 : 200;
  const ttftBlock = 25;
  const ttftWarmup = 20;
  const coldCount = context.quick ? 50 : 100;
  const throughputShape: StreamShape = { ...defaultShape, events: 64 };
  const concurrency = 64;
  const roundMs = context.quick ? 2_000 : 5_000;
  const rounds = context.quick ? 1 : 2;
  const warmupMs = context.quick ? 1_000 : 2_000;

  context.log('7. Cluster hop: starting PostgreSQL, a coordinator and an ML node');
  const cluster = await startCluster({
    root: context.sluiceRoot,
    cpuProfileDirectory: context.cpuProfileDirectory,
    log: context.log,
  });
  const clusterTarget = sluiceTarget(cluster.coordinator.origin, context.mockOrigin, {
    connections: concurrency * 2,
    maxConnection: 2048,
  });
  const targets: Record<Setup, Target> = { single: singleTarget, cluster: clusterTarget };
  try {
    const reading = () => readCpu(context, cluster, singleNode.pid);
    // Only the measured phases: start-up (initdb, tsx compiling two nodes) is not noise.
    const noise = startNoiseMeter(context, () => {
      const cpu = cluster.cpu();
      return cpu.coordinator + cpu.ml + cpu.postgres;
    });

    const ttftPass = async (count: number): Promise<Record<Setup, Tally>> => {
      const tallies: Record<Setup, Tally> = { single: new Tally(), cluster: new Tally() };
      for (let block = 0; block * ttftBlock < count; block += 1) {
        const order = block % 2 === 0 ? setups : [...setups].reverse();
        for (const setup of order) {
          const before = reading();
          const startedAt = performance.now();
          const records = await runMany(ttftBlock, 1, () =>
            runStream(targets[setup], { shape: ttftShape }),
          );
          tallies[setup].add(before, reading(), performance.now() - startedAt, records);
        }
      }
      return tallies;
    };

    // 1. Fresh processes: what the first requests to a newly started cluster see.
    context.log(
      `${ttftScenario}: ${ttftWarmup} warm-up streams, then ${coldCount} per setup right after ` +
        'start (fresh cluster processes)',
    );
    for (const setup of setups) {
      // Also registers the model (through the coordinator: deployed to the ML node).
      const warm = await runMany(ttftWarmup, 1, () =>
        runStream(targets[setup], { shape: ttftShape }),
      );
      const broken = warm.find((record) => record.end !== 'complete');
      if (broken !== undefined) {
        throw new Error(`${setup} warm-up stream failed: ${JSON.stringify(broken)}`);
      }
    }
    const cold = await ttftPass(coldCount);

    // 2. Throughput; its warm-up and rounds also warm the JIT of the cluster's processes, which
    // the single node has had from the scenarios before (or from its own warm-up here).
    context.log(
      `${throughputScenario}: ${concurrency} workers, ${throughputShape.events}-event streams, ` +
        `${warmupMs} ms warm-up, then ${rounds} round(s) of ${roundMs} ms per setup, alternating`,
    );
    const throughput: Record<Setup, Tally> = { single: new Tally(), cluster: new Tally() };
    const open = (setup: Setup) => () => runStream(targets[setup], { shape: throughputShape });
    for (const setup of setups) await runForDuration(warmupMs, concurrency, open(setup));
    for (let round = 0; round < rounds; round += 1) {
      const order = round % 2 === 0 ? setups : [...setups].reverse();
      for (const setup of order) {
        const before = reading();
        const run = await runForDuration(roundMs, concurrency, open(setup));
        throughput[setup].add(before, reading(), run.elapsedMs, run.records);
        throughput[setup].roundRates.push(
          (completeCount(run.records, throughputShape.events) * 1000) / run.elapsedMs,
        );
      }
    }

    // 3. TTFT with every process warm: the verdict.
    context.log(
      `${ttftScenario}: ${ttftCount} sequential ${ttftShape.events}-event streams per setup, ` +
        `alternating in blocks of ${ttftBlock}`,
    );
    const ttft = await ttftPass(ttftCount);
    const measuredNoise = noise();
    const nodes = await cluster.nodes().catch((error: unknown) => String(error));

    // ---- rows -------------------------------------------------------------------------------
    const ttftOf = (setup: Setup) => distribution(ttftsOf(ttft[setup].records));
    const coldOf = (setup: Setup) => distribution(ttftsOf(cold[setup].records));
    const single = ttftOf('single');
    const clustered = ttftOf('cluster');
    const addedP50 = clustered.p50 - single.p50;
    const rate = (setup: Setup) =>
      (completeCount(throughput[setup].records, throughputShape.events) * 1000) /
      Math.max(1, throughput[setup].elapsedMs);
    const throughputRatio = ratio(rate('cluster'), rate('single'));
    const failed = (setup: Setup) =>
      throughput[setup].records.length -
      completeCount(throughput[setup].records, throughputShape.events);
    const complete = (setup: Setup) =>
      `${completeCount(ttft[setup].records, ttftShape.events)}/${ttft[setup].records.length}`;
    const rows: Row[] = [
      {
        scenario: ttftScenario,
        metric: 'TTFT p50',
        direct: milliseconds(single.p50),
        sluice: milliseconds(clustered.p50),
        comparison: signed(addedP50),
        target: `added p50 ≤ ${maxAddedP50Ms} ms`,
        verdict: verdictOf(Number.isFinite(addedP50) ? addedP50 <= maxAddedP50Ms : undefined),
      },
      {
        scenario: ttftScenario,
        metric: 'TTFT p99',
        direct: milliseconds(single.p99),
        sluice: milliseconds(clustered.p99),
        comparison: signed(clustered.p99 - single.p99),
        target: '—',
        verdict: 'info',
      },
      {
        scenario: ttftScenario,
        metric: `TTFT p50 / p99 of the first ${coldCount} streams after the cluster started (cold JIT)`,
        direct: `${milliseconds(coldOf('single').p50)} / ${milliseconds(coldOf('single').p99)}`,
        sluice: `${milliseconds(coldOf('cluster').p50)} / ${milliseconds(coldOf('cluster').p99)}`,
        comparison: `${signed(coldOf('cluster').p50 - coldOf('single').p50)} at p50`,
        target: '—',
        verdict: 'info',
      },
      {
        scenario: ttftScenario,
        metric: 'complete streams',
        direct: complete('single'),
        sluice: complete('cluster'),
        comparison: '',
        target: 'all',
        verdict: verdictOf(
          completeCount(ttft.cluster.records, ttftShape.events) === ttft.cluster.records.length,
        ),
      },
      cpuRow(ttftScenario, ttft),
      {
        scenario: throughputScenario,
        metric: 'streams/s',
        direct: fixed(rate('single'), 0),
        sluice: fixed(rate('cluster'), 0),
        comparison: throughputRatio === undefined ? 'n/a' : `${fixed(throughputRatio * 100, 0)} %`,
        target: `≥ ${minThroughputRatio * 100} % of single node`,
        verdict: verdictOf(
          throughputRatio === undefined ? undefined : throughputRatio >= minThroughputRatio,
        ),
      },
      {
        scenario: throughputScenario,
        metric: `streams/s per round (${roundMs / 1000} s each, alternating)`,
        direct: throughput.single.roundRates.map((value) => fixed(value, 0)).join(', '),
        sluice: throughput.cluster.roundRates.map((value) => fixed(value, 0)).join(', '),
        comparison: '',
        target: '—',
        verdict: 'info',
      },
      {
        scenario: throughputScenario,
        metric: 'failed streams',
        direct: String(failed('single')),
        sluice: String(failed('cluster')),
        comparison: '',
        target: 'zero',
        verdict: verdictOf(failed('cluster') === 0),
      },
      cpuRow(throughputScenario, throughput),
      {
        scenario: throughputScenario,
        metric:
          'cores busy: load generator + mock + Sluice (cluster: coordinator + ML node + PostgreSQL) = total',
        direct: coresText(throughput.single, 'single'),
        sluice: coresText(throughput.cluster, 'cluster'),
        comparison: '',
        target: 'info: the machine has 2 cores',
        verdict: 'info',
      },
    ];

    const summary = (tally: Tally) => ({
      streams: tally.records.length,
      elapsedMs: Math.round(tally.elapsedMs),
      cpuMsPerStream: Object.fromEntries(
        processNames.map((name) => [name, Math.round(tally.perStream(name) * 1000) / 1000]),
      ),
      coresBusy: Object.fromEntries(
        processNames.map((name) => [name, Math.round(tally.cores(name) * 1000) / 1000]),
      ),
    });
    // Sluice logs at warn level: anything besides the start and inspector lines is news.
    const expected = /^(Sluice listening|Debugger listening|Debugger attached|For help)/;
    const unexpectedOutput = Object.fromEntries(
      (['coordinator', 'ml'] as const).map((name) => [
        name,
        cluster[name]
          .output()
          .split('\n')
          .filter((line) => line.trim() !== '' && !expected.test(line))
          .slice(-20),
      ]),
    );
    for (const [name, lines] of Object.entries(unexpectedOutput)) {
      if (lines.length > 0) context.log(`${name} output (tail):\n${lines.join('\n')}`);
    }
    return {
      name: 'cluster-hop',
      columns,
      rows,
      noise: measuredNoise,
      details: {
        processes: {
          single: { pid: singleNode.pid, store: 'SQLite' },
          coordinator: { pid: cluster.coordinator.pid, roles: ['coordinator'] },
          ml: { pid: cluster.ml.pid, roles: ['ml'], flight: cluster.ml.flightAddress },
          postgres: { postmasterPid: cluster.postgres.postmasterPid },
        },
        ttft: {
          shape: ttftShape,
          countPerSetup: ttftCount,
          block: ttftBlock,
          warmup: ttftWarmup,
          ttftMs: {
            single: roundedDistribution(ttftsOf(ttft.single.records)),
            cluster: roundedDistribution(ttftsOf(ttft.cluster.records)),
          },
          coldCountPerSetup: coldCount,
          coldTtftMs: {
            single: roundedDistribution(ttftsOf(cold.single.records)),
            cluster: roundedDistribution(ttftsOf(cold.cluster.records)),
          },
          single: summary(ttft.single),
          cluster: summary(ttft.cluster),
          failures: {
            single: failureSamples(ttft.single.records),
            cluster: failureSamples(ttft.cluster.records),
          },
        },
        throughput: {
          shape: throughputShape,
          concurrency,
          roundMs,
          rounds,
          warmupMs,
          streamsPerSecond: { single: rate('single'), cluster: rate('cluster') },
          roundRates: {
            single: throughput.single.roundRates,
            cluster: throughput.cluster.roundRates,
          },
          single: summary(throughput.single),
          cluster: summary(throughput.cluster),
          failures: {
            single: failureSamples(throughput.single.records),
            cluster: failureSamples(throughput.cluster.records),
          },
        },
        nodesAfterRun: nodes,
        unexpectedOutput,
      },
    };
  } finally {
    await clusterTarget.pool.destroy().catch(() => undefined);
    await cluster.stop();
  }
}
