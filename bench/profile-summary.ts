/**
 * `node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]`
 *
 * Summarises a V8 CPU profile written by `npm run bench -- --cpu-prof`: busy time by activity
 * (gRPC, Arrow, JSON, HTTP, ...), self time by function and by package (or src/ folder), so a
 * failed target can be traced to its cause without opening DevTools.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * What a sample was doing, from the innermost frame outwards: the first frame that belongs to
 * one of these wins, so a `writev` under HTTP/2 counts as gRPC, one under node:http as HTTP.
 */
const activities: readonly [string, (frame: ProfileNode['callFrame']) => boolean][] = [
  [
    'JSON parse / stringify',
    ({ functionName, url }) =>
      (url === '' && (functionName === 'parse' || functionName === 'stringify')) ||
      url.includes('node_modules/secure-json-parse/') ||
      url.endsWith('src/providers/shared/json.ts'),
  ],
  [
    'Arrow IPC encode / decode (apache-arrow, flatbuffers, src/flight ipc + record-batch)',
    ({ url }) =>
      /node_modules\/(apache-arrow|flatbuffers)\//.test(url) ||
      /src\/flight\/(ipc|record-batch|part-codec|part-decoder|ipc-flatbuffer|batch-layout)\.ts$/.test(
        url,
      ),
  ],
  [
    'gRPC + HTTP/2 (node:http2, src/flight transport)',
    ({ url }) =>
      url.includes('node_modules/@grpc/') ||
      url.startsWith('node:internal/http2') ||
      url === 'node:http2' ||
      /src\/flight\/(client|server|protocol|status|auth|service|message-queue)\.ts$/.test(url) ||
      /src\/flight\/(grpc|http2)-[a-z0-9-]+\.ts$/.test(url),
  ],
  ['cluster routing and membership (src/cluster)', ({ url }) => url.includes('/src/cluster/')],
  [
    'upstream HTTP client (undici, src/upstream)',
    ({ url }) => url.includes('node_modules/undici/') || url.includes('/src/upstream/'),
  ],
  [
    'provider SSE decoding (eventsource-parser, src/providers, src/wire)',
    ({ url }) =>
      url.includes('node_modules/eventsource-parser/') ||
      url.includes('/src/providers/') ||
      url.includes('/src/wire/'),
  ],
  [
    'client-facing HTTP + SSE (fastify, node:http, src/api)',
    ({ url }) =>
      /node_modules\/(fastify|find-my-way|avvio|light-my-request|@fastify)\//.test(url) ||
      url.startsWith('node:_http') ||
      url.startsWith('node:internal/http') ||
      url === 'node:http' ||
      url.includes('/src/api/'),
  ],
  [
    'Sluice pipeline (src/predict, src/connector, src/control, ...)',
    ({ url }) => url.includes('/src/'),
  ],
  [
    'PostgreSQL / SQLite client',
    ({ url }) => /node_modules\/(pg|pg-[a-z]+|better-sqlite3)\//.test(url),
  ],
  [
    'module loading (tsx, ESM loader)',
    ({ url }) => url.includes('node_modules/tsx/') || url.startsWith('node:internal/modules'),
  ],
];

const [path, topArgument] = process.argv.slice(2);
if (path === undefined) {
  process.stderr.write('usage: profile-summary.ts <file.cpuprofile> [top]\n');
  process.exit(2);
}
const top = Number(topArgument ?? 30);
const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;

/**
 * Frames of the bundle (`npm start` runs dist/main.js) are mapped back to their src/ file and
 * line through the bundle's source map, so areas and activities name src/ folders as before.
 */
const sourceMaps = new Map<string, SourceMap | undefined>();
function sourceMapOf(url: string): SourceMap | undefined {
  if (!url.startsWith('file://') || !url.endsWith('.js') || url.includes('/node_modules/'))
    return undefined;
  if (!sourceMaps.has(url)) {
    const mapFile = `${fileURLToPath(url)}.map`;
    sourceMaps.set(
      url,
      existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))) : undefined,
    );
  }
  return sourceMaps.get(url);
}
for (const node of profile.nodes) {
  const frame = node.callFrame;
  const entry = sourceMapOf(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
  if (entry !== undefined && 'originalSource' in entry) {
    frame.url = new URL(entry.originalSource, frame.url).href;
    frame.lineNumber = entry.originalLine;
  }
}
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

const parentOf = new Map<number, number>();
for (const node of profile.nodes)
  for (const child of node.children ?? []) parentOf.set(child, node.id);

function activityOf(leaf: ProfileNode): string {
  const name = leaf.callFrame.functionName;
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') return name;
  for (let id: number | undefined = leaf.id; id !== undefined; id = parentOf.get(id)) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) break;
    for (const [activity, matches] of activities) if (matches(frame)) return activity;
  }
  return 'other (Node core streams, events, promises, timers)';
}

const byActivity = new Map<string, number>();
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
  const activity = activityOf(node);
  byActivity.set(activity, (byActivity.get(activity) ?? 0) + delta);
}
const idle = byActivity.get('(idle)') ?? 0;
byActivity.delete('(idle)');
const busy = total - idle;

function print(title: string, entries: Map<string, number>): void {
  process.stdout.write(`\n${title}\n`);
  const sorted = [...entries].sort((left, right) => right[1] - left[1]).slice(0, top);
  for (const [key, micros] of sorted) {
    const share = ((micros / total) * 100).toFixed(1).padStart(5);
    process.stdout.write(`${share} %  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}\n`);
  }
}

process.stdout.write(
  `total sampled: ${(total / 1000).toFixed(0)} ms, of which busy ${(busy / 1000).toFixed(0)} ms ` +
    `(${((busy / Math.max(1, total)) * 100).toFixed(1)} %)\n`,
);
process.stdout.write('\nbusy time by activity (share of busy time)\n');
for (const [activity, micros] of [...byActivity].sort((left, right) => right[1] - left[1])) {
  const share = ((micros / Math.max(1, busy)) * 100).toFixed(1).padStart(5);
  process.stdout.write(`${share} %  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${activity}\n`);
}
print('self time by area', selfByArea);
print('self time by function', selfByFunction);
