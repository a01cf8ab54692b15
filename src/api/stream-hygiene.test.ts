/**
 * What a `_predict/stream` client and an operator see around the edges of a stream, over real
 * sockets: no compression and no added delay (STREAMING-PITFALLS item 7), an error as the very
 * first event is still an HTTP error (README: "an HTTP error before the first byte, one error
 * event after it"), and the summary log line tells the real outcome (item 2).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  anthropic,
  bulkScript,
  dataAsMap,
  dataEvents,
  openAi,
  openStream,
  pause,
  readText,
  registerModel,
  type ScriptedUpstream,
  startScriptedUpstream,
  untilClosed,
  waitForLog,
} from '../../test/helpers/scripted-upstream.ts';
import { capturingLogger, startTestNode, type TestNode } from '../../test/helpers/test-node.ts';
import { expectedSummary } from '../../test/mock-provider/expected.ts';
import { type MockProvider, startMockProvider } from '../../test/mock-provider/server.ts';

/** A regression must fail the test, not hang the suite. */
const timeout = 10_000;

describe('stream hygiene', () => {
  let node: TestNode;
  let mock: MockProvider;
  let upstream: ScriptedUpstream;
  let baseUrl: string;
  const { logger, lines } = capturingLogger();

  before(async () => {
    mock = await startMockProvider();
    upstream = await startScriptedUpstream();
    node = await startTestNode({ logger });
    await node.allowLoopback();
    baseUrl = await node.node.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await node.close();
    await upstream.close();
    await mock.close();
  });

  /** A fresh model on the mock's OpenAI route with `scenario` set for it. */
  async function mockModel(scenario: Parameters<MockProvider['setScenario']>[1], config = {}) {
    mock.reset();
    mock.setScenario('openai', scenario);
    return registerModel(node, mock.urlFor('openai'), config);
  }

  describe('no compression, no added delay', () => {
    it('ignores Accept-Encoding: gzip, br and sends plain-text events', { timeout }, async () => {
      const modelId = await mockModel({});
      const { response } = await openStream(baseUrl, modelId, {
        headers: { 'accept-encoding': 'gzip, deflate, br' },
      });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['content-encoding'], undefined);
      assert.equal(response.headers['content-type'], 'text/event-stream; charset=utf-8');
      assert.equal(response.headers['cache-control'], 'no-cache, no-transform');
      const raw = await readText(response);
      assert.ok(raw.startsWith('data: {"inference_results":'), raw.slice(0, 40));
      const events = dataEvents(raw);
      const text = events.map((event) => dataAsMap(event).content).join('');
      assert.equal(text, expectedSummary('openai', 'text').text);
      assert.equal(dataAsMap(events.at(-1)).is_last, true);
    });

    it('forwards the first event at once while the upstream is still open', {
      timeout,
    }, async () => {
      let writtenAt = 0;
      const route = upstream.route(async (response, closed) => {
        response.write(openAi.role + openAi.text('first'));
        writtenAt = performance.now();
        await untilClosed(closed); // and nothing more, ever
      });
      const modelId = await registerModel(node, route.url);
      const { outgoing, response } = await openStream(baseUrl, modelId, {
        headers: { 'accept-encoding': 'gzip, br' },
      });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['content-encoding'], undefined);
      response.setEncoding('utf8');
      const [chunk] = (await once(response, 'data')) as [string];
      const delayMs = performance.now() - writtenAt;
      assert.equal(route.responses[0]?.open, true, 'the upstream is still open');
      assert.deepEqual(
        dataEvents(chunk).map((event) => dataAsMap(event).content),
        ['first'],
      );
      // Loose for a loaded machine; a writer that buffers until the end never delivers it at all.
      assert.ok(delayMs < 250, `the first event reached the client ${delayMs} ms after it left`);
      outgoing.destroy();
      assert.equal(await route.responses[0]?.end, 'client-closed');
    });
  });

  // sse.ts once set `connection: keep-alive` by hand, overriding Node's own handling: a
  // `Connection: close` request kept its socket open (RFC 9112 §9.6: the server must close it),
  // and a client reusing it, as Node's http.Agent does, got `400 Bad Request` next.
  it('a request with Connection: close gets its connection closed after the stream', {
    timeout,
  }, async () => {
    const modelId = await mockModel({});
    const socket = connect(Number(new URL(baseUrl).port), '127.0.0.1');
    await once(socket, 'connect');
    const body = JSON.stringify({ parameters: { messages: [{ role: 'user', content: 'Hi' }] } });
    socket.write(
      `POST /_plugins/_ml/models/${modelId}/_predict/stream HTTP/1.1\r\nhost: sluice\r\n` +
        `content-type: application/json\r\ncontent-length: ${body.length}\r\n` +
        `connection: close\r\n\r\n${body}`,
    );
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      raw += chunk;
    });
    const closed = once(socket, 'close').then(() => true);
    const outcome = await Promise.race([closed, sleep(1000).then(() => false)]);
    socket.destroy();
    assert.match(raw, /"is_last":true/);
    assert.doesNotMatch(raw.slice(0, raw.indexOf('\r\n\r\n')), /connection: keep-alive/i);
    assert.ok(outcome, 'the connection was still open 1 s after the stream ended');
  });

  describe('an error as the very first event', () => {
    /** Streams from a scripted route and returns status, content type and the whole body. */
    async function streamFrom(script: Parameters<ScriptedUpstream['route']>[0], path?: string) {
      const route = upstream.route(script, path);
      const modelId = await registerModel(node, route.url);
      const { response } = await openStream(baseUrl, modelId);
      const raw = await readText(response);
      const upstreamEnd = await route.responses[0]?.end;
      return {
        status: response.statusCode,
        contentType: response.headers['content-type'],
        raw,
        upstreamEnd,
      };
    }

    it('OpenAI {"error":…} after the role chunk: HTTP 429 with an OpenSearch error body', {
      timeout,
    }, async () => {
      const result = await streamFrom(async (response, closed) => {
        response.write(openAi.role);
        await pause(30, closed); // a separate read: the role chunk decodes to nothing
        response.write(
          openAi.error({
            message: 'Rate limit reached for gpt-4.1',
            type: 'requests',
            code: 'rate_limit_exceeded',
          }),
        );
        await untilClosed(closed);
      });
      assert.equal(result.status, 429, result.raw);
      assert.equal(result.contentType, 'application/json; charset=utf-8');
      const reason = 'Error from remote service: Rate limit reached for gpt-4.1';
      assert.deepEqual(JSON.parse(result.raw), {
        error: {
          root_cause: [{ type: 'status_exception', reason }],
          type: 'status_exception',
          reason,
        },
        status: 429,
      });
      assert.equal(result.upstreamEnd, 'client-closed', 'the provider request was closed');
    });

    it('thinking then an error in the same first read: still an HTTP error (nothing was shown)', {
      timeout,
    }, async () => {
      const thinking = `data: ${JSON.stringify({
        choices: [{ index: 0, delta: { reasoning_content: 'Let me think' } }],
      })}\n\n`;
      const result = await streamFrom(async (response, closed) => {
        response.write(
          thinking + openAi.error({ message: 'Rate limit', code: 'rate_limit_exceeded' }),
        );
        await untilClosed(closed);
      });
      assert.equal(result.status, 429, result.raw);
      assert.equal(result.contentType, 'application/json; charset=utf-8');
      assert.equal(JSON.parse(result.raw).error.reason, 'Error from remote service: Rate limit');
    });

    it('Anthropic event: error after message_start and a ping: HTTP 503 (overloaded)', {
      timeout,
    }, async () => {
      const result = await streamFrom(async (response, closed) => {
        response.write(anthropic.start + anthropic.ping);
        await pause(30, closed);
        response.write(anthropic.error('overloaded_error', 'Overloaded'));
        await untilClosed(closed);
      }, '/v1/messages');
      assert.equal(result.status, 503, result.raw);
      assert.equal(result.contentType, 'application/json; charset=utf-8');
      const body = JSON.parse(result.raw);
      assert.equal(body.status, 503);
      assert.equal(body.error.reason, 'Error from remote service: Overloaded');
      assert.deepEqual(body.error.root_cause, [
        { type: body.error.type, reason: body.error.reason },
      ]);
      assert.equal(result.upstreamEnd, 'client-closed', 'the provider request was closed');
    });

    it('text then an error in the same first read: stays SSE and ends with one error event', {
      timeout,
    }, async () => {
      const result = await streamFrom(async (response) => {
        response.end(
          openAi.role +
            openAi.text('partial') +
            openAi.error({ message: 'The server had an error', type: 'server_error' }),
        );
      });
      assert.equal(result.status, 200, result.raw);
      assert.equal(result.contentType, 'text/event-stream; charset=utf-8');
      const events = dataEvents(result.raw);
      assert.equal(events.length, 2, result.raw);
      assert.equal(dataAsMap(events[0]).content, 'partial');
      assert.deepEqual(events[1], { error: 'Error from remote service: The server had an error' });
      assert.ok(
        result.raw.endsWith(
          'data: {"error": "Error from remote service: The server had an error"}\n\n',
        ),
      );
    });
  });

  describe('the summary log line tells the real outcome', () => {
    const summaries = (modelId: string) =>
      lines
        .map((line) => JSON.parse(line))
        .filter((entry) => entry.model_id === modelId && /^stream /.test(entry.msg));

    /** Waits for the stream's summary line and checks it is the only one. */
    async function summaryOf(modelId: string) {
      const entry = await waitForLog(
        lines,
        (line) => line.model_id === modelId && /^stream /.test(line.msg),
      );
      await sleep(50); // a second line, if any, would come right after
      assert.equal(summaries(modelId).length, 1, JSON.stringify(summaries(modelId)));
      return entry;
    }

    const failures: Array<[string, Record<string, unknown>, Record<string, unknown>, RegExp]> = [
      ['a provider error event', { fixture: 'error-mid-stream' }, {}, /^Error from remote/],
      [
        'an upstream reset',
        { resetAfterEvents: 3, delayBetweenEventsMs: 20 },
        {},
        /connection to the remote service was lost|remote side closed/,
      ],
      ['a malformed event', { malformedEventAfter: 3 }, {}, /Malformed event/],
      ['an idle upstream', { hangAfterEvents: 3 }, { read_timeout: 1 }, /read timeout/],
    ];
    for (const [title, scenario, config, message] of failures) {
      it(`${title} mid-stream is logged as a failed stream (warn), never as completed`, {
        timeout,
      }, async () => {
        const modelId = await mockModel(scenario, config);
        const { response } = await openStream(baseUrl, modelId);
        const raw = await readText(response);
        assert.match(dataEvents(raw).at(-1).error, message);
        const entry = await summaryOf(modelId);
        assert.equal(entry.msg, 'stream failed');
        assert.equal(entry.level, 40);
        assert.equal(entry.outcome, 'failed');
        assert.match(entry.error, message);
        assert.ok(entry.events >= 2, `events: ${entry.events}`);
      });
    }

    it('a client leaving while the upstream is idle is logged as client_closed', {
      timeout,
    }, async () => {
      const modelId = await mockModel({ hangAfterEvents: 3 });
      const { outgoing, response } = await openStream(baseUrl, modelId);
      await once(response, 'data');
      outgoing.destroy();
      assert.equal((await mock.waitForClose()).end, 'client-closed');
      const entry = await summaryOf(modelId);
      assert.equal(entry.msg, 'stream client_closed');
      assert.equal(entry.outcome, 'client_closed');
      assert.equal(entry.level, 30);
    });

    it('a client leaving while Sluice waits for it to drain is logged as client_closed', {
      timeout,
    }, async () => {
      const progress = { written: 0 };
      const route = upstream.route(bulkScript(6000, progress, 'y'.repeat(4000)));
      const modelId = await registerModel(node, route.url);
      const { outgoing, response } = await openStream(baseUrl, modelId);
      response.pause();
      let previous = -1;
      while (progress.written !== previous) {
        previous = progress.written;
        await sleep(200);
      }
      assert.ok(progress.written < 6000, 'the client was never stalled');
      outgoing.destroy();
      assert.equal(await route.responses[0]?.end, 'client-closed');
      const entry = await summaryOf(modelId);
      assert.equal(entry.msg, 'stream client_closed');
      assert.equal(entry.outcome, 'client_closed');
    });
  });
});
