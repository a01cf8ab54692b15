import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import { effectiveSettings, settingDefinitions } from '../domain/settings.ts';
import { badRequestWith, closedPolicy, privatePolicy } from './endpoint-guard.fixtures.ts';
import {
  addressRules,
  checkEndpointAddress,
  checkTrustedEndpoint,
  createGuardedLookup,
  isDisallowedAddress,
  maxUrlLength,
} from './endpoint-guard.ts';

const defaults = settingDefinitions['plugins.ml_commons.trusted_connector_endpoints_regex']
  .defaultValue as string[];

describe('checkTrustedEndpoint', () => {
  it('accepts URLs matching a default pattern', () => {
    checkTrustedEndpoint('https://api.openai.com/v1/chat/completions', defaults);
    checkTrustedEndpoint(
      'https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1:0/converse-stream',
      defaults,
    );
  });

  it('refuses look-alike hosts that the ml-commons AWS patterns let through', () => {
    for (const url of [
      'https://bedrock-runtime.evil.example/x.amazonaws.com/model/m/converse',
      'https://runtime.sagemaker.evil.example/a.amazonaws.com/endpoints/e/invocations',
      'https://bedrock.evil.example/?.amazonaws.com/',
    ]) {
      assert.throws(() => checkTrustedEndpoint(url, defaults), badRequestWith(/not matching/), url);
    }
    checkTrustedEndpoint('https://runtime.sagemaker.eu-west-3.amazonaws.com/endpoints/e', defaults);
    checkTrustedEndpoint('https://bedrock-agent-runtime.us-gov-west-1.amazonaws.com/x', defaults);
  });

  it('refuses other hosts with the ml-commons message', () => {
    assert.throws(
      () => checkTrustedEndpoint('https://evil.example.com/v1/chat/completions', defaults),
      badRequestWith(
        /^Connector URL is not matching the trusted connector endpoint regex, URL is: https:\/\/evil\.example\.com\/v1\/chat\/completions$/,
      ),
    );
  });

  it('requires a whole-string match, like Java matches()', () => {
    assert.throws(
      () =>
        checkTrustedEndpoint('https://api.openai.com.evil.com/x', ['https://api\\.openai\\.com']),
      badRequestWith(/not matching/),
    );
    checkTrustedEndpoint('https://api.openai.com', ['https://api\\.openai\\.com']);
  });

  it('keeps query strings (possible API keys) out of the message', () => {
    assert.throws(
      () => checkTrustedEndpoint('https://evil.example.com/v1?key=sk-secret-value', defaults),
      (error: unknown) => {
        assert.ok(ServiceError.isInstance(error));
        assert.doesNotMatch(error.message, /sk-secret-value/);
        return true;
      },
    );
  });

  it('refuses invalid URLs, other schemes and user info', () => {
    assert.throws(
      () => checkTrustedEndpoint('not a url', ['.*']),
      badRequestWith(/not a valid URL/),
    );
    assert.throws(
      () => checkTrustedEndpoint('file:///etc/passwd', ['.*']),
      badRequestWith(/not http or https: file/),
    );
    assert.throws(
      () => checkTrustedEndpoint('https://user:pass@api.openai.com/v1', ['.*']),
      badRequestWith(/user info/),
    );
  });

  it('refuses very long URLs and control characters before any pattern runs', () => {
    const everything = ['^https://.*\\.example\\.com/.*$'];
    const long = `https://a.example.com/${'x'.repeat(maxUrlLength)}`;
    assert.throws(() => checkTrustedEndpoint(long, everything), badRequestWith(/longer than 8192/));
    for (const character of ['\n', '\r', '\t', '\u0000', '\u007f']) {
      assert.throws(
        () => checkTrustedEndpoint(`https://a.example.com/x${character}`, everything),
        badRequestWith(/control characters/),
      );
    }
    checkTrustedEndpoint(`https://a.example.com/${'x'.repeat(1000)}`, everything);
  });

  it('treats a pattern JavaScript cannot compile as matching nothing', () => {
    assert.throws(
      () => checkTrustedEndpoint('https://api.openai.com/v1', ['(unclosed']),
      badRequestWith(/not matching/),
    );
  });
});

describe('isDisallowedAddress', () => {
  const refused = [
    '0.0.0.0',
    '10.1.2.3',
    '100.64.0.1',
    '100.127.255.254',
    '127.0.0.1',
    '127.255.0.1',
    '169.254.169.254',
    '172.16.0.1',
    '172.31.255.255',
    '192.0.0.8',
    '192.0.2.1',
    '192.168.1.1',
    '198.18.0.1',
    '224.0.0.1',
    '240.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    '[::1]',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '::ffff:10.0.0.1',
    '::ffff:0:10.0.0.1',
    '::127.0.0.1',
    '64:ff9b::10.0.0.1',
    '64:ff9b:1::1',
    '2002:7f00:1::1',
    '2001::1',
    '2001:db8::1',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'fe80::1%eth0',
    'febf::1',
    'ff02::1',
    'not-an-ip',
    '',
  ];
  const allowed = [
    '8.8.8.8',
    '1.1.1.1',
    '100.63.255.255',
    '100.128.0.1',
    '172.15.255.255',
    '172.32.0.1',
    '192.169.0.1',
    '169.253.0.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1',
  ];
  for (const address of refused) {
    it(`refuses ${address || '(empty)'}`, () => assert.equal(isDisallowedAddress(address), true));
  }
  for (const address of allowed) {
    it(`allows ${address}`, () => assert.equal(isDisallowedAddress(address), false));
  }
});

describe('checkEndpointAddress', () => {
  it('refuses a host name that resolves to loopback', async () => {
    await assert.rejects(
      checkEndpointAddress('http://localhost:9/x', closedPolicy),
      badRequestWith(/^Remote inference host name has private ip address: localhost$/),
    );
  });

  it('refuses private IP literals, including the forms WHATWG normalises', async () => {
    for (const url of [
      'http://127.0.0.1/x',
      'http://2130706433/x',
      'http://0x7f.1/x',
      'http://[::1]/x',
      'http://[::ffff:169.254.169.254]/latest/meta-data',
    ]) {
      await assert.rejects(
        checkEndpointAddress(url, closedPolicy),
        badRequestWith(/private ip address/),
      );
    }
  });

  it('allows everything when private_ip_enabled is true and no pattern is set', async () => {
    await checkEndpointAddress('http://localhost:9/x', privatePolicy);
    await checkEndpointAddress('http://10.0.0.1/x', privatePolicy);
    await checkEndpointAddress('http://169.254.169.254/latest/meta-data', privatePolicy);
  });

  it('allows a public IP literal without a lookup', async () => {
    await checkEndpointAddress('https://8.8.8.8/x', closedPolicy);
  });

  it('reads ml-commons defaults: no private-endpoint list, private addresses refused', async () => {
    const settings = effectiveSettings({ persistent: {}, transient: {} });
    assert.deepEqual(settings.trustedPrivateEndpointsRegex, []);
    const policy = { ...settings, restrictedIpPatterns: [] };
    await checkEndpointAddress('https://8.8.8.8/x', policy);
    await assert.rejects(
      checkEndpointAddress('http://169.254.169.254/latest/meta-data', policy),
      badRequestWith(/^Remote inference host name has private ip address: 169\.254\.169\.254$/),
    );
  });
});

describe('createGuardedLookup', () => {
  const lookup = createGuardedLookup(addressRules('http://localhost/', closedPolicy));

  it('fails the connect for a host resolving to loopback, in both callback shapes', async () => {
    for (const all of [true, false]) {
      const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
        lookup('localhost', { all }, (failure) => resolve(failure));
      });
      assert.equal(error?.code, 'SLUICE_PRIVATE_ADDRESS');
      assert.match(error?.message ?? '', /private ip address: localhost/);
    }
  });

  it('passes resolver errors through', async () => {
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      lookup('does-not-exist.invalid', { all: true }, (failure) => resolve(failure));
    });
    assert.ok(error !== null);
    assert.notEqual(error.code, 'SLUICE_PRIVATE_ADDRESS');
  });

  it('answers public addresses in the shape asked for', async () => {
    const answer = await new Promise<string | LookupAddress[]>((resolve, reject) => {
      lookup('8.8.8.8', { all: true }, (failure, addresses) =>
        failure === null ? resolve(addresses) : reject(failure),
      );
    });
    assert.deepEqual(answer, [{ address: '8.8.8.8', family: 4 }]);
    const single = await new Promise<[string | LookupAddress[], number | undefined]>(
      (resolve, reject) => {
        lookup('8.8.8.8', {}, (failure, address, family) =>
          failure === null ? resolve([address, family]) : reject(failure),
        );
      },
    );
    assert.deepEqual(single, ['8.8.8.8', 4]);
  });
});
