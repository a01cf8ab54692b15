/**
 * The SSRF settings at connector creation, over the API: the trusted-endpoint allow-list, the
 * private-address guard, the private-endpoint patterns, and the node's restricted addresses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestNode, type TestNode } from '../../test/helpers/test-node.ts';
import {
  assertOpenSearchError,
  openAiConnector,
  startControlPlaneNode,
} from './control-plane.fixtures.ts';

describe('connector endpoint settings', () => {
  let node: TestNode;
  before(async () => {
    node = await startControlPlaneNode();
  });
  after(async () => node.close());

  it('refuses connectors to untrusted or private endpoints', async () => {
    const untrusted = await node.call('POST', '/_plugins/_ml/connectors/_create', {
      ...openAiConnector,
      parameters: { endpoint: 'evil.example.com' },
    });
    assert.equal(untrusted.status, 400);
    assertOpenSearchError(untrusted.body, 400, /trusted connector endpoint regex/);

    await node.call('PUT', '/_cluster/settings', {
      persistent: { 'plugins.ml_commons.trusted_connector_endpoints_regex': ['^http://.*$'] },
    });
    const loopback = await node.call('POST', '/_plugins/_ml/connectors/_create', {
      ...openAiConnector,
      actions: [{ ...openAiConnector.actions[0], url: 'http://127.0.0.1:9/v1/chat/completions' }],
    });
    assert.equal(loopback.status, 400);
    assertOpenSearchError(loopback.body, 400, /private ip/i);
    await node.call('PUT', '/_cluster/settings', {
      persistent: { 'plugins.ml_commons.trusted_connector_endpoints_regex': null },
    });
  });

  it('honours trusted_connector_private_endpoints_regex at connector creation', async () => {
    const privateKey = 'plugins.ml_commons.trusted_connector_private_endpoints_regex';
    const defaults = await node.call(
      'GET',
      '/_cluster/settings?include_defaults=true&flat_settings=true',
    );
    assert.deepEqual(defaults.body.defaults[privateKey], []);
    const bad = await node.call('PUT', '/_cluster/settings', {
      persistent: { [privateKey]: ['(unclosed'] },
    });
    assertOpenSearchError(bad.body, 400, /Invalid regular expression/);
    const slow = await node.call('PUT', '/_cluster/settings', {
      persistent: { [privateKey]: ['^http://(a+)+$'] },
    });
    assertOpenSearchError(slow.body, 400, /may take exponential time: it nests quantifiers/);

    const put = await node.call('PUT', '/_cluster/settings', {
      persistent: {
        plugins: {
          ml_commons: {
            connector: { private_ip_enabled: true },
            trusted_connector_endpoints_regex: ['^http://.*$'],
            trusted_connector_private_endpoints_regex: ['^http://127\\.0\\.0\\.1:9/v1/.*$'],
          },
        },
      },
    });
    assert.equal(put.status, 200);
    const trusted = await createWithUrl(node, 'http://127.0.0.1:9/v1/chat/completions');
    assert.equal(trusted.status, 200);
    const untrusted = await createWithUrl(node, 'http://127.0.0.1:9/admin');
    assertOpenSearchError(
      untrusted.body,
      400,
      /not matching the trusted connector private endpoint/,
    );

    await node.call('DELETE', `/_plugins/_ml/connectors/${trusted.body.connector_id}`);
    const reset = await node.call('PUT', '/_cluster/settings', {
      persistent: {
        'plugins.ml_commons.connector.private_ip_enabled': null,
        'plugins.ml_commons.trusted_connector_endpoints_regex': null,
        [privateKey]: null,
      },
    });
    assert.equal(reset.status, 200);
  });

  it('takes connector.restricted_ip_patterns from the node, never from the settings API', async () => {
    const restrictedKey = 'plugins.ml_commons.connector.restricted_ip_patterns';
    for (const scope of ['persistent', 'transient']) {
      const refused = await node.call('PUT', '/_cluster/settings', {
        [scope]: { [restrictedKey]: [] },
      });
      assertOpenSearchError(
        refused.body,
        400,
        new RegExp(
          `^final ${scope} setting \\[${restrictedKey.replaceAll('.', '\\.')}\\], not updateable$`,
        ),
      );
    }
    const restricted = await startTestNode({ restrictedIpPatterns: ['169\\.254\\..*'] });
    try {
      const put = await restricted.call('PUT', '/_cluster/settings', {
        persistent: {
          'plugins.ml_commons.connector.private_ip_enabled': true,
          'plugins.ml_commons.trusted_connector_endpoints_regex': ['^http://.*$'],
        },
      });
      assert.equal(put.status, 200);
      const metadata = await createWithUrl(restricted, 'http://169.254.169.254/latest/meta-data');
      assertOpenSearchError(metadata.body, 400, /restricted ip address: 169\.254\.169\.254$/);
      const loopback = await createWithUrl(restricted, 'http://127.0.0.1:9/v1/chat/completions');
      assert.equal(loopback.status, 200, 'private addresses outside the list are allowed');
    } finally {
      await restricted.close();
    }
  });
});

function createWithUrl(target: TestNode, url: string) {
  return target.call('POST', '/_plugins/_ml/connectors/_create', {
    ...openAiConnector,
    actions: [{ ...openAiConnector.actions[0], url }],
  });
}
