/**
 * Cancellation and backpressure over real sockets: a client that leaves stops the upstream at
 * every stage, and a client that stops reading stops Sluice from reading the upstream.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { postStream } from '../../test/helpers/sse-client.ts';
import { capturingLogger, startTestNode, type TestNode } from '../../test/helpers/test-node.ts';
import { type MockProvider, startMockProvider } from '../../test/mock-provider/server.ts';

function openAiConnector(url: string) {
  return {
    name: 'OpenAI-format upstream',
    protocol: 'http',
    actions: [
      {
        action_type: 'predict',
        method: 'POST',
        url,
        request_body: '{ "model": "gpt-4.1", "messages": ${parameters.messages} }',
      },
    ],
  };
}

const body = JSON.stringify({ parameters: { messages: [{ role: 'user', content: 'Hi' }] } });

/** Opens a stream and hands back the live response, so the test controls reading. */
function openStream(baseUrl: string, modelId: string) {
  const outgoing = request(new URL(`/_plugins/_ml/models/${modelId}/_predict/stream`, baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
  });
  outgoing.end(body);
  return outgoing;
}

describe('stream lifecycle', () => {
  let node: TestNode;
  let mock: MockProvider;
  let baseUrl: string;
  const { logger, lines } = capturingLogger();

  before(async () => {
    mock = await startMockProvider();
    node = await startTestNode({ logger });
    await node.allowLoopback();
    baseUrl = await node.node.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await node.close();
    await mock.close();
  });
  beforeEach(() => mock.reset());

  async function register(url: string): Promise<string> {
    const response = await node.call('POST', '/_plugins/_ml/models/_register?deploy=true', {
      name: `model ${Math.random()}`,
      function_name: 'remote',
      connector: openAiConnector(url),
    });
    assert.equal(response.status, 200);
    return response.body.model_id;
  }

  it('a client leaving mid-stream cancels the upstream request at once', async () => {
    const modelId = await register(mock.urlFor('openai'));
    mock.setScenario('openai', { delayBetweenEventsMs: 200 });
    const outgoing = openStream(baseUrl, modelId);
    const [response] = await once(outgoing, 'response');
    await once(response, 'data');
    outgoing.destroy();
    const closed = await mock.waitForClose();
    assert.equal(closed.end, 'client-closed');
    assert.ok(closed.eventsSent < 5, `the upstream kept sending: ${closed.eventsSent} events`);
    // The log tells the truth: a client that left, not a completed stream.
    for (
      let attempt = 0;
      attempt < 50 && !lines.some((line) => line.includes('"stream client_closed"'));
      attempt += 1
    ) {
      await sleep(20);
    }
    const entry = JSON.parse(lines.find((line) => line.includes('"stream client_closed"')) ?? '{}');
    assert.equal(entry.outcome, 'client_closed');
    assert.equal(entry.model_id, modelId);
  });

  it('a client leaving a non-streaming _predict cancels the upstream request too', async () => {
    // An upstream that takes the request and never answers, and says when it was closed.
    let markArrived = (): void => {};
    let markClosed = (_at: number): void => {};
    const arrived = new Promise<void>((resolve) => {
      markArrived = resolve;
    });
    const closed = new Promise<number>((resolve) => {
      markClosed = resolve;
    });
    const silent = createServer((_request, response) => {
      markArrived();
      response.once('close', () => markClosed(performance.now()));
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const port = (silent.address() as AddressInfo).port;
      const modelId = await register(`http://127.0.0.1:${port}/v1/chat/completions`);
      const outgoing = request(new URL(`/_plugins/_ml/models/${modelId}/_predict`, baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      outgoing.on('error', () => {});
      outgoing.end(body);
      await arrived;
      const left = performance.now();
      outgoing.destroy();
      const closedAt = await Promise.race([closed, sleep(2000).then(() => undefined)]);
      assert.ok(
        closedAt !== undefined,
        'the upstream request was still open 2 s after the client left',
      );
      assert.ok(closedAt - left < 1000, `closed ${closedAt - left} ms after the client left`);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('a stream logs one summary line, not the per-request lines of other routes', async () => {
    const modelId = await register(mock.urlFor('openai'));
    const from = lines.length;
    const result = await postStream(baseUrl, `/_plugins/_ml/models/${modelId}/_predict/stream`, {
      parameters: { messages: [{ role: 'user', content: 'Hi' }] },
    });
    assert.equal(result.status, 200);
    await node.call('GET', `/_plugins/_ml/models/${modelId}`);
    const entries = lines.slice(from).map((line) => JSON.parse(line));
    const ofStream = entries.filter((entry) => entry.req?.url?.includes('_predict/stream'));
    assert.deepEqual(ofStream, [], 'no "incoming request" line for a stream');
    const summaries = entries.filter((entry) => entry.msg === 'stream completed');
    assert.equal(summaries.length, 1);
    assert.equal(summaries[0].model_id, modelId);
    assert.ok(summaries[0].reqId, 'the summary names its request');
    // Other routes keep Fastify's request lines.
    assert.ok(entries.some((entry) => entry.msg === 'incoming request'));
  });

  it('a client leaving before the first token cancels the upstream request', async () => {
    const modelId = await register(mock.urlFor('openai'));
    mock.setScenario('openai', { hangAfterEvents: 0 });
    const outgoing = openStream(baseUrl, modelId);
    outgoing.on('error', () => {});
    await mock.waitForRequests(1);
    outgoing.destroy();
    const closed = await mock.waitForClose();
    assert.equal(closed.end, 'client-closed');
  });

  describe('backpressure', () => {
    let upstream: Server;
    let written = 0;
    const total = 60_000;
    const filler = 'x'.repeat(400);

    before(async () => {
      upstream = createServer(async (_request, response) => {
        written = 0;
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        for (let index = 0; index < total; index += 1) {
          const chunk = { choices: [{ index: 0, delta: { content: `${index}:${filler}|` } }] };
          if (!response.write(`data: ${JSON.stringify(chunk)}\n\n`)) await once(response, 'drain');
          written += 1;
        }
        response.write('data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n');
        response.end('data: [DONE]\n\n');
      });
      upstream.listen(0, '127.0.0.1');
      await once(upstream, 'listening');
    });
    after(async () => {
      upstream.closeAllConnections();
      upstream.close();
    });

    it('stops reading the upstream while the client does not read, then resumes without loss', async () => {
      const port = (upstream.address() as AddressInfo).port;
      const modelId = await register(`http://127.0.0.1:${port}/v1/chat/completions`);
      const outgoing = openStream(baseUrl, modelId);
      const [response] = await once(outgoing, 'response');
      response.pause();
      // Wait until the upstream can write no more: every buffer on the way is full.
      let previous = -1;
      while (written !== previous) {
        previous = written;
        await sleep(300);
      }
      assert.ok(
        written < total / 2,
        `the upstream wrote ${written} of ${total} events to a stalled client`,
      );

      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.resume();
      await once(response, 'end');
      const contents = text
        .split('\n\n')
        .filter((block) => block.startsWith('data: '))
        .map((block) => JSON.parse(block.slice(6)).inference_results[0].output[0].dataAsMap);
      assert.equal(contents.length, total + 1);
      contents.slice(0, -1).forEach((data, index) => {
        assert.equal(data.content, `${index}:${filler}|`);
      });
      assert.equal(contents.at(-1).is_last, true);
    });
  });
});
