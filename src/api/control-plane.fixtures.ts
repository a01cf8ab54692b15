/**
 * Shared by the control-plane tests: a node with a 64 KiB body limit (small enough for the 413
 * test), an OpenAI chat connector, and the OpenSearch error-shape check.
 */
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from '../../test/helpers/test-node.ts';

export function startControlPlaneNode(): Promise<TestNode> {
  return startTestNode({ maxBodyBytes: 64 * 1024 });
}

export const openAiConnector = {
  name: 'OpenAI Chat Connector',
  protocol: 'http',
  parameters: { endpoint: 'api.openai.com', model: 'gpt-4o-mini', temperature: 0.5 },
  credential: { openAI_key: 'sk-test-secret-value' },
  actions: [
    {
      action_type: 'predict',
      method: 'POST',
      url: 'https://${parameters.endpoint}/v1/chat/completions',
      headers: { Authorization: 'Bearer ${credential.openAI_key}' },
      request_body: '{ "model": "${parameters.model}", "messages": ${parameters.messages} }',
    },
  ],
};

// biome-ignore lint/suspicious/noExplicitAny: a parsed JSON response body.
export function assertOpenSearchError(body: any, status: number, reason?: RegExp): void {
  assert.equal(body.status, status);
  assert.equal(typeof body.error.type, 'string');
  assert.equal(body.error.root_cause[0].reason, body.error.reason);
  if (reason !== undefined) assert.match(body.error.reason, reason);
}
