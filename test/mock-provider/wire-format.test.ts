/**
 * Well-formedness of every fixture, read back through the mock over HTTP. Cohere, Gemini and
 * Ollama have no SDK installed, so their bytes are checked with a spec SSE parser / NDJSON;
 * the summaries are checked for every provider so the fixtures tell one consistent story.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectedSummary, parseNdjson, parseSse } from './expected.ts';
import {
  fixtureCases,
  type MockProviderName,
  mockProviderNames,
  readStreamFixtureBody,
} from './fixtures.ts';
import { type MockProvider, startMockProvider } from './server.ts';

const answer =
  'Café Sprüngli on Bahnhofstrasse is a Zürich classic — try the Luxemburgerli with a cappuccino ☕. Enjoy! 🚀';
const paris = { location: 'Paris, France', unit: 'celsius' };
const zurich = { location: 'Zürich, Switzerland', unit: 'celsius' };

let mock: MockProvider;
before(async () => {
  mock = await startMockProvider();
});
after(async () => {
  await mock.close();
});

async function fetchStream(
  provider: MockProviderName,
  fixture: string,
): Promise<{ contentType: string; body: string }> {
  const response = await fetch(mock.urlFor(provider), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-mock-scenario': fixture },
    body: JSON.stringify({ stream: true }),
  });
  assert.equal(response.status, 200);
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.deepEqual(bytes, readStreamFixtureBody(provider, fixture), 'served bytes = fixture bytes');
  return { contentType: response.headers.get('content-type') ?? '', body: bytes.toString('utf8') };
}

describe('Cohere v2 chat SSE fixtures', () => {
  for (const fixture of fixtureCases) {
    it(`${fixture}: named events whose name matches data.type, message-end, then [DONE]`, async () => {
      const { contentType, body } = await fetchStream('cohere', fixture);
      assert.match(contentType, /^text\/event-stream/);
      const messages = parseSse(body);
      assert.equal(messages.at(-1)?.data, '[DONE]');
      const events = messages.slice(0, -1).map((message) => {
        const data = JSON.parse(message.data) as { type: string };
        assert.equal(message.event, data.type);
        return data as { type: string; id?: string; delta?: Record<string, unknown> };
      });
      assert.equal(events[0]?.type, 'message-start');
      assert.ok(events[0]?.id);
      const end = events.at(-1);
      assert.equal(end?.type, 'message-end');
      const usage = end?.delta?.['usage'] as { billed_units: object; tokens: object } | undefined;
      assert.ok(usage?.billed_units && usage.tokens);
      const finish = { text: 'COMPLETE', usage: 'COMPLETE', 'tool-call': 'TOOL_CALL' }[
        fixture as string
      ];
      assert.equal(end?.delta?.['finish_reason'], finish ?? 'ERROR');
    });
  }
});

describe('Gemini streamGenerateContent?alt=sse fixtures', () => {
  for (const fixture of fixtureCases) {
    it(`${fixture}: CRLF-framed data events with candidates or an error`, async () => {
      const { contentType, body } = await fetchStream('gemini', fixture);
      assert.match(contentType, /^text\/event-stream/);
      assert.doesNotMatch(body, /[^\r]\n/, 'Gemini ends every line with CRLF');
      const chunks = parseSse(body).map((message) => {
        assert.equal(message.event, undefined);
        return JSON.parse(message.data) as Record<string, unknown>;
      });
      const last = chunks.at(-1) ?? {};
      if (fixture === 'error-mid-stream') {
        assert.deepEqual(Object.keys(last), ['error']);
        assert.ok(chunks.length > 1);
        return;
      }
      assert.ok(
        chunks.every((chunk) => Array.isArray(chunk['candidates']) && chunk['modelVersion']),
      );
      const candidate = (last['candidates'] as { finishReason?: string }[])[0];
      assert.equal(candidate?.finishReason, 'STOP');
      const usage = last['usageMetadata'] as Record<string, number>;
      assert.ok(usage['promptTokenCount'] && usage['totalTokenCount']);
    });
  }
});

describe('Ollama /api/chat NDJSON fixtures', () => {
  for (const fixture of fixtureCases) {
    it(`${fixture}: one JSON object per line, ending with done:true or an error`, async () => {
      const { contentType, body } = await fetchStream('ollama', fixture);
      assert.equal(contentType, 'application/x-ndjson');
      assert.ok(body.endsWith('\n'));
      const lines = parseNdjson(body);
      const last = lines.at(-1) ?? {};
      if (fixture === 'error-mid-stream') {
        assert.equal(typeof last['error'], 'string');
        assert.ok(lines.slice(0, -1).every((line) => line['done'] === false));
        return;
      }
      for (const line of lines.slice(0, -1)) {
        assert.equal(line['done'], false);
        assert.match(String(line['created_at']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      }
      assert.equal(last['done'], true);
      assert.equal(last['done_reason'], 'stop');
      assert.ok(Number(last['prompt_eval_count']) > 0 && Number(last['eval_count']) > 0);
    });
  }
});

describe('every provider fixture tells the same story', () => {
  for (const provider of mockProviderNames) {
    it(`${provider}: text, tool calls, usage and error decode as expected`, () => {
      const text = expectedSummary(provider, 'text');
      assert.equal(text.text, answer);
      assert.equal(text.finishReason?.unified, 'stop');
      assert.equal(text.error, undefined);
      if (provider !== 'openai') assert.ok(text.usage, 'usage reported without being asked');

      const tools = expectedSummary(provider, 'tool-call');
      assert.deepEqual(
        tools.toolCalls.map((call) => [call.name, call.input]),
        [
          ['get_weather', paris],
          ['get_weather', zurich],
        ],
      );
      assert.equal(tools.finishReason?.unified, 'tool_calls');
      if (provider !== 'gemini') assert.ok(tools.toolCalls.every((call) => call.id));

      const usage = expectedSummary(provider, 'usage');
      assert.ok(usage.usage && usage.usage.input_tokens > 0 && usage.usage.output_tokens > 0);
      assert.ok(usage.usage.total_tokens >= usage.usage.input_tokens + usage.usage.output_tokens);

      const failed = expectedSummary(provider, 'error-mid-stream');
      assert.ok(failed.error);
      assert.ok(failed.text.length > 0 && answer.startsWith(failed.text));
      assert.equal(failed.finishReason, undefined);
    });
  }
});
