/**
 * Sluice as a real child process (`node --import tsx src/main.ts`, or a built bundle), for tests
 * that need a real restart or real signals. Resolves once the node printed its listening line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ProcessNode {
  child: ChildProcess;
  baseUrl: string;
  nodeId: string;
  /** `host:port` of its Arrow Flight endpoint, when it runs one. */
  flightAddress: string | undefined;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startProcessNode(
  args: string[],
  env: Record<string, string> = {},
  /** A file built by scripts/build.ts; the sources through tsx when undefined. */
  bundle?: string,
): Promise<ProcessNode> {
  const { child, output } = spawnNode(args, env, bundle);
  const listening = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const onData = () => {
      const match = output().match(
        /Sluice listening on (\S+) \(node ([^,)\s]+)(?:, Arrow Flight on (\S+))?\)/,
      );
      if (match !== null) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        resolve(match);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`exited with ${code}: ${output()}`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
  return {
    child,
    baseUrl: listening[1] ?? '',
    nodeId: listening[2] ?? '',
    flightAddress: listening[3],
    output,
    async stop(signal = 'SIGTERM') {
      // A process killed by a signal has a signalCode and no exitCode.
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}

/** Runs the node expecting it to fail at start; returns exit code and output. */
export async function runFailingNode(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  const { child, output } = spawnNode(args, env);
  const [code] = await once(child, 'exit');
  return { code: code as number | null, output: output() };
}

/** Spawns the node with its stdout and stderr collected into one text. */
function spawnNode(
  args: string[],
  env: Record<string, string>,
  bundle?: string,
): { child: ChildProcess; output: () => string } {
  const entry = bundle === undefined ? ['--import', 'tsx', 'src/main.ts'] : [bundle];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: root,
    env: { ...process.env, SLUICE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return { child, output: () => output };
}
