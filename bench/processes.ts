/**
 * The child processes of a benchmark run: the mock upstream (forked, with an IPC channel), a real
 * Sluice node (the bundle `npm start` runs, built from the checkout under test) and, for the cluster scenario, an embedded
 * PostgreSQL (in its own forked keeper, `postgres-keeper.ts`) with a coordinator and an ML node.
 * Every child is registered for cleanup, which run.ts triggers on success, failure, signals and
 * its own watchdog.
 */
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { connectInspector, type InspectorSession } from './inspector.ts';
import type {
  KeeperMessage,
  MockCounters,
  MockMessage,
  ParentMessage,
  TagProgress,
} from './protocol.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Each child with the way to end it at once (synchronously: this also runs in `exit`). */
const children = new Map<ChildProcess, (child: ChildProcess) => void>();
const temporaryDirectories = new Set<string>();
const sigkill = (child: ChildProcess) => child.kill('SIGKILL');

/** Kills every child still running; safe to call more than once and from an `exit` handler. */
export function killAllChildren(): void {
  for (const [child, kill] of children) {
    if (child.exitCode === null && child.signalCode === null) kill(child);
  }
  children.clear();
  for (const directory of temporaryDirectories) rmSync(directory, { recursive: true, force: true });
  temporaryDirectories.clear();
}

/** Resident set size of a process from /proc (Linux), in bytes. */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = status.match(/^VmRSS:\s+(\d+)\s+kB$/m);
  if (match?.[1] === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

// Linux reports utime/stime in clock ticks; USER_HZ is 100 on every common build (getconf CLK_TCK).
const clockTicksPerSecond = 100;

/** CPU time (user + system) a process has used so far, in milliseconds (10 ms resolution). */
export function cpuMilliseconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const userTicks = Number(fields[11]);
  const systemTicks = Number(fields[12]);
  return ((userTicks + systemTicks) * 1000) / clockTicksPerSecond;
}

/**
 * CPU time of a process and all its descendants (PostgreSQL: the postmaster, its backends and
 * helpers), including children already reaped (cutime/cstime), in milliseconds. 0 when the
 * process is gone.
 */
export function treeCpuMilliseconds(rootPid: number): number {
  const stats = new Map<number, { parent: number; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    stats.set(Number(entry), { parent: Number(fields[1]), ticks });
  }
  const inTree = (pid: number): boolean => {
    for (let current = pid, depth = 0; depth < 64; depth += 1) {
      if (current === rootPid) return true;
      const parent = stats.get(current)?.parent;
      if (parent === undefined || parent <= 1) return false;
      current = parent;
    }
    return false;
  };
  let ticks = 0;
  for (const [pid, stat] of stats) if (inTree(pid)) ticks += stat.ticks;
  return (ticks * 1000) / clockTicksPerSecond;
}

/** Machine-wide CPU time from /proc/stat, in milliseconds summed over all cores. */
export interface SystemCpu {
  /** user + nice + system: time attributable to processes (ours and everyone else's). */
  processes: number;
  /** Time the hypervisor gave to other guests: noise no process here can see. */
  steal: number;
}

export function systemCpu(): SystemCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const at = (index: number) => ((ticks[index] ?? 0) * 1000) / clockTicksPerSecond;
  return { processes: at(0) + at(1) + at(2), steal: at(7) };
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export interface CloseReport {
  atEpochMs: number;
  completed: boolean;
}

export interface MockAnswer {
  counters: MockCounters;
  rssBytes: number;
  heapUsedBytes: number;
  tag?: TagProgress;
}

export interface MockUpstream {
  origin: string;
  pid: number;
  /** Resolves when the mock reports the response of `tag` closed (or undefined on timeout). */
  waitForClose(tag: string, timeoutMs: number): Promise<CloseReport | undefined>;
  query(tag?: string, collectGarbage?: boolean): Promise<MockAnswer>;
  resetCounters(): void;
  stop(): Promise<void>;
}

export async function startMockUpstream(): Promise<MockUpstream> {
  const child = fork(join(root, 'bench/mock-upstream.ts'), [], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.set(child, sigkill);
  const closes = new Map<string, CloseReport>();
  const closeWaiters = new Map<string, (report: CloseReport) => void>();
  const answers = new Map<number, (answer: MockAnswer) => void>();
  let nextRequestId = 1;
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`mock upstream exited with ${code}`)));
    child.on('message', (message: MockMessage) => {
      if (message.type === 'ready') resolve(message.port);
      else if (message.type === 'closed') {
        const report = { atEpochMs: message.atEpochMs, completed: message.completed };
        const waiter = closeWaiters.get(message.tag);
        if (waiter === undefined) closes.set(message.tag, report);
        else waiter(report);
      } else {
        answers.get(message.requestId)?.({
          counters: message.counters,
          rssBytes: message.rssBytes,
          heapUsedBytes: message.heapUsedBytes,
          ...(message.tag === undefined ? {} : { tag: message.tag }),
        });
        answers.delete(message.requestId);
      }
    });
  });
  const post = (message: ParentMessage) => child.send(message);
  return {
    origin: `http://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    waitForClose(tag, timeoutMs) {
      const early = closes.get(tag);
      if (early !== undefined) {
        closes.delete(tag);
        return Promise.resolve(early);
      }
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          closeWaiters.delete(tag);
          resolve(undefined);
        }, timeoutMs);
        closeWaiters.set(tag, (report) => {
          clearTimeout(timer);
          closeWaiters.delete(tag);
          resolve(report);
        });
      });
    },
    query(tag, collectGarbage = false) {
      const requestId = nextRequestId++;
      return new Promise((resolve) => {
        answers.set(requestId, resolve);
        post({ type: 'query', requestId, collectGarbage, ...(tag === undefined ? {} : { tag }) });
      });
    },
    resetCounters() {
      closes.clear();
      post({ type: 'reset-counters' });
    },
    async stop() {
      child.disconnect();
      await waitForExit(child, 2_000);
      children.delete(child);
    },
  };
}

export interface SluiceNode {
  origin: string;
  pid: number;
  nodeId: string;
  /** `host:port` of its Arrow Flight endpoint (ML role in a cluster). */
  flightAddress: string | undefined;
  output(): string;
  /** Turns the inspector on (SIGUSR1) on first use and connects to it. */
  inspector(): Promise<InspectorSession>;
  stop(): Promise<void>;
}

export interface SluiceOptions {
  /** Extra Node flags for the Sluice process, e.g. `--cpu-prof`. */
  nodeFlags: string[];
  /** Checkout to build and run Sluice from; this repository when undefined. */
  root: string | undefined;
  /** More arguments for the node (cluster: `--node-roles`, `--flight-port`, ...). */
  args?: string[];
  /** More environment (cluster: `SLUICE_DATABASE_URL`, secrets). */
  env?: Record<string, string>;
}

const entries = new Map<string, string>();

/**
 * How to start Sluice from `checkout` as `npm start` does: build its bundle (once per run) and
 * run it. A checkout from before the bundle existed runs its sources through tsx, as it did then.
 */
function sluiceEntry(checkout: string): string {
  const known = entries.get(checkout);
  if (known !== undefined) return known;
  let entry = 'src/main.ts';
  if (existsSync(join(checkout, 'scripts/build.ts'))) {
    const built = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], {
      cwd: checkout,
      encoding: 'utf8',
    });
    if (built.status !== 0) throw new Error(`build failed in ${checkout}: ${built.stderr}`);
    entry = 'dist/main.js';
  }
  entries.set(checkout, entry);
  return entry;
}

export async function startSluice(options: SluiceOptions): Promise<SluiceNode> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  temporaryDirectories.add(dataDir);
  const child = spawn(
    process.execPath,
    [
      // Only picks a free port for the inspector; it stays off until SIGUSR1 (memory scenarios).
      '--inspect-port=127.0.0.1:0',
      ...options.nodeFlags,
      // tsx for the orphan guard (a .ts file of this checkout); the bundle itself is plain JS.
      '--import',
      'tsx',
      '--import',
      join(root, 'bench/orphan-guard.ts'),
      sluiceEntry(options.root ?? root),
      '--http-port',
      '0',
      '--data-dir',
      dataDir,
      ...(options.args ?? []),
    ],
    {
      cwd: options.root ?? root,
      // The demo model is off: the bench registers its own, and nothing else should run.
      env: {
        ...process.env,
        SLUICE_LOG_LEVEL: 'warn',
        SLUICE_DEMO_MODEL: 'false',
        ...options.env,
      },
      // stdin is the orphan guard's lifeline (see orphan-guard.ts); nothing is written to it.
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  children.set(child, sigkill);
  // Only the tail is kept: warn-level lines are rare, but a failure should not fill memory.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-64 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const listening = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Sluice did not start: ${output}`)), 30_000);
    const onData = () => {
      const match = output.match(
        /Sluice listening on (http:\/\/\S+) \(node ([^,)\s]+)(?:, Arrow Flight on (\S+))?\)/,
      );
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      resolve(match);
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Sluice exited with ${code}: ${output}`));
    });
  });
  let session: Promise<InspectorSession> | undefined;
  const openInspector = async (): Promise<InspectorSession> => {
    child.kill('SIGUSR1');
    const deadline = performance.now() + 10_000;
    for (;;) {
      const match = output.match(/Debugger listening on (ws:\/\/\S+)/);
      if (match?.[1] !== undefined) return connectInspector(match[1]);
      if (performance.now() > deadline) throw new Error(`no inspector: ${output.slice(-500)}`);
      await sleep(50);
    }
  };
  return {
    origin: listening[1] ?? '',
    pid: child.pid ?? 0,
    nodeId: listening[2] ?? '',
    flightAddress: listening[3],
    output: () => output,
    inspector() {
      session ??= openInspector();
      return session;
    },
    async stop() {
      if (session !== undefined) (await session.catch(() => undefined))?.close();
      // SIGTERM lets Sluice shut down cleanly, which is also when --cpu-prof writes its file.
      child.kill('SIGTERM');
      await waitForExit(child, 10_000);
      children.delete(child);
      rmSync(dataDir, { recursive: true, force: true });
      temporaryDirectories.delete(dataDir);
    },
  };
}

async function callJson(origin: string, method: 'PUT' | 'POST', path: string, body: unknown) {
  const response = await request(`${origin}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode >= 300) {
    throw new Error(`${method} ${path} answered ${response.statusCode}: ${text}`);
  }
  return JSON.parse(text) as Record<string, unknown>;
}

/** The operator's one-time setup that allows a loopback upstream. */
export async function allowLoopbackUpstream(sluiceOrigin: string): Promise<void> {
  await callJson(sluiceOrigin, 'PUT', '/_cluster/settings', {
    persistent: {
      'plugins.ml_commons.connector.private_ip_enabled': true,
      'plugins.ml_commons.trusted_connector_endpoints_regex': ['^http://127\\.0\\.0\\.1:\\d+/.*$'],
    },
  });
}

/**
 * Registers and deploys a remote model whose connector points at `upstreamUrl`. With
 * `maxConnection` undefined the connector keeps ml-commons' default client_config.
 */
export async function registerModel(
  sluiceOrigin: string,
  upstreamUrl: string,
  maxConnection: number | undefined,
): Promise<string> {
  const connector: Record<string, unknown> = {
    name: 'bench',
    protocol: 'http',
    actions: [
      {
        action_type: 'predict',
        method: 'POST',
        url: upstreamUrl,
        request_body: '{ "model": "m", "messages": ${parameters.messages} }',
      },
    ],
  };
  if (maxConnection !== undefined) connector['client_config'] = { max_connection: maxConnection };
  const answer = await callJson(
    sluiceOrigin,
    'POST',
    '/_plugins/_ml/models/_register?deploy=true',
    {
      name: 'bench',
      function_name: 'remote',
      connector,
    },
  );
  const modelId = answer['model_id'];
  if (typeof modelId !== 'string')
    throw new Error(`register gave no model_id: ${JSON.stringify(answer)}`);
  return modelId;
}

export interface PostgresServer {
  /** postgresql:// URL of a fresh, empty database (password included; never printed). */
  url: string;
  /** The postmaster: its backends and helper processes are its children. */
  postmasterPid: number;
  /** Stops PostgreSQL and deletes its data. */
  stop(): Promise<void>;
}

/** Starts an embedded PostgreSQL in a keeper process (postgres-keeper.ts). */
export async function startPostgres(): Promise<PostgresServer> {
  const child = fork(join(root, 'bench/postgres-keeper.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // Not SIGKILL: closing the channel makes the keeper stop PostgreSQL and delete its data, and it
  // does so even when this process exits right after.
  children.set(child, (keeper) => {
    if (keeper.connected) keeper.disconnect();
  });
  const ready = await new Promise<{ url: string; postmasterPid: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('PostgreSQL did not start in 60 s')), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the PostgreSQL keeper exited with ${code}`));
    });
    child.once('message', (message: KeeperMessage) => {
      clearTimeout(timer);
      if (message.type === 'ready') resolve(message);
      else reject(new Error(`PostgreSQL did not start: ${message.message}`));
    });
  });
  return {
    ...ready,
    async stop() {
      if (child.connected) child.disconnect();
      await waitForExit(child, 20_000);
      children.delete(child);
    },
  };
}
