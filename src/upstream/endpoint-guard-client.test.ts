/**
 * The private-endpoint and restricted-address rules on real calls through UpstreamClient, against
 * a real loopback server: IP literals are judged before the call, host names by the guarded
 * lookup of the agent, and pooled sockets never carry a call past the rules.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  client,
  closeAll,
  config,
  httpServer,
  isError,
  noSignal,
  openPolicy,
  post,
  statusSequence,
} from './client.fixtures.ts';
import type { EndpointPolicy } from './client.ts';

after(closeAll);

const untrustedPrivate =
  /^Connector URL is not matching the trusted connector private endpoint regex$/;

describe('trusted_connector_private_endpoints_regex on every call', () => {
  const policy: EndpointPolicy = {
    ...openPolicy,
    trustedPrivateEndpointsRegex: [
      '^http://127\\.0\\.0\\.1:\\d+/v1/.*$',
      '^http://localhost:\\d+/v1/.*$',
    ],
  };

  it('lets matching URLs reach a loopback server and refuses the others', async () => {
    const server = await httpServer(statusSequence(200));
    const upstream = client(policy);
    for (const origin of [server.url, `http://localhost:${server.port}`]) {
      const response = await upstream.send(post(`${origin}/v1/chat`), config(), noSignal());
      assert.equal(response.status, 200);
      // Same origin, so a pooled socket is at hand: the refusal must not depend on opening one.
      await assert.rejects(
        upstream.send(post(`${origin}/admin`), config(), noSignal()),
        isError('bad_request', untrustedPrivate),
      );
    }
    assert.equal(server.hits(), 2);
  });

  it('does not lift the refusal while private_ip_enabled is false', async () => {
    const server = await httpServer(statusSequence(200));
    const upstream = client({ ...policy, privateIpEnabled: false });
    await assert.rejects(
      upstream.send(post(`${server.url}/v1/chat`), config(), noSignal()),
      isError('bad_request', /^Remote inference host name has private ip address: 127\.0\.0\.1$/),
    );
    await assert.rejects(
      upstream.send(post(`http://localhost:${server.port}/v1/chat`), config(), noSignal()),
      isError('bad_request', /^Remote inference host name has private ip address: localhost$/),
    );
    assert.equal(server.connections(), 0);
  });
});

describe('connector.restricted_ip_patterns on every call', () => {
  it('refuses restricted loopback literals and host names with private_ip_enabled true', async () => {
    const server = await httpServer(statusSequence(200));
    const upstream = client({ ...openPolicy, restrictedIpPatterns: ['127\\..*', '::1'] });
    await assert.rejects(
      upstream.send(post(server.url), config(), noSignal()),
      isError(
        'bad_request',
        /^Remote inference host name has restricted ip address: 127\.0\.0\.1$/,
      ),
    );
    await assert.rejects(
      upstream.open(post(`http://localhost:${server.port}/`), config(), noSignal()),
      isError('bad_request', /^Remote inference host name has restricted ip address: localhost$/),
    );
    assert.equal(server.connections(), 0);
  });

  it('applies a changed list to the next call, never reusing a pooled socket', async () => {
    const server = await httpServer(statusSequence(200));
    const policy: EndpointPolicy = { ...openPolicy };
    const upstream = client(policy);
    const url = `http://localhost:${server.port}/`;
    assert.equal((await upstream.send(post(url), config(), noSignal())).status, 200);
    policy.restrictedIpPatterns = ['127\\..*', '::1'];
    await assert.rejects(
      upstream.send(post(url), config(), noSignal()),
      isError('bad_request', /restricted ip address: localhost$/),
    );
    policy.restrictedIpPatterns = ['169\\.254\\..*'];
    assert.equal((await upstream.send(post(url), config(), noSignal())).status, 200);
    assert.equal(server.hits(), 2);
  });
});

describe('a built-in origin (the demo provider) served by this process', () => {
  it('is called at its own address whatever spelling of its origin the URL uses', async () => {
    const paths: string[] = [];
    const demo = await httpServer((request, response) => {
      paths.push(request.url ?? '');
      response.end('demo');
    });
    const internal = await httpServer((_request, response) => response.end('INTERNAL'));
    const closedPolicy: EndpointPolicy = { ...openPolicy, privateIpEnabled: false };
    const upstream = client(closedPolicy, {
      builtInOrigins: new Map([['http://sluice-demo.invalid', `http://127.0.0.1:${demo.port}`]]),
    });
    // `http:/host` parses to the same origin but is shorter than it: a rewrite that sliced the
    // raw URL by the origin's length sent the call to the host after the `@`.
    for (const url of [
      `http:/sluice-demo.invalid/@127.0.0.1:${internal.port}/x`,
      `http:sluice-demo.invalid/@127.0.0.1:${internal.port}/x?q=1`,
    ]) {
      const response = await upstream.send(post(url), config(), noSignal());
      assert.equal(response.body, 'demo', url);
    }
    assert.equal(internal.hits(), 0, 'the other host was never called');
    assert.deepEqual(paths, [
      `/@127.0.0.1:${internal.port}/x`,
      `/@127.0.0.1:${internal.port}/x?q=1`,
    ]);
    await assert.rejects(
      upstream.send(post(`http://user@sluice-demo.invalid/x`), config(), noSignal()),
      isError('bad_request', /user info/),
    );
  });
});
