/**
 * `npm run bench [-- [--quick] [--wait-quiet <s>] [--only <names>] [--cpu-prof] [--sluice-root <dir>]
 *                  [--direct-only]]`    (docs/benchmarks.md explains the scenarios and results)
 *
 * --quick        short smoke run (fewer streams, shorter durations)
 * --cpu-prof     write V8 CPU profiles of the Sluice processes to bench/results/profiles/
 * --direct-only  check the harness against the mock alone
 * --only         comma-separated scenario keys (ttft, idle, paused, concurrent, stalls, throughput,
 *                cancel, cluster)
 * --sluice-root  run Sluice from another checkout (e.g. to compare two commits)
 * --wait-quiet   before each scenario, wait up to this many seconds for other processes to
 *                leave the CPUs alone (this machine may be shared)
 *
 * Starts the mock upstream and a real Sluice node as child processes, runs every scenario
 * against the mock directly and through Sluice, prints the results table and writes
 * bench/results/latest.{json,md}. The cluster scenario also starts (and stops) an embedded
 * PostgreSQL, a coordinator and an ML node, and compares them with the single node. Children are
 * killed at the end, on failure, on Ctrl-C and when the watchdog fires, so nothing outlives the
 * run.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type BenchContext, type Noise, type ScenarioResult, startNoiseMeter } from './context.ts';
import { directTarget, sluiceTarget, type Target } from './load.ts';
import {
  allowLoopbackUpstream,
  killAllChildren,
  type MockUpstream,
  type SluiceNode,
  startMockUpstream,
  startSluice,
} from './processes.ts';
import { machineFacts, markdownTable, noiseLine, sourceFacts, writeResults } from './report.ts';
import { cancellation } from './scenarios-cancel.ts';
import { clusterHop } from './scenarios-cluster.ts';
import { firstTokenConcurrent, firstTokenSequential } from './scenarios-latency.ts';
import { stallsAtThousand, unpacedThroughput } from './scenarios-load.ts';
import { idleMemory, pausedReader } from './scenarios-memory.ts';

/**
 * In the order they run. The memory scenarios come right after the light first one, before
 * the heavy ones leave garbage in the heaps whose collection would blur the RSS readings.
 * The table shows them in their numbered order.
 */
const scenarios: Record<string, (context: BenchContext) => Promise<ScenarioResult>> = {
  ttft: firstTokenSequential,
  idle: idleMemory,
  paused: pausedReader,
  concurrent: firstTokenConcurrent,
  stalls: stallsAtThousand,
  throughput: unpacedThroughput,
  cancel: cancellation,
  // Last: it starts three more processes (PostgreSQL, coordinator, ML node) and stops them.
  cluster: clusterHop,
};
const displayOrder = [
  'ttft',
  'concurrent',
  'stalls',
  'throughput',
  'idle',
  'paused',
  'cancel',
  'cluster',
];

// Enough client connections for the largest scenario, the same for both targets.
const clientConnections = 1100;
// The connector's pool must not be what limits 1,000 concurrent streams (ml-commons default: 30).
const connectorMaxConnection = 2048;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'direct-only': { type: 'boolean', default: false },
    only: { type: 'string' },
    'sluice-root': { type: 'string' },
    'wait-quiet': { type: 'string', default: '0' },
  },
  strict: true,
});
const selected = values.only === undefined ? Object.keys(scenarios) : values.only.split(',');
for (const name of selected) {
  if (scenarios[name] === undefined) {
    process.stderr.write(
      `unknown scenario "${name}"; known: ${Object.keys(scenarios).join(', ')}\n`,
    );
    process.exit(2);
  }
}

const quietWaitMs = Number(values['wait-quiet']) * 1000;
if (!Number.isFinite(quietWaitMs) || quietWaitMs < 0) {
  process.stderr.write('--wait-quiet takes a number of seconds\n');
  process.exit(2);
}
// Ten minutes of measuring at most, plus the waits for a quiet machine that were allowed.
const watchdogMs = 10 * 60 * 1000 + quietWaitMs * (selected.length + 1);

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

function stopEverything(code: number, reason: string): never {
  log(reason);
  killAllChildren();
  process.exit(code);
}
process.once('SIGINT', () => stopEverything(130, 'interrupted'));
process.once('SIGTERM', () => stopEverything(143, 'terminated'));
process.on('exit', () => killAllChildren());
const watchdog = setTimeout(
  () => stopEverything(1, `watchdog: the run exceeded ${watchdogMs / 60_000} minutes`),
  watchdogMs,
);
watchdog.unref();

// Other processes using more than this share of a core make the timings of a run doubtful.
const quietThresholdCores = 0.15;

/**
 * This machine may be shared (test runs, compilers). Waits up to `maxWaitMs` for two quiet
 * seconds; either way, reports what it saw.
 */
async function waitForQuiet(context: BenchContext, maxWaitMs: number): Promise<Noise> {
  const giveUpAt = performance.now() + maxWaitMs;
  for (;;) {
    const meter = startNoiseMeter(context);
    await sleep(2_000);
    const noise = meter();
    if (noise.otherProcessesCores <= quietThresholdCores) return noise;
    if (performance.now() >= giveUpAt) {
      log(`other processes use ${noise.otherProcessesCores} cores: timings will be noisy`);
      return noise;
    }
    log(`waiting for a quiet machine (others use ${noise.otherProcessesCores} cores)`);
  }
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const machine = machineFacts();
  log(`${machine.cores} cores, Node ${machine.node}${values.quick ? ', quick run' : ''}`);
  let mock: MockUpstream | undefined;
  let sluice: SluiceNode | undefined;
  const targets: Target[] = [];
  try {
    mock = await startMockUpstream();
    log(`mock upstream on ${mock.origin} (pid ${mock.pid})`);
    targets.push(directTarget(mock.origin, { connections: clientConnections }));
    const profileDirectory = values['cpu-prof']
      ? fileURLToPath(new URL('results/profiles', import.meta.url))
      : undefined;
    if (!values['direct-only']) {
      const nodeFlags =
        profileDirectory === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDirectory}`];
      sluice = await startSluice({ nodeFlags, root: values['sluice-root'] });
      log(`Sluice on ${sluice.origin} (pid ${sluice.pid})`);
      await allowLoopbackUpstream(sluice.origin);
      targets.push(
        sluiceTarget(sluice.origin, mock.origin, {
          connections: clientConnections,
          maxConnection: connectorMaxConnection,
        }),
      );
    }
    const context: BenchContext = {
      targets,
      mock,
      sluice,
      mockOrigin: mock.origin,
      quick: values.quick,
      sluiceRoot: values['sluice-root'],
      cpuProfileDirectory: profileDirectory,
      log,
    };
    const quietBefore = await waitForQuiet(context, 0);
    const results = new Map<string, ScenarioResult>();
    const errors: { scenario: string; message: string }[] = [];
    for (const name of selected) {
      const run = scenarios[name];
      if (run === undefined) continue;
      try {
        // Before every scenario, not only the first: other work on a shared machine comes and goes.
        if (quietWaitMs > 0) await waitForQuiet(context, quietWaitMs);
        mock.resetCounters();
        const noise = startNoiseMeter(context);
        const result = await run(context);
        // A scenario with processes of its own (cluster) measures the rest's CPU itself.
        result.noise ??= noise();
        // Proof the load went where it should: e.g. that Sluice asked for a stream with usage.
        result.details['mockCounters'] = (await mock.query()).counters;
        results.set(name, result);
      } catch (error) {
        // One broken scenario should not hide the others' results.
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        log(`scenario ${name} failed: ${message}`);
        errors.push({ scenario: name, message });
      }
    }
    if (sluice !== undefined) {
      // Sluice logs at warn level: anything besides the start and inspector lines is news.
      const expected = /^(Sluice listening|Debugger listening|Debugger attached|For help)/;
      const lines = sluice
        .output()
        .split('\n')
        .filter((line) => line.trim() !== '' && !expected.test(line));
      if (lines.length > 0) log(`Sluice output (tail):\n${lines.slice(-40).join('\n')}`);
    }
    const ordered = displayOrder.flatMap((name) => results.get(name) ?? []);
    const rows = ordered.flatMap((result) => result.rows);
    process.stdout.write(`\n${markdownTable(ordered)}\n\n${noiseLine(ordered)}\n\n`);
    const args = process.argv.slice(2);
    const written = writeResults(fileURLToPath(new URL('results', import.meta.url)), {
      startedAt: startedAt.toISOString(),
      durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      command: `npm run bench${args.length === 0 ? '' : ` -- ${args.join(' ')}`}`,
      quick: values.quick,
      quietBefore,
      machine,
      source: sourceFacts(values['sluice-root'] ?? fileURLToPath(new URL('..', import.meta.url))),
      scenarios: ordered,
      errors,
    });
    log(`wrote ${written.join(', ')}`);
    const failed = rows.filter((row) => row.verdict === 'FAIL').length;
    log(`${rows.length} rows, ${failed} failed targets, ${errors.length} scenario errors`);
    return errors.length > 0 ? 1 : 0;
  } finally {
    await Promise.all(targets.map((target) => target.pool.destroy().catch(() => undefined)));
    await sluice?.stop().catch(() => undefined);
    await mock?.stop().catch(() => undefined);
    killAllChildren();
  }
}

main().then(
  (code) => {
    clearTimeout(watchdog);
    process.exitCode = code;
  },
  (error: unknown) =>
    stopEverything(1, `bench failed: ${error instanceof Error ? error.stack : String(error)}`),
);
