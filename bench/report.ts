/** The results table (markdown) and the JSON written to bench/results/. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Noise, Row, ScenarioResult } from './context.ts';

export interface MachineFacts {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  platform: string;
}

export interface SourceFacts {
  root: string;
  commit: string;
  /** Files under src/ that differ from the commit: results describe that working tree. */
  changedSourceFiles: number;
}

/** Which Sluice was measured; git's answers are best-effort (a copy may have no .git). */
export function sourceFacts(root: string): SourceFacts {
  const git = (args: string[]) => {
    const result = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
    return result.status === 0 ? result.stdout.trim() : undefined;
  };
  const status = git(['status', '--porcelain', '--', 'src']);
  return {
    root,
    commit: git(['rev-parse', '--short', 'HEAD']) ?? 'unknown',
    changedSourceFiles: status === undefined || status === '' ? 0 : status.split('\n').length,
  };
}

export function machineFacts(): MachineFacts {
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|');
}

// A scenario during which other processes used more than this is marked noisy in the table.
const noisyCores = 0.25;

function cells(row: Row, noisy: boolean): string[] {
  const verdict = row.verdict === 'FAIL' ? '**FAIL**' : row.verdict;
  return [
    row.scenario,
    row.metric,
    row.direct,
    row.sluice,
    row.comparison,
    row.target,
    noisy && row.verdict !== 'info' ? `${verdict} (noisy)` : verdict,
  ].map(escapeCell);
}

/** Characters as shown (code points), the unit Biome aligns markdown tables by. */
function width(text: string): number {
  return [...text].length;
}

/** A markdown table padded the way `biome format` writes it, so the file passes format:check. */
export function markdownTable(scenarios: readonly ScenarioResult[]): string {
  const header = ['Scenario', 'Metric', 'Direct', 'Sluice', 'Sluice vs direct', 'Target', 'Result'];
  const body = scenarios.flatMap((scenario) => {
    const noisy = (scenario.noise?.otherProcessesCores ?? 0) > noisyCores;
    return scenario.rows.map((row) => cells(row, noisy));
  });
  const widths = header.map((title, column) =>
    Math.max(3, width(title), ...body.map((line) => width(line[column] ?? ''))),
  );
  const line = (values: readonly string[]) =>
    `| ${values.map((value, column) => value + ' '.repeat((widths[column] ?? 0) - width(value))).join(' | ')} |`;
  const rule = `| ${widths.map((size) => '-'.repeat(size)).join(' | ')} |`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

export interface RunSummary {
  startedAt: string;
  durationSeconds: number;
  command: string;
  quick: boolean;
  /** CPU other processes used in the seconds before the run started. */
  quietBefore: Noise;
  machine: MachineFacts;
  source: SourceFacts;
  scenarios: ScenarioResult[];
  /** Scenarios that threw; their rows are missing from the table. */
  errors: { scenario: string; message: string }[];
}

/** How busy the rest of the machine was, per scenario: the first thing to check on odd numbers. */
export function noiseLine(scenarios: readonly ScenarioResult[]): string {
  const parts = scenarios.map((scenario) =>
    scenario.noise === undefined
      ? `${scenario.name} n/a`
      : `${scenario.name} ${scenario.noise.otherProcessesCores.toFixed(2)} (steal ${scenario.noise.stealCores.toFixed(2)})`,
  );
  return `CPU used by other processes on the machine, in cores (over ${noisyCores} = noisy): ${parts.join('; ')}`;
}

export function writeResults(directory: string, summary: RunSummary): string[] {
  mkdirSync(directory, { recursive: true });
  const jsonPath = join(directory, 'latest.json');
  const markdownPath = join(directory, 'latest.md');
  writeFileSync(jsonPath, `${JSON.stringify(summary, null, 2)}\n`);
  const { machine } = summary;
  const markdown = [
    `Run ${summary.startedAt} (${summary.durationSeconds} s): \`${summary.command}\``,
    '',
    `Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGb} GB, Node ${machine.node}, ${machine.platform}`,
    '',
    `Sluice: ${summary.source.root} at ${summary.source.commit}${summary.source.changedSourceFiles > 0 ? ` with ${summary.source.changedSourceFiles} changed files under src/` : ''}`,
    '',
    `Before the run, other processes used ${summary.quietBefore.otherProcessesCores} cores.`,
    '',
    markdownTable(summary.scenarios),
    '',
    noiseLine(summary.scenarios),
    '',
    ...summary.errors.map((error) => `- scenario ${error.scenario} failed: ${error.message}`),
  ].join('\n');
  writeFileSync(markdownPath, `${markdown.trimEnd()}\n`);
  return [jsonPath, markdownPath];
}
