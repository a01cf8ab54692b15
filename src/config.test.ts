import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const config = loadConfig([], {});
    assert.deepEqual(
      {
        host: config.httpHost,
        port: config.httpPort,
        dataDir: config.dataDir,
        masterKey: config.masterKey,
        logLevel: config.logLevel,
        roles: config.nodeRoles,
        database: config.databaseUrl,
        demo: config.demoModel,
        sqliteDriver: config.sqliteDriver,
      },
      {
        host: '127.0.0.1',
        port: 8080,
        dataDir: './data',
        masterKey: undefined,
        logLevel: 'info',
        roles: ['coordinator', 'ml'],
        database: undefined,
        demo: true,
        sqliteDriver: 'auto',
      },
    );
  });

  it('reads environment variables, and flags win over them', () => {
    const config = loadConfig(['--http-port', '0', '--log-level', 'warn'], {
      SLUICE_HTTP_PORT: '9000',
      SLUICE_HTTP_HOST: '0.0.0.0',
      SLUICE_LOG_LEVEL: 'debug',
      SLUICE_NODE_ROLES: 'ml',
    });
    assert.equal(config.httpPort, 0);
    assert.equal(config.httpHost, '0.0.0.0');
    assert.equal(config.logLevel, 'warn');
    assert.deepEqual(config.nodeRoles, ['ml']);
  });

  it('refuses invalid values with a message naming the variable', () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--http-port', '70000'], {}, /SLUICE_HTTP_PORT/],
      [[], { SLUICE_HTTP_PORT: 'eighty' }, /SLUICE_HTTP_PORT/],
      [[], { SLUICE_LOG_LEVEL: 'loud' }, /SLUICE_LOG_LEVEL/],
      [[], { SLUICE_NODE_ROLES: 'coordinator,gpu' }, /SLUICE_NODE_ROLES/],
      [[], { SLUICE_DEMO_MODEL: 'maybe' }, /SLUICE_DEMO_MODEL/],
      [[], { SLUICE_SQLITE_DRIVER: 'sqlite3' }, /SLUICE_SQLITE_DRIVER/],
      [[], { SLUICE_RESTRICTED_IP_PATTERNS: '169.254.*' }, /SLUICE_RESTRICTED_IP_PATTERNS/],
      [[], { SLUICE_RESTRICTED_IP_PATTERNS: '[1]' }, /SLUICE_RESTRICTED_IP_PATTERNS/],
      [[], { SLUICE_RESTRICTED_IP_PATTERNS: '["(unclosed"]' }, /invalid regular expression/],
      [[], { SLUICE_RESTRICTED_IP_PATTERNS: '["(1+)+"]' }, /exponential time/],
      [[], { SLUICE_DATABASE_URL: 'postgres://x/y' }, /SLUICE_CLUSTER_SECRET/],
      [
        [],
        { SLUICE_DATABASE_URL: 'postgres://x/y', SLUICE_CLUSTER_SECRET: 'a secret of length' },
        /SLUICE_MASTER_KEY/,
      ],
    ];
    for (const [argv, env, message] of cases) {
      assert.throws(
        () => loadConfig(argv, env),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });

  it('reads the restricted address patterns as a JSON list, empty by default', () => {
    assert.deepEqual(loadConfig([], {}).restrictedIpPatterns, []);
    const patterns = ['169\\.254\\..*', '^10\\.'];
    const fromEnv = loadConfig([], { SLUICE_RESTRICTED_IP_PATTERNS: JSON.stringify(patterns) });
    assert.deepEqual(fromEnv.restrictedIpPatterns, patterns);
    const fromFlag = loadConfig(['--restricted-ip-patterns', '["^127\\\\."]'], {});
    assert.deepEqual(fromFlag.restrictedIpPatterns, ['^127\\.']);
  });

  it('refuses unknown flags', () => {
    assert.throws(() => loadConfig(['--no-such-flag'], {}));
  });
});
