/**
 * `node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]`
 *
 * Summarises a V8 CPU profile written by `npm run bench -- --cpu-prof`: self time by
 * function and by package (or src/ folder), so a failed target can be traced to its cause
 * without opening DevTools.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [path, topArgument] = process.argv.slice(2);
if (path === undefined) {
  process.stderr.write('usage: profile-summary.ts <file.cpuprofile> [top]\n');
  process.exit(2);
}
const top = Number(topArgument ?? 30);
const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));

/** Where a frame's code lives: an npm package, a src/ folder, or Node itself. */
function areaOf(url: string): string {
  if (url === '') return '(native / V8)';
  const packageMatch = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (packageMatch?.[1] !== undefined) return packageMatch[1];
  const sourceMatch = url.match(/\/(src\/[^/]+)\//);
  if (sourceMatch?.[1] !== undefined) return sourceMatch[1];
  if (url.startsWith('node:'))
    return url.replace(/^node:(internal\/)?/, 'node:').split('/')[0] ?? url;
  return url;
}

const selfByFunction = new Map<string, number>();
const selfByArea = new Map<string, number>();
let total = 0;
for (let index = 0; index < profile.samples.length; index += 1) {
  const node = byId.get(profile.samples[index] ?? -1);
  const delta = profile.timeDeltas[index] ?? 0;
  if (node === undefined) continue;
  total += delta;
  const { functionName, url, lineNumber } = node.callFrame;
  const shortUrl = url.replace(/^.*\/(node_modules|src)\//, '$1/');
  const key = `${functionName || '(anonymous)'} ${shortUrl}:${lineNumber + 1}`;
  selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + delta);
  const area = areaOf(url);
  selfByArea.set(area, (selfByArea.get(area) ?? 0) + delta);
}

function print(title: string, entries: Map<string, number>): void {
  process.stdout.write(`\n${title}\n`);
  const sorted = [...entries].sort((left, right) => right[1] - left[1]).slice(0, top);
  for (const [key, micros] of sorted) {
    const share = ((micros / total) * 100).toFixed(1).padStart(5);
    process.stdout.write(`${share} %  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}\n`);
  }
}

process.stdout.write(`total sampled: ${(total / 1000).toFixed(0)} ms\n`);
print('self time by area', selfByArea);
print('self time by function', selfByFunction);
