/**
 * Configuration from environment variables, each also settable as a CLI flag of `npm start -- …`
 * (the flag wins). Read and validated once, in main.ts; nothing else reads process.env.
 */
import { parseArgs } from 'node:util';
import { slowPatternReason } from './domain/regex-screen.ts';
import { type SqliteDriverChoice, sqliteDriverChoices } from './store/sqlite-driver.ts';

export interface Config {
  httpHost: string;
  /** 0 picks a free port; main.ts prints the one chosen. */
  httpPort: number;
  dataDir: string;
  /** Which driver runs the embedded SQLite store; 'auto' picks by Node version. */
  sqliteDriver: SqliteDriverChoice;
  /** When absent, a key file is generated in the data dir (0600). */
  masterKey: string | undefined;
  logLevel: LogLevel;
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: number;
  /** Register the keyless demo model on start. */
  demoModel: boolean;
  /** PostgreSQL URL of the shared store; unset = embedded SQLite, single node. */
  databaseUrl: string | undefined;
  nodeRoles: NodeRole[];
  nodeName: string | undefined;
  flightHost: string;
  flightPort: number;
  /** Shared by the nodes of a cluster to authenticate each other; required with a database URL. */
  clusterSecret: string | undefined;
  /** How often a node renews its lease in the membership table. */
  heartbeatMs: number;
  /** How long a lease lasts: a node silent for longer receives no new work. */
  leaseMs: number;
  /**
   * `plugins.ml_commons.connector.restricted_ip_patterns`: addresses no connector may reach,
   * whatever the dynamic settings say. A node setting, as in ml-commons (opensearch.yml only),
   * so that whoever may change cluster settings cannot lift it.
   */
  restrictedIpPatterns: string[];
}

export const nodeRoles = ['coordinator', 'ml'] as const;
export type NodeRole = (typeof nodeRoles)[number];

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
  sqliteDriver: {
    flag: 'sqlite-driver',
    env: 'SLUICE_SQLITE_DRIVER',
    description: `one of ${sqliteDriverChoices.join(', ')} (auto: node:sqlite from Node 24)`,
    defaultValue: 'auto',
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
  databaseUrl: {
    flag: 'database-url',
    env: 'SLUICE_DATABASE_URL',
    description: 'postgres:// URL of the shared store (cluster); unset = SQLite',
    defaultValue: undefined,
  },
  nodeRoles: {
    flag: 'node-roles',
    env: 'SLUICE_NODE_ROLES',
    description: 'comma-separated roles: coordinator, ml',
    defaultValue: 'coordinator,ml',
  },
  nodeName: {
    flag: 'node-name',
    env: 'SLUICE_NODE_NAME',
    description: 'a readable name for this node (default: derived from its id)',
    defaultValue: undefined,
  },
  flightHost: {
    flag: 'flight-host',
    env: 'SLUICE_FLIGHT_HOST',
    description: 'address the Arrow Flight endpoint listens on and publishes (ML nodes)',
    defaultValue: '127.0.0.1',
  },
  flightPort: {
    flag: 'flight-port',
    env: 'SLUICE_FLIGHT_PORT',
    description: 'port of the Arrow Flight endpoint (0 = any free port)',
    defaultValue: '8815',
  },
  clusterSecret: {
    flag: 'cluster-secret',
    env: 'SLUICE_CLUSTER_SECRET',
    description: 'secret the nodes of a cluster authenticate each other with',
    defaultValue: undefined,
  },
  heartbeatMs: {
    flag: 'heartbeat-ms',
    env: 'SLUICE_HEARTBEAT_MS',
    description: 'milliseconds between membership heartbeats',
    defaultValue: '1000',
  },
  leaseMs: {
    flag: 'lease-ms',
    env: 'SLUICE_LEASE_MS',
    description: 'milliseconds a heartbeat lease lasts',
    defaultValue: '5000',
  },
  restrictedIpPatterns: {
    flag: 'restricted-ip-patterns',
    env: 'SLUICE_RESTRICTED_IP_PATTERNS',
    description:
      'JSON list of regular expressions; a connector whose host resolves to a matching address is refused',
    defaultValue: '[]',
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
  const sqliteDriver = raw('sqliteDriver') ?? 'auto';
  if (!isSqliteDriverChoice(sqliteDriver)) {
    throw new ConfigError(
      `SLUICE_SQLITE_DRIVER must be one of ${sqliteDriverChoices.join(', ')}; got "${sqliteDriver}"`,
    );
  }
  const config: Config = {
    httpHost: raw('httpHost') ?? '127.0.0.1',
    httpPort: integer('SLUICE_HTTP_PORT', raw('httpPort'), 0, 65_535),
    dataDir: raw('dataDir') ?? './data',
    sqliteDriver,
    masterKey: nonEmpty(raw('masterKey')),
    logLevel,
    maxBodyBytes: integer('SLUICE_MAX_BODY_BYTES', raw('maxBodyBytes'), 1024, 1024 ** 3),
    demoModel: boolean('SLUICE_DEMO_MODEL', raw('demoModel')),
    databaseUrl: nonEmpty(raw('databaseUrl')),
    nodeRoles: roles(raw('nodeRoles') ?? ''),
    nodeName: nonEmpty(raw('nodeName')),
    flightHost: raw('flightHost') ?? '127.0.0.1',
    flightPort: integer('SLUICE_FLIGHT_PORT', raw('flightPort'), 0, 65_535),
    clusterSecret: nonEmpty(raw('clusterSecret')),
    heartbeatMs: integer('SLUICE_HEARTBEAT_MS', raw('heartbeatMs'), 50, 60_000),
    leaseMs: integer('SLUICE_LEASE_MS', raw('leaseMs'), 200, 600_000),
    restrictedIpPatterns: patternList('SLUICE_RESTRICTED_IP_PATTERNS', raw('restrictedIpPatterns')),
  };
  if (config.leaseMs <= config.heartbeatMs) {
    throw new ConfigError('SLUICE_LEASE_MS must be longer than SLUICE_HEARTBEAT_MS');
  }
  if (config.databaseUrl !== undefined) {
    if (config.clusterSecret === undefined || config.clusterSecret.length < 16) {
      throw new ConfigError(
        'SLUICE_CLUSTER_SECRET (at least 16 characters) is required with SLUICE_DATABASE_URL: nodes authenticate each other with it',
      );
    }
    if (config.masterKey === undefined) {
      throw new ConfigError(
        'SLUICE_MASTER_KEY is required with SLUICE_DATABASE_URL: every node must decrypt the same credentials',
      );
    }
  }
  return config;
}

function roles(value: string): NodeRole[] {
  const list = value
    .split(',')
    .map((role) => role.trim().toLowerCase())
    .filter(Boolean);
  const unknown = list.filter((role) => !(nodeRoles as readonly string[]).includes(role));
  if (list.length === 0 || unknown.length > 0) {
    throw new ConfigError(
      `SLUICE_NODE_ROLES must list ${nodeRoles.join(' and/or ')}; got "${value}"`,
    );
  }
  return [...new Set(list)] as NodeRole[];
}

function isLogLevel(value: string): value is LogLevel {
  return (logLevels as readonly string[]).includes(value);
}

function isSqliteDriverChoice(value: string): value is SqliteDriverChoice {
  return (sqliteDriverChoices as readonly string[]).includes(value);
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

/** A JSON list of regular expressions, each of which must compile (a deny list fails loudly). */
function patternList(name: string, value: string | undefined): string[] {
  let list: unknown;
  try {
    list = JSON.parse(value ?? '[]');
  } catch {
    list = undefined;
  }
  if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
    throw new ConfigError(`${name} must be a JSON list of strings; got ${JSON.stringify(value)}`);
  }
  for (const pattern of list) {
    try {
      new RegExp(pattern);
    } catch {
      throw new ConfigError(
        `${name} holds an invalid regular expression: ${JSON.stringify(pattern)}`,
      );
    }
    const slow = slowPatternReason(pattern);
    if (slow !== undefined) {
      throw new ConfigError(
        `${name} holds a regular expression that may take exponential time (${slow}): ${JSON.stringify(pattern)}`,
      );
    }
  }
  return list;
}

function boolean(name: string, value: string | undefined): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`${name} must be true or false; got "${value}"`);
}
