/**
 * What a fixture stream should decode to, so provider tests can compare their decoder's parts
 * with `assert.deepEqual(summarizeParts(parts), expectedSummary('openai', 'tool-call'))`.
 *
 * Summaries are independent of how a decoder cuts deltas: text is concatenated, tool calls are
 * listed in order of first appearance (not by provider index), and usage is normalised:
 * - input_tokens counts every prompt token the model read, cached ones included (OpenAI's
 *   `prompt_tokens`; Anthropic input + cache_creation + cache_read; Bedrock inputTokens +
 *   cacheRead + cacheWrite; Gemini promptTokenCount; Cohere `tokens` (not `billed_units`);
 *   Ollama prompt_eval_count);
 * - output_tokens includes reasoning/thinking tokens (Gemini candidates + thoughts);
 * - total_tokens is the provider's total when it sends one, else input + output.
 * Finish reasons keep the raw value; `unified` follows vercel/ai's mapping, and a provider that
 * reports `STOP`/`stop` while calling tools (Gemini, Ollama) is unified to `tool_calls`.
 * A stream that carries an error has `error` set and no finish reason or usage. Cohere's
 * `tool_plan` counts as reasoning. These are the mock's expectations; provider owners may
 * decide otherwise and should then say so next to their test.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { StreamPart } from '../../src/domain/stream-part.ts';
import {
  asRecord,
  asString,
  createAnthropicReader,
  readCohereEvent,
  readConverseEvent,
  readGeminiChunk,
  readOllamaLine,
  readOpenAiChunk,
} from './expected-readers.ts';
import {
  type MockProviderName,
  readEventStreamFixture,
  readStreamFixtureBody,
} from './fixtures.ts';
import { createAccumulator, type StreamSummary } from './summary.ts';

export type { ExpectedToolCall, StreamSummary } from './summary.ts';

/** Reduces decoded stream parts to the same shape as `expectedSummary`. */
export function summarizeParts(parts: Iterable<StreamPart>): StreamSummary {
  const summary = createAccumulator();
  for (const part of parts) {
    if (part.type === 'text-delta') summary.text(part.text);
    else if (part.type === 'reasoning-delta') summary.reasoning(part.text);
    else if (part.type === 'tool-call-delta') {
      summary.toolCall(part.index, part.id, part.name, part.argumentsDelta);
    } else if (part.type === 'finish') {
      summary.finish(part.finishReason);
      if (part.usage) summary.usage(part.usage);
    } else summary.error(part.message);
  }
  return summary.result();
}

/** What the streaming fixture `fixtures/<provider>/<fixtureCase>` decodes to. */
export function expectedSummary(provider: MockProviderName, fixtureCase: string): StreamSummary {
  const summary = createAccumulator();
  if (provider === 'bedrock-converse' || provider === 'bedrock-invoke') {
    const anthropic = createAnthropicReader(summary);
    for (const frame of readEventStreamFixture(provider, fixtureCase)) {
      const payload = asRecord(frame.payload);
      if (frame.headers[':message-type'] === 'exception') {
        summary.error(asString(payload['message']));
      } else if (provider === 'bedrock-invoke') {
        anthropic(asRecord(payload['bytes']));
      } else {
        readConverseEvent(summary, frame.headers[':event-type'] ?? '', payload);
      }
    }
    return summary.result();
  }
  const body = readStreamFixtureBody(provider, fixtureCase).toString('utf8');
  if (provider === 'ollama') {
    for (const line of parseNdjson(body)) readOllamaLine(summary, line);
    return summary.result();
  }
  const read = {
    openai: (data: Record<string, unknown>) => readOpenAiChunk(summary, data),
    anthropic: createAnthropicReader(summary),
    cohere: (data: Record<string, unknown>) => readCohereEvent(summary, data),
    gemini: (data: Record<string, unknown>) => readGeminiChunk(summary, data),
  }[provider];
  for (const message of parseSse(body)) {
    if (message.data === '[DONE]') continue;
    read(asRecord(JSON.parse(message.data)));
  }
  return summary.result();
}

/** Parses an SSE body with a spec-compliant parser (CR, LF and CRLF line ends, comments). */
export function parseSse(body: string): EventSourceMessage[] {
  const messages: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => messages.push(message) });
  parser.feed(body);
  return messages;
}

export function parseNdjson(body: string): Record<string, unknown>[] {
  return body
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => asRecord(JSON.parse(line)));
}
