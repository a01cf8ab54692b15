/**
 * Configuration from environment variables, each also settable as a CLI flag of `npm start -- …`
 * (the flag wins). Read and validated once, in main.ts; nothing else reads process.env.
 */
import { parseArgs } from 'node:util';

export interface Config {
  httpHost: string;
  /** 0 picks a free port; main.ts prints the one chosen. */
  httpPort: number;
  dataDir: string;
  /** When absent, a key file is generated in the data dir (0600). */
  masterKey: string | undefined;
  logLevel: LogLevel;
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: number;
  /** Register the keyless demo model on start. */
  demoModel: boolean;
}

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

interface OptionDefinition {
  flag: string;
  env: string;
  description: string;
  defaultValue: string | undefined;
}

export const configOptions = {
  httpHost: {
    flag: 'http-host',
    env: 'SLUICE_HTTP_HOST',
    description: 'address to listen on',
    defaultValue: '127.0.0.1',
  },
  httpPort: {
    flag: 'http-port',
    env: 'SLUICE_HTTP_PORT',
    description: 'port to listen on (0 = any free port)',
    defaultValue: '8080',
  },
  dataDir: {
    flag: 'data-dir',
    env: 'SLUICE_DATA_DIR',
    description: 'directory of the embedded store and key file',
    defaultValue: './data',
  },
  masterKey: {
    flag: 'master-key',
    env: 'SLUICE_MASTER_KEY',
    description: 'secret the credential encryption key is derived from',
    defaultValue: undefined,
  },
  logLevel: {
    flag: 'log-level',
    env: 'SLUICE_LOG_LEVEL',
    description: `one of ${logLevels.join(', ')}`,
    defaultValue: 'info',
  },
  maxBodyBytes: {
    flag: 'max-body-bytes',
    env: 'SLUICE_MAX_BODY_BYTES',
    description: 'largest accepted request body in bytes',
    defaultValue: String(10 * 1024 * 1024),
  },
  demoModel: {
    flag: 'demo-model',
    env: 'SLUICE_DEMO_MODEL',
    description: 'register the keyless demo model on start (true/false)',
    defaultValue: 'true',
  },
} as const satisfies Record<keyof Config, OptionDefinition>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): Config {
  const { values } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(
      Object.values(configOptions).map((option) => [option.flag, { type: 'string' as const }]),
    ),
    strict: true,
    allowPositionals: false,
  });
  const raw = (key: keyof Config): string | undefined => {
    const option = configOptions[key];
    const fromFlag = values[option.flag];
    return typeof fromFlag === 'string' ? fromFlag : (env[option.env] ?? option.defaultValue);
  };
  const logLevel = raw('logLevel') ?? 'info';
  if (!isLogLevel(logLevel)) {
    throw new ConfigError(
      `SLUICE_LOG_LEVEL must be one of ${logLevels.join(', ')}; got "${logLevel}"`,
    );
  }
  return {
    httpHost: raw('httpHost') ?? '127.0.0.1',
    httpPort: integer('SLUICE_HTTP_PORT', raw('httpPort'), 0, 65_535),
    dataDir: raw('dataDir') ?? './data',
    masterKey: nonEmpty(raw('masterKey')),
    logLevel,
    maxBodyBytes: integer('SLUICE_MAX_BODY_BYTES', raw('maxBodyBytes'), 1024, 1024 ** 3),
    demoModel: boolean('SLUICE_DEMO_MODEL', raw('demoModel')),
  };
}

function isLogLevel(value: string): value is LogLevel {
  return (logLevels as readonly string[]).includes(value);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function integer(
  name: string,
  value: string | undefined,
  minimum: number,
  maximum: number,
): number {
  const parsed = Number(value);
  if (value === undefined || !/^\d+$/.test(value) || parsed < minimum || parsed > maximum) {
    throw new ConfigError(
      `${name} must be an integer from ${minimum} to ${maximum}; got "${value}"`,
    );
  }
  return parsed;
}

function boolean(name: string, value: string | undefined): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`${name} must be true or false; got "${value}"`);
}
