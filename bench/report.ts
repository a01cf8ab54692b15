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

const defaultColumns: [string, string, string] = ['Direct', 'Sluice', 'Sluice vs direct'];

/**
 * The results as markdown: one table for the scenarios that compare Sluice with direct, and one
 * more for each run of scenarios with columns of their own (the cluster scenario).
 */
export function markdownTable(scenarios: readonly ScenarioResult[]): string {
  const groups: { columns: [string, string, string]; scenarios: ScenarioResult[] }[] = [];
  for (const scenario of scenarios) {
    const columns = scenario.columns ?? defaultColumns;
    const last = groups.at(-1);
    if (last !== undefined && last.columns.join('|') === columns.join('|')) {
      last.scenarios.push(scenario);
    } else {
      groups.push({ columns, scenarios: [scenario] });
    }
  }
  return groups.map((group) => oneTable(group.scenarios, group.columns)).join('\n\n');
}

/** A markdown table padded the way `biome format` writes it, so the file passes format:check. */
function oneTable(scenarios: readonly ScenarioResult[], columns: [string, string, string]): string {
  const header = ['Scenario', 'Metric', ...columns, 'Target', 'Result'];
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

// One JSON value that is a string, number, boolean or null.
const primitive = String.raw`(?:"(?:[^"\\\n]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null)`;
const primitiveArray = new RegExp(
  String.raw`^( *)("(?:[^"\\\n]|\\.)*": )?\[\n((?: *${primitive},?\n)+) *\](,?)$`,
  'gm',
);

/**
 * JSON as `biome format` writes it (so latest.json passes format:check): JSON.stringify's
 * two-space layout, except that an array of plain values goes on one line when it fits in 100
 * columns.
 */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(
    primitiveArray,
    (whole, indent: string, key: string | undefined, body: string, comma: string) => {
      const items = body
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => line.trim().replace(/,$/, ''));
      const line = `${indent}${key ?? ''}[${items.join(', ')}]${comma}`;
      return line.length <= 100 ? line : whole;
    },
  );
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
  writeFileSync(jsonPath, `${formatJson(summary)}\n`);
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
