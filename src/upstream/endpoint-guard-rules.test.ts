/**
 * `trusted_connector_private_endpoints_regex` and `connector.restricted_ip_patterns`, at connector
 * creation (`checkEndpointAddress`) and at connect (`createGuardedLookup`, with a rebinding DNS
 * answer in front of a real loopback server).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Agent, buildConnector, request } from 'undici';
import { closeAll, httpServer, statusSequence } from './client.fixtures.ts';
import { badRequestWith, closedPolicy, privatePolicy } from './endpoint-guard.fixtures.ts';
import {
  type AddressPolicy,
  addressRules,
  checkEndpointAddress,
  createGuardedLookup,
  type HostResolver,
} from './endpoint-guard.ts';

after(closeAll);

describe('trusted_connector_private_endpoints_regex', () => {
  const trusted: AddressPolicy = {
    ...privatePolicy,
    trustedPrivateEndpointsRegex: [
      '^http://127\\.0\\.0\\.1:\\d+/v1/.*$',
      '^http://localhost:9/v1/.*$',
    ],
  };

  it('lets a matching private endpoint through while private_ip_enabled is true', async () => {
    await checkEndpointAddress('http://127.0.0.1:9/v1/chat/completions', trusted);
    await checkEndpointAddress('http://localhost:9/v1/chat/completions', trusted);
  });

  it('refuses a private endpoint it does not match, with the ml-commons message', async () => {
    for (const url of [
      'http://127.0.0.1:9/admin',
      'http://localhost:9/admin',
      'http://10.0.0.1/v1/x',
    ]) {
      await assert.rejects(
        checkEndpointAddress(url, trusted),
        badRequestWith(
          /^Connector URL is not matching the trusted connector private endpoint regex$/,
        ),
        url,
      );
    }
  });

  it('does not lift the private refusal while private_ip_enabled is false', async () => {
    await assert.rejects(
      checkEndpointAddress('http://127.0.0.1:9/v1/chat/completions', {
        ...trusted,
        privateIpEnabled: false,
      }),
      badRequestWith(/^Remote inference host name has private ip address: 127\.0\.0\.1$/),
    );
  });

  it('never restricts public addresses', async () => {
    await checkEndpointAddress('https://8.8.8.8/anything', trusted);
  });

  it('matches the whole URL, and a pattern that does not compile matches nothing', () => {
    const rules = (url: string, patterns: string[]) =>
      addressRules(url, { ...privatePolicy, trustedPrivateEndpointsRegex: patterns })
        .privateRefusal;
    assert.equal(
      rules('http://10.0.0.1/x', ['http://10\\.0\\.0\\.1']),
      'untrusted_private_endpoint',
    );
    assert.equal(rules('http://10.0.0.1/x', ['http://10\\.0\\.0\\.1/.*']), undefined);
    assert.equal(rules('http://10.0.0.1/x', ['(unclosed']), 'untrusted_private_endpoint');
    assert.equal(rules('http://10.0.0.1/x', []), undefined);
    assert.equal(
      addressRules('http://10.0.0.1/x', { ...closedPolicy, trustedPrivateEndpointsRegex: ['.*'] })
        .privateRefusal,
      'private_ip_disabled',
    );
  });
});

describe('connector.restricted_ip_patterns', () => {
  const restricted = (patterns: string[], base = privatePolicy): AddressPolicy => ({
    ...base,
    restrictedIpPatterns: patterns,
  });

  it('refuses a matching address even with private_ip_enabled true', async () => {
    await assert.rejects(
      checkEndpointAddress(
        'http://169.254.169.254/latest/meta-data',
        restricted(['169\\.254\\..*']),
      ),
      badRequestWith(/^Remote inference host name has restricted ip address: 169\.254\.169\.254$/),
    );
    await assert.rejects(
      checkEndpointAddress('http://localhost:9/x', restricted(['127\\..*', '::1'])),
      badRequestWith(/^Remote inference host name has restricted ip address: localhost$/),
    );
  });

  it('wins over the private refusal and over a matching private endpoint', async () => {
    await assert.rejects(
      checkEndpointAddress('http://127.0.0.1/x', restricted(['127\\..*'], closedPolicy)),
      badRequestWith(/restricted ip address: 127\.0\.0\.1$/),
    );
    await assert.rejects(
      checkEndpointAddress('http://10.0.0.1/v1/x', {
        ...restricted(['10\\..*']),
        trustedPrivateEndpointsRegex: ['^http://10\\.0\\.0\\.1/v1/.*$'],
      }),
      badRequestWith(/restricted ip address: 10\.0\.0\.1$/),
    );
  });

  it('matches the Java, compressed and embedded IPv4 spellings of an IPv6 address', async () => {
    const cases: [url: string, pattern: string][] = [
      ['http://[::1]/x', '0:0:0:0:0:0:0:1'],
      ['http://[::1]/x', '::1'],
      ['http://[::ffff:169.254.169.254]/x', '169\\.254\\.169\\.254'],
      ['http://[64:ff9b::a9fe:a9fe]/x', '169\\.254\\..*'],
      ['http://[2001:db8::1]/x', '2001:db8:0:0:0:0:0:1'],
      // Unspecified addresses connect to this host's loopback on Linux.
      ['http://0.0.0.0/x', '127\\..*'],
      ['http://0:9/x', '127\\..*'],
      ['http://[::]/x', '::1'],
    ];
    for (const [url, pattern] of cases) {
      await assert.rejects(
        checkEndpointAddress(url, restricted([pattern])),
        badRequestWith(/restricted ip address/),
        `${url} ${pattern}`,
      );
    }
  });

  it('lets other addresses through, and matches the whole address text', async () => {
    await checkEndpointAddress('https://8.8.8.8/x', restricted(['169\\.254\\..*']));
    await checkEndpointAddress('http://10.0.0.1/x', restricted(['0\\.0\\.1']));
  });

  it('fails closed: a pattern that does not compile restricts every address', async () => {
    await assert.rejects(
      checkEndpointAddress('https://8.8.8.8/x', restricted(['(unclosed'])),
      badRequestWith(/^Remote inference host name has restricted ip address: 8\.8\.8\.8$/),
    );
  });
});

/**
 * DNS rebinding against a real loopback server: the resolver answers a public address to the
 * creation-time check, then loopback to the socket. The server is really there, so only the
 * guarded lookup stands between the connector and it.
 */
describe('rebinding DNS, checked at creation and again at connect', () => {
  async function createThenCall(path: string, policy: AddressPolicy) {
    const server = await httpServer(statusSequence(200));
    const url = `http://rebind.test:${server.port}${path}`;
    // The attacker's DNS server answers a public address while the connector is created, and
    // loopback once it is used.
    let phase: 'create' | 'connect' = 'create';
    const resolve: HostResolver = (_hostname, _options, callback) => {
      const address = phase === 'create' ? '93.184.215.14' : '127.0.0.1';
      callback(null, [{ address, family: 4 }]);
    };
    await checkEndpointAddress(url, policy, { resolve });
    phase = 'connect';
    const agent = new Agent({
      connect: buildConnector({ lookup: createGuardedLookup(addressRules(url, policy), resolve) }),
    });
    try {
      const response = await request(url, { dispatcher: agent });
      await response.body.dump();
      return { status: response.statusCode, server };
    } catch (error) {
      return { error: error as NodeJS.ErrnoException, server };
    } finally {
      await agent.close();
    }
  }

  it('reaches the server when nothing refuses loopback (the control case)', async () => {
    const { status, server } = await createThenCall('/v1/x', privatePolicy);
    assert.equal(status, 200);
    assert.equal(server.hits(), 1);
  });

  it('refuses a restricted address at connect, with private_ip_enabled true', async () => {
    const policy = { ...privatePolicy, restrictedIpPatterns: ['127\\..*'] };
    const { error, server } = await createThenCall('/v1/x', policy);
    assert.equal(error?.code, 'SLUICE_PRIVATE_ADDRESS');
    assert.equal(
      error?.message,
      'Remote inference host name has restricted ip address: rebind.test',
    );
    assert.equal(server.connections(), 0);
  });

  it('refuses a private address for a URL the private-endpoint patterns do not match', async () => {
    const policy = {
      ...privatePolicy,
      trustedPrivateEndpointsRegex: ['^http://rebind\\.test:\\d+/v1/.*$'],
    };
    const refused = await createThenCall('/admin', policy);
    assert.equal(
      refused.error?.message,
      'Connector URL is not matching the trusted connector private endpoint regex',
    );
    assert.equal(refused.server.connections(), 0);
    const allowed = await createThenCall('/v1/x', policy);
    assert.equal(allowed.status, 200);
  });

  it('refuses a private address at connect while private_ip_enabled is false', async () => {
    const { error, server } = await createThenCall('/v1/x', closedPolicy);
    assert.equal(error?.message, 'Remote inference host name has private ip address: rebind.test');
    assert.equal(server.connections(), 0);
  });
});
