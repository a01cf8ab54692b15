import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestNode } from '../../test/helpers/test-node.ts';
import {
  assertOpenSearchError,
  openAiConnector,
  startControlPlaneNode,
} from './control-plane.fixtures.ts';

describe('control plane', () => {
  let node: TestNode;
  before(async () => {
    node = await startControlPlaneNode();
  });
  after(async () => node.close());

  describe('bad input gets a clear 4xx and stores nothing', () => {
    const cases: Array<[string, string, string | Record<string, unknown>, number, RegExp]> = [
      ['malformed JSON', '/_plugins/_ml/connectors/_create', '{"name": ', 400, /parse/i],
      ['not an object', '/_plugins/_ml/connectors/_create', '[1,2]', 400, /JSON object/],
      [
        'missing name',
        '/_plugins/_ml/connectors/_create',
        { protocol: 'http' },
        400,
        /name is required/,
      ],
      [
        'bad protocol',
        '/_plugins/_ml/connectors/_create',
        { name: 'x', protocol: 'ftp' },
        400,
        /protocol/,
      ],
      [
        'bad action type',
        '/_plugins/_ml/connectors/_create',
        {
          name: 'x',
          protocol: 'http',
          actions: [{ action_type: 'nope', method: 'POST', url: 'https://api.openai.com/x' }],
        },
        400,
        /action_type/,
      ],
      [
        'wrong client_config type',
        '/_plugins/_ml/connectors/_create',
        { ...openAiConnector, client_config: { read_timeout: 'soon' } },
        400,
        /read_timeout/,
      ],
      [
        'painless script',
        '/_plugins/_ml/connectors/_create',
        {
          ...openAiConnector,
          actions: [{ ...openAiConnector.actions[0], post_process_function: 'return params.x;' }],
        },
        400,
        /Painless/i,
      ],
      [
        'sigv4 without keys',
        '/_plugins/_ml/connectors/_create',
        { name: 'x', protocol: 'aws_sigv4', credential: {} },
        400,
        /access_key/,
      ],
      [
        'model without connector',
        '/_plugins/_ml/models/_register',
        { name: 'm', function_name: 'remote' },
        400,
        /connector/,
      ],
      [
        'model of another kind',
        '/_plugins/_ml/models/_register',
        { name: 'm', function_name: 'TEXT_EMBEDDING' },
        400,
        /remote/,
      ],
      [
        'unknown connector id',
        '/_plugins/_ml/models/_register',
        { name: 'm', function_name: 'remote', connector_id: 'nope' },
        404,
        /connector/,
      ],
      [
        'bad rate limiter',
        '/_plugins/_ml/models/_register',
        {
          name: 'm',
          function_name: 'remote',
          connector: openAiConnector,
          rate_limiter: { limit: '-1', unit: 'SECONDS' },
        },
        400,
        /rate_limiter/,
      ],
      [
        'bad rate limiter unit',
        '/_plugins/_ml/models/_register',
        {
          name: 'm',
          function_name: 'remote',
          connector: openAiConnector,
          rate_limiter: { limit: '1', unit: 'FORTNIGHTS' },
        },
        400,
        /unit/,
      ],
    ];
    for (const [title, url, body, status, reason] of cases) {
      it(title, async () => {
        const connectorsBefore = (await node.node.store.listConnectors()).length;
        const modelsBefore = (await node.node.store.listModels()).length;
        const response = await node.call('POST', url, body);
        assert.equal(response.status, status, JSON.stringify(response.body));
        assertOpenSearchError(response.body, status, reason);
        assert.equal((await node.node.store.listConnectors()).length, connectorsBefore);
        assert.equal((await node.node.store.listModels()).length, modelsBefore);
      });
    }

    it('an oversized body is refused with 413', async () => {
      const response = await node.call('POST', '/_plugins/_ml/connectors/_create', {
        ...openAiConnector,
        description: 'x'.repeat(100 * 1024),
      });
      assert.equal(response.status, 413);
      assertOpenSearchError(response.body, 413);
    });

    it('unknown ids and routes answer 404 in the OpenSearch shape', async () => {
      for (const url of [
        '/_plugins/_ml/models/unknown',
        '/_plugins/_ml/model_groups/unknown',
        '/_plugins/_ml/tasks/unknown',
        '/_plugins/_ml/no/such/route',
      ]) {
        const response = await node.call('GET', url);
        assert.equal(response.status, 404, url);
        assertOpenSearchError(response.body, 404);
      }
    });

    it('a search with an unsupported query type is refused', async () => {
      const response = await node.call('POST', '/_plugins/_ml/models/_search', {
        query: { script: { source: '1' } },
      });
      assert.equal(response.status, 400);
      assertOpenSearchError(response.body, 400, /unknown query \[script\]/);
    });
  });
});
