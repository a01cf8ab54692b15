/**
 * Composition root: the only file that reads process.env and calls listen().
 */
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.ts';
import { createNode } from './node.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof ConfigError || (error instanceof TypeError && 'code' in error)) {
      process.stderr.write(`sluice: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  // Asynchronous writes: the lines logged in one tick leave in one write(2) instead of one each
  // (at info level every stream logs a line). Nothing waits for a buffer to fill, so a quiet
  // node's lines still appear at once; they are flushed before the process exits.
  const destination = pino.destination({ dest: 1, sync: false });
  const logger = pino(
    {
      level: config.logLevel,
      // Credentials travel in these headers; they must never reach a log line.
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-api-key"]',
          'req.headers.cookie',
          'headers.authorization',
          'headers["x-api-key"]',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
  const exit = (code: number) => logger.flush(() => process.exit(code));
  const node = await createNode({
    dataDir: config.dataDir,
    sqliteDriver: config.sqliteDriver,
    masterKey: config.masterKey,
    maxBodyBytes: config.maxBodyBytes,
    logger,
    demoModel: config.demoModel,
    databaseUrl: config.databaseUrl,
    roles: config.nodeRoles,
    nodeName: config.nodeName,
    flight: { host: config.flightHost, port: config.flightPort },
    clusterSecret: config.clusterSecret,
    heartbeatMs: config.heartbeatMs,
    leaseMs: config.leaseMs,
    restrictedIpPatterns: config.restrictedIpPatterns,
  });
  const address = await node.listen(config.httpHost, config.httpPort);
  const flight = node.flightAddress === undefined ? '' : `, Arrow Flight on ${node.flightAddress}`;
  process.stdout.write(`Sluice listening on ${address} (node ${node.nodeId}${flight})\n`);
  if (config.demoModel) {
    process.stdout.write(
      `Try the keyless demo model: curl -N -X POST ${address}/_plugins/_ml/models/sluice-demo/_predict/stream -H 'content-type: application/json' -d '{"parameters":{"messages":[{"role":"user","content":"Hello"}]}}'\n`,
    );
  }

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    node.close().then(
      () => exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `sluice: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
