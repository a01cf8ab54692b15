/**
 * A real Sluice node on a temporary data directory (real SQLite), with a silent logger.
 * `inject` for JSON routes; `listen()` when a test needs a real socket.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { createNode, type SluiceNode } from '../../src/node.ts';

export interface TestNode {
  node: SluiceNode;
  dataDir: string;
  /** JSON request through app.inject; returns status and parsed body. */
  call(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Allows connectors to reach loopback mock servers. */
  allowLoopback(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestNode(
  options: {
    maxBodyBytes?: number;
    logger?: Logger;
    demoModel?: boolean;
    restrictedIpPatterns?: string[];
  } = {},
): Promise<TestNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-test-'));
  const node = await createNode({
    dataDir,
    masterKey: 'test master key, not secret',
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    logger: options.logger ?? pino({ level: 'silent' }),
    demoModel: options.demoModel ?? false,
    ...(options.restrictedIpPatterns === undefined
      ? {}
      : { restrictedIpPatterns: options.restrictedIpPatterns }),
  });
  const call: TestNode['call'] = async (method, url, body) => {
    const response = await node.app.inject({
      method: method as 'GET',
      url,
      ...(body === undefined
        ? {}
        : {
            payload: typeof body === 'string' ? body : JSON.stringify(body),
            headers: { 'content-type': 'application/json' },
          }),
    });
    const text = response.body;
    return { status: response.statusCode, body: text === '' ? undefined : JSON.parse(text) };
  };
  return {
    node,
    dataDir,
    call,
    async allowLoopback() {
      const response = await call('PUT', '/_cluster/settings', {
        persistent: {
          'plugins.ml_commons.connector.private_ip_enabled': true,
          'plugins.ml_commons.trusted_connector_endpoints_regex': [
            '^http://127\\.0\\.0\\.1:\\d+/.*$',
          ],
        },
      });
      if (response.status !== 200)
        throw new Error(`settings refused: ${JSON.stringify(response.body)}`);
    },
    async close() {
      await node.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A logger at trace level whose every line is kept, to prove what logs never contain. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino(
    { level: 'trace' },
    {
      write(line: string) {
        lines.push(line);
      },
    },
  );
  return { logger, lines };
}
