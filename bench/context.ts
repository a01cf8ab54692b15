/** What every scenario receives, and what it returns. */
import type { Target } from './load.ts';
import { cpuMilliseconds, type MockUpstream, type SluiceNode, systemCpu } from './processes.ts';

export interface BenchContext {
  /** Targets in the order they run; "direct" first. */
  targets: Target[];
  mock: MockUpstream;
  /** Undefined in `--direct-only` runs (harness checks without Sluice). */
  sluice: SluiceNode | undefined;
  mockOrigin: string;
  quick: boolean;
  /** Checkout Sluice runs from (`--sluice-root`); this repository when undefined. */
  sluiceRoot: string | undefined;
  /** Where Sluice processes write V8 CPU profiles (`--cpu-prof`); undefined: no profiles. */
  cpuProfileDirectory: string | undefined;
  log(message: string): void;
}

export type Verdict = 'pass' | 'FAIL' | 'info';

/** One line of the results table. */
export interface Row {
  scenario: string;
  metric: string;
  direct: string;
  sluice: string;
  /** Sluice relative to direct: a ratio or a difference. */
  comparison: string;
  target: string;
  verdict: Verdict;
}

export interface ScenarioResult {
  name: string;
  rows: Row[];
  /**
   * Titles of the direct, Sluice and comparison columns when they are not those: the scenario
   * gets a table of its own (the cluster scenario compares a cluster with a single node).
   */
  columns?: [string, string, string];
  /**
   * CPU the rest of the machine used meanwhile; set by run.ts unless the scenario measured it
   * itself (the cluster scenario, whose extra processes are its own, not the rest's).
   */
  noise?: Noise;
  /** Raw numbers for latest.json. */
  details: Record<string, unknown>;
}

export function verdictOf(pass: boolean | undefined): Verdict {
  if (pass === undefined) return 'info';
  return pass ? 'pass' : 'FAIL';
}

export function milliseconds(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) < 10) return `${value.toFixed(2)} ms`;
  return `${value.toFixed(1)} ms`;
}

export function ratio(sluice: number | undefined, direct: number | undefined): number | undefined {
  if (sluice === undefined || direct === undefined || direct === 0) return undefined;
  if (!Number.isFinite(sluice) || !Number.isFinite(direct)) return undefined;
  return sluice / direct;
}

export function formatRatio(value: number | undefined): string {
  return value === undefined ? 'n/a' : `×${value.toFixed(2)}`;
}

export function signed(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  return `${value >= 0 ? '+' : '−'}${milliseconds(Math.abs(value))}`;
}

/** CPU milliseconds used so far by each process of the run. */
export interface CpuSnapshot {
  loadGenerator: number;
  mock: number;
  sluice: number | undefined;
}

export function cpuSnapshot(context: BenchContext): CpuSnapshot {
  const own = process.cpuUsage();
  return {
    loadGenerator: (own.user + own.system) / 1000,
    mock: cpuMilliseconds(context.mock.pid),
    sluice: context.sluice === undefined ? undefined : cpuMilliseconds(context.sluice.pid),
  };
}

/** CPU per stream between two snapshots, as `load generator / mock / Sluice` in ms. */
export function cpuPerStream(
  before: CpuSnapshot,
  after: CpuSnapshot,
  streams: number,
  includeSluice: boolean,
): { text: string; loadGenerator: number; mock: number; sluice: number | undefined } {
  const per = (start: number, end: number) => (end - start) / Math.max(1, streams);
  const loadGenerator = per(before.loadGenerator, after.loadGenerator);
  const mock = per(before.mock, after.mock);
  const sluice =
    includeSluice && before.sluice !== undefined && after.sluice !== undefined
      ? per(before.sluice, after.sluice)
      : undefined;
  const parts = [loadGenerator, mock, ...(sluice === undefined ? [] : [sluice])];
  return { text: parts.map((value) => value.toFixed(3)).join(' / '), loadGenerator, mock, sluice };
}

/** CPU taken by everything outside this run, in cores (1.0 = one core fully busy). */
export interface Noise {
  otherProcessesCores: number;
  stealCores: number;
}

/**
 * Starts measuring what the rest of the machine does during a scenario: other processes
 * (a test run, a compiler) and hypervisor steal compete with the three processes measured.
 */
export function startNoiseMeter(
  context: BenchContext,
  /** CPU ms used so far by more processes of the run (the cluster scenario's). */
  extraCpu: () => number = () => 0,
): () => Noise {
  const startedAt = performance.now();
  const ours = cpuSnapshot(context);
  const extra = extraCpu();
  const system = systemCpu();
  return () => {
    const elapsed = Math.max(1, performance.now() - startedAt);
    const oursNow = cpuSnapshot(context);
    const systemNow = systemCpu();
    const oursUsed =
      oursNow.loadGenerator -
      ours.loadGenerator +
      (oursNow.mock - ours.mock) +
      ((oursNow.sluice ?? 0) - (ours.sluice ?? 0)) +
      (extraCpu() - extra);
    const others = Math.max(0, systemNow.processes - system.processes - oursUsed);
    const round = (value: number) => Math.round(value * 100) / 100;
    return {
      otherProcessesCores: round(others / elapsed),
      stealCores: round((systemNow.steal - system.steal) / elapsed),
    };
  };
}
