/**
 * The mock's own behaviour: routing, request recording, error statuses, and each fault it can
 * inject. No timing assertions: pacing is only checked to deliver the same bytes.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { decodeFrames } from './event-stream.ts';
import { parseNdjson, parseSse } from './expected.ts';
import {
  type MockProviderName,
  mockProviderNames,
  readStreamFixture,
  readStreamFixtureBody,
} from './fixtures.ts';
import { type MockProvider, startMockProvider } from './server.ts';

let mock: MockProvider;
before(async () => {
  mock = await startMockProvider();
});
after(async () => {
  await mock.close();
});
beforeEach(() => mock.reset());

function post(url: string, body: unknown = { stream: true }, init: RequestInit = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...init,
  });
}

async function bodyOf(provider: MockProviderName, body: unknown = { stream: true }) {
  const response = await post(mock.urlFor(provider), body);
  return { response, bytes: Buffer.from(await response.arrayBuffer()) };
}

describe('routing', () => {
  const streamTypes: Record<MockProviderName, RegExp> = {
    openai: /^text\/event-stream/,
    anthropic: /^text\/event-stream/,
    'bedrock-converse': /^application\/vnd\.amazon\.eventstream$/,
    'bedrock-invoke': /^application\/vnd\.amazon\.eventstream$/,
    cohere: /^text\/event-stream/,
    gemini: /^text\/event-stream/,
    ollama: /^application\/x-ndjson$/,
  };

  for (const provider of mockProviderNames) {
    it(`${provider}: serves the stream and the JSON answer on the real paths`, async () => {
      const { response, bytes } = await bodyOf(provider);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', streamTypes[provider]);
      assert.deepEqual(bytes, readStreamFixtureBody(provider, 'text'));
      assert.equal(mock.requests.at(-1)?.streaming, true);

      const plain = await post(mock.urlFor(provider, { streaming: false }), { stream: false });
      assert.equal(plain.status, 200);
      assert.match(plain.headers.get('content-type') ?? '', /^application\/json/);
      assert.ok(await plain.json());
      assert.equal(mock.requests.at(-1)?.streaming, false);
    });
  }

  it('decodes Bedrock model ids with an encoded colon and Gemini model names', async () => {
    await bodyOf('bedrock-converse');
    assert.equal(mock.requests.at(-1)?.modelId, 'us.anthropic.claude-sonnet-4-5-20250929-v1:0');
    await post(`${mock.url}/v1beta/models/gemini-2.5-flash%3AstreamGenerateContent?alt=sse`);
    assert.equal(mock.requests.at(-1)?.modelId, 'gemini-2.5-flash');
    assert.deepEqual(mock.requests.at(-1)?.query, { alt: 'sse' });
  });

  it('answers 404 for unknown paths and Gemini streaming without alt=sse, 405 for other methods', async () => {
    assert.equal((await post(`${mock.url}/v1/unknown`)).status, 404);
    assert.equal((await fetch(mock.urlFor('openai'))).status, 405);
    const gemini = await post(`${mock.url}/v1beta/models/gemini-2.0-flash:streamGenerateContent`);
    assert.equal(gemini.status, 404);
    assert.match(await gemini.text(), /alt=sse/);
  });

  it('picks the fixture from x-mock-scenario over setScenario', async () => {
    mock.setScenario('openai', { fixture: 'usage' });
    const response = await post(
      mock.urlFor('openai'),
      { stream: true },
      {
        headers: { 'content-type': 'application/json', 'x-mock-scenario': 'tool-call' },
      },
    );
    assert.deepEqual(
      Buffer.from(await response.arrayBuffer()),
      readStreamFixtureBody('openai', 'tool-call'),
    );
    const missing = await post(
      mock.urlFor('openai'),
      { stream: true },
      {
        headers: { 'content-type': 'application/json', 'x-mock-scenario': '../../package' },
      },
    );
    assert.equal(missing.status, 500);
  });

  it('records method, raw path, query, headers and the parsed body', async () => {
    await post(
      `${mock.urlFor('gemini')}&key=secret`,
      { contents: [] },
      {
        headers: { 'content-type': 'application/json', 'x-goog-api-key': 'k' },
      },
    );
    const [request] = mock.requests;
    assert.equal(request?.method, 'POST');
    assert.equal(request?.path, '/v1beta/models/gemini-2.0-flash:streamGenerateContent');
    assert.deepEqual(request?.query, { alt: 'sse', key: 'secret' });
    assert.equal(request?.headers['x-goog-api-key'], 'k');
    assert.deepEqual(request?.body, { contents: [] });
    assert.equal(request?.provider, 'gemini');
  });
});

describe('error statuses', () => {
  for (const provider of mockProviderNames) {
    it(`${provider}: 429 carries the provider's own error JSON`, async () => {
      mock.setScenario(provider, { status: 429, headers: { 'retry-after': '1' } });
      const { response, bytes } = await bodyOf(provider);
      assert.equal(response.status, 429);
      assert.equal(response.headers.get('retry-after'), '1');
      const body = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
      const shape: Record<MockProviderName, string[]> = {
        openai: ['error'],
        anthropic: ['type', 'error', 'request_id'],
        'bedrock-converse': ['message'],
        'bedrock-invoke': ['message'],
        cohere: ['id', 'message'],
        gemini: ['error'],
        ollama: ['error'],
      };
      assert.deepEqual(Object.keys(body), shape[provider]);
    });
  }

  it('fails the first attempts, then serves the fixture', async () => {
    mock.setScenario('cohere', { failFirstAttempts: 2, status: 503 });
    assert.equal((await bodyOf('cohere')).response.status, 503);
    assert.equal((await bodyOf('cohere')).response.status, 503);
    const third = await bodyOf('cohere');
    assert.equal(third.response.status, 200);
    assert.deepEqual(third.bytes, readStreamFixtureBody('cohere', 'text'));
  });

  it('sends a custom error body', async () => {
    mock.setScenario('ollama', { status: 404, errorBody: { error: 'model "x" not found' } });
    const { response, bytes } = await bodyOf('ollama');
    assert.equal(response.status, 404);
    assert.deepEqual(JSON.parse(bytes.toString('utf8')), { error: 'model "x" not found' });
  });
});

describe('faults', () => {
  it('paces events and still delivers the exact bytes', async () => {
    mock.setScenario('anthropic', { delayBetweenEventsMs: 2 });
    const { bytes } = await bodyOf('anthropic');
    assert.deepEqual(bytes, readStreamFixtureBody('anthropic', 'text'));
  });

  it('resetAfterEvents destroys the socket mid-stream', async () => {
    mock.setScenario('openai', { resetAfterEvents: 3 });
    const response = await post(mock.urlFor('openai'));
    assert.equal(response.status, 200);
    await assert.rejects(response.arrayBuffer());
    const closed = await mock.waitForClose();
    assert.equal(closed.end, 'reset-by-mock');
    assert.equal(closed.eventsSent, 3);
  });

  it('truncateLastFrame leaves half an SSE event and no [DONE]', async () => {
    mock.setScenario('openai', { truncateLastFrame: true });
    const { bytes } = await bodyOf('openai');
    const events = readStreamFixture('openai', 'text');
    const last = events.at(-1) ?? new Uint8Array();
    assert.equal(
      bytes.length,
      readStreamFixtureBody('openai', 'text').length - Math.ceil(last.length / 2),
    );
    assert.notEqual(parseSse(bytes.toString('utf8')).at(-1)?.data, '[DONE]');
    assert.equal((await mock.waitForClose()).end, 'completed');
  });

  it('truncateLastFrame leaves half an event-stream frame', async () => {
    mock.setScenario('bedrock-converse', { truncateLastFrame: true });
    const { bytes } = await bodyOf('bedrock-converse');
    assert.throws(() => decodeFrames(bytes), /truncated frame/);
  });

  it('malformedEventAfter injects broken JSON inside valid framing, then continues', async () => {
    mock.setScenario('anthropic', { malformedEventAfter: 4 });
    const sse = parseSse((await bodyOf('anthropic')).bytes.toString('utf8'));
    const broken = sse.flatMap((message, index) => (isJson(message.data) ? [] : [index]));
    assert.deepEqual(broken, [4]);
    assert.equal(sse[4]?.event, 'content_block_delta');
    assert.equal(sse.at(-1)?.event, 'message_stop');

    mock.setScenario('bedrock-invoke', { malformedEventAfter: 2 });
    const frames = decodeFrames((await bodyOf('bedrock-invoke')).bytes);
    const brokenFrames = frames.flatMap((frame, index) =>
      isJson(Buffer.from(frame.payload).toString('utf8')) ? [] : [index],
    );
    assert.deepEqual(brokenFrames, [2]);

    mock.setScenario('ollama', { malformedEventAfter: 0 });
    const text = (await bodyOf('ollama')).bytes.toString('utf8');
    assert.throws(() => parseNdjson(text));
    assert.equal(text.split('\n').filter((line) => line !== '' && !isJson(line)).length, 1);
  });

  it('hangAfterEvents keeps the socket open until the client aborts, which the mock sees', async () => {
    mock.setScenario('gemini', { hangAfterEvents: 1 });
    const controller = new AbortController();
    const response = await post(mock.urlFor('gemini'), {}, { signal: controller.signal });
    const reader = response.body?.getReader();
    const first = await reader?.read();
    assert.ok(first?.value && first.value.length > 0);
    assert.ok(mock.openSockets > 0);
    controller.abort();
    const closed = await mock.waitForClose();
    assert.equal(closed.end, 'client-closed');
    assert.equal(closed.eventsSent, 1);
  });

  it('close() ends hanging streams and reports them as server-closed', async () => {
    const own = await startMockProvider({ scenarios: { ollama: { hangAfterEvents: 2 } } });
    const response = await post(own.urlFor('ollama'));
    const closing = own.waitForClose();
    await own.close();
    await assert.rejects(response.arrayBuffer());
    assert.equal((await closing).end, 'server-closed');
    assert.equal(own.openSockets, 0);
  });

  it('waitForClose rejects instead of hanging when the upstream is never cancelled', async () => {
    mock.setScenario('cohere', { hangAfterEvents: 1 });
    const response = await post(mock.urlFor('cohere'));
    await assert.rejects(mock.waitForClose({ timeoutMs: 20 }), /did not close within 20 ms/);
    await response.body?.cancel();
    assert.equal((await mock.waitForClose()).end, 'client-closed');
  });
});

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
