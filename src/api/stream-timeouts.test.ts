/**
 * `client_config.read_timeout` on `_predict/stream`, over real sockets, as Sluice implements it
 * (src/predict/stream-timers.ts, read-parts.ts, upstream/client.ts `open`):
 * - the idle timer is re-armed by every batch of *decoded stream parts* (text, tool call,
 *   reasoning, finish, error); a streaming body has no byte-level idle timeout (`bodyTimeout: 0`);
 * - before the first part the first-token deadline applies instead (`first_token_timeout`,
 *   default `read_timeout`), and passing it is an HTTP 504, since nothing has been written;
 * - the idle timer does not run while Sluice waits for a slow client (backpressure).
 * All with `read_timeout: 1` (the smallest accepted value).
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
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
} from '../../test/helpers/scripted-upstream.ts';
import { startTestNode, type TestNode } from '../../test/helpers/test-node.ts';

/** A regression must fail the test, not hang the suite. */
const timeout = 10_000;

const readTimeout = { read_timeout: 1 };

describe('read_timeout on a stream', () => {
  let node: TestNode;
  let upstream: ScriptedUpstream;
  let baseUrl: string;

  before(async () => {
    upstream = await startScriptedUpstream();
    node = await startTestNode();
    await node.allowLoopback();
    baseUrl = await node.node.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await node.close();
    await upstream.close();
  });

  /** Streams and reads the whole body, timing it from the request. */
  async function streamAll(modelId: string) {
    const startedAt = performance.now();
    const { response } = await openStream(baseUrl, modelId);
    const raw = await readText(response);
    return {
      status: response.statusCode,
      contentType: response.headers['content-type'],
      raw,
      elapsedMs: performance.now() - startedAt,
    };
  }

  /** A keep-alive every 200 ms until the response closes (at most 5 s), counted in `sent`. */
  async function keepAlives(
    response: ServerResponse,
    closed: AbortSignal,
    ping: string,
    sent: { count: number; firstAt?: number },
  ) {
    sent.firstAt = performance.now();
    for (let index = 0; index < 25; index += 1) {
      if (!(await pause(200, closed))) return;
      response.write(ping);
      sent.count += 1;
    }
    await untilClosed(closed);
  }

  // These four only wait on timers, so they run side by side (about 2.5 s in all).
  describe('deadlines', { concurrency: true }, () => {
    it('a healthy stream longer than read_timeout, an event every 450 ms, completes normally', {
      timeout,
    }, async () => {
      const route = upstream.route(async (response, closed) => {
        response.write(openAi.role + openAi.text('0'));
        for (let index = 1; index < 6; index += 1) {
          if (!(await pause(450, closed))) return;
          response.write(openAi.text(String(index)));
        }
        response.end(openAi.end);
      });
      const modelId = await registerModel(node, route.url, readTimeout);
      const result = await streamAll(modelId);
      assert.equal(result.status, 200, result.raw);
      assert.ok(result.elapsedMs >= 2000, `the stream lasted only ${result.elapsedMs} ms`);
      const events = dataEvents(result.raw);
      assert.ok(!result.raw.includes('"error"'), result.raw);
      assert.deepEqual(
        events.slice(0, -1).map((event) => dataAsMap(event).content),
        ['0', '1', '2', '3', '4', '5'],
      );
      const last = dataAsMap(events.at(-1));
      assert.equal(last.is_last, true);
      assert.equal(last.finish_reason, 'stop');
    });

    // NOTE: README says read_timeout is the "idle time between bytes, and between events of a
    // stream". What the code does for a stream (and what these two tests pin down) is narrower:
    // a streaming body has no byte-level idle timeout, and only events that decode to a stream
    // part re-arm the idle timer. Keep-alive bytes, SSE comments and Anthropic's `event: ping`
    // (an SSE *event*) do not, so an upstream that only pings fails one read_timeout after its
    // last real event (STREAMING-PITFALLS item 6: pings must not hide a stalled upstream).
    for (const [dialect, path, opening, ping] of [
      [
        'SSE comment `: ping`',
        '/v1/chat/completions',
        openAi.role + openAi.text('Hello'),
        openAi.ping,
      ],
      [
        'Anthropic `event: ping`',
        '/v1/messages',
        anthropic.start + anthropic.text('Hello'),
        anthropic.ping,
      ],
    ] as const) {
      it(`keep-alives (${dialect}) do not reset it: one read_timeout after the last event, one error event`, {
        timeout,
      }, async () => {
        const sent = { count: 0 } as { count: number; firstAt?: number };
        const route = upstream.route(async (response, closed) => {
          response.write(opening);
          await keepAlives(response, closed, ping, sent);
        }, path);
        const modelId = await registerModel(node, route.url, readTimeout);
        const result = await streamAll(modelId);
        const endedAt = performance.now();
        assert.equal(result.status, 200, result.raw);
        const events = dataEvents(result.raw);
        assert.equal(events.length, 2, result.raw);
        assert.equal(dataAsMap(events[0]).content, 'Hello');
        assert.deepEqual(events[1], { error: 'No event arrived for 1 s (read timeout)' });
        assert.ok(!result.raw.includes('"is_last":true'));
        // Pings kept flowing for most of the second, and did not push the deadline back.
        assert.ok(sent.count >= 3, `only ${sent.count} keep-alives were sent`);
        const afterLastEvent = endedAt - (sent.firstAt ?? 0);
        assert.ok(
          afterLastEvent > 900 && afterLastEvent < 2000,
          `the read timeout came ${afterLastEvent} ms after the last event`,
        );
        assert.equal(await route.responses[0]?.end, 'client-closed', 'the upstream was cancelled');
      });
    }

    it('keep-alives before the first event do not count as a first token: HTTP 504', {
      timeout,
    }, async () => {
      const sent = { count: 0 };
      const route = upstream.route(async (response, closed) => {
        response.write(openAi.role);
        await keepAlives(response, closed, openAi.ping, sent);
      });
      const modelId = await registerModel(node, route.url, readTimeout);
      const result = await streamAll(modelId);
      assert.equal(result.status, 504, result.raw);
      assert.ok(result.elapsedMs < 2000, `the 504 came after ${result.elapsedMs} ms`);
      assert.equal(result.contentType, 'application/json; charset=utf-8');
      const body = JSON.parse(result.raw);
      assert.equal(body.status, 504);
      assert.equal(body.error.reason, 'No token arrived within 1 s (first token timeout)');
      assert.ok(sent.count >= 3, `only ${sent.count} keep-alives were sent`);
      assert.equal(await route.responses[0]?.end, 'client-closed', 'the upstream was cancelled');
    });
  });

  it('a client that stops reading for longer than read_timeout does not trip it, and loses nothing', {
    timeout,
  }, async () => {
    const total = 6000;
    const filler = 'x'.repeat(4000); // 24 MB in all: far more than the socket buffers hold
    const progress = { written: 0 };
    const route = upstream.route(bulkScript(total, progress, filler));
    const modelId = await registerModel(node, route.url, readTimeout);
    const { response } = await openStream(baseUrl, modelId);
    assert.equal(response.statusCode, 200);
    response.pause();
    // Wait until every buffer on the way is full and the upstream is held back…
    let previous = -1;
    while (progress.written !== previous) {
      previous = progress.written;
      await sleep(300);
    }
    const stalledAt = progress.written;
    assert.ok(stalledAt < total, 'the upstream was never held back; the test proves nothing');
    // …then stay stalled well past read_timeout (1 s), counting from the last upstream event.
    await sleep(1500);
    assert.equal(progress.written, stalledAt, 'Sluice read the upstream for a stalled client');
    const raw = await readText(response);
    const events = dataEvents(raw);
    assert.ok(!raw.includes('"error"'), `an error event: ${raw.slice(raw.indexOf('"error"'), -1)}`);
    assert.equal(events.length, total + 1);
    events.slice(0, -1).forEach((event, index) => {
      const content = dataAsMap(event).content;
      if (content !== `${index}|${filler}`) assert.fail(`event ${index}: ${content.slice(0, 20)}`);
    });
    assert.equal(dataAsMap(events.at(-1)).is_last, true);
    assert.equal(await route.responses[0]?.end, 'completed');
  });
});
