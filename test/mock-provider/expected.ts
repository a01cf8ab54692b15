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
import type {
  FinishReason,
  StreamPart,
  UnifiedFinishReason,
  Usage,
} from '../../src/domain/stream-part.ts';
import {
  type MockProviderName,
  readEventStreamFixture,
  readStreamFixtureBody,
} from './fixtures.ts';

export interface ExpectedToolCall {
  /** Undefined when the provider sends no call ids (Gemini). */
  id: string | undefined;
  name: string;
  /** Argument fragments concatenated (or the JSON of complete arguments objects). */
  arguments: string;
  /** `arguments` parsed, or undefined when it is not valid JSON. */
  input: unknown;
}

export interface StreamSummary {
  text: string;
  reasoning: string;
  toolCalls: ExpectedToolCall[];
  finishReason: FinishReason | undefined;
  usage: Usage | undefined;
  /** The provider's error message when the stream failed. */
  error: string | undefined;
}

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
      if (frame.headers[':message-type'] === 'exception')
        summary.error(asString(payload['message']));
      else if (provider === 'bedrock-invoke') anthropic(asRecord(payload['bytes']));
      else readConverseEvent(summary, frame.headers[':event-type'] ?? '', payload);
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

type Accumulator = ReturnType<typeof createAccumulator>;

function createAccumulator() {
  let text = '';
  let reasoning = '';
  const calls = new Map<number | string, ExpectedToolCall>();
  let finishReason: FinishReason | undefined;
  let usage: Usage | undefined;
  let error: string | undefined;
  return {
    text(delta: string) {
      text += delta;
    },
    reasoning(delta: string) {
      reasoning += delta;
    },
    toolCall(key: number | string, id: string | undefined, name: string | undefined, args: string) {
      const call = calls.get(key) ?? { id: undefined, name: '', arguments: '', input: undefined };
      calls.set(key, call);
      if (id !== undefined) call.id = id;
      if (name !== undefined) call.name = name;
      call.arguments += args;
    },
    get toolCallCount() {
      return calls.size;
    },
    finish(reason: FinishReason) {
      finishReason = reason;
    },
    usage(reported: Usage) {
      usage = reported;
    },
    error(message: string) {
      error = message;
    },
    result(): StreamSummary {
      const toolCalls = [...calls.values()].map((call) => ({
        ...call,
        input: tryParse(call.arguments),
      }));
      if (error !== undefined)
        return { text, reasoning, toolCalls, finishReason: undefined, usage: undefined, error };
      return { text, reasoning, toolCalls, finishReason, usage, error };
    },
  };
}

function readOpenAiChunk(summary: Accumulator, chunk: Record<string, unknown>): void {
  if (chunk['error'] !== undefined) {
    summary.error(asString(asRecord(chunk['error'])['message']));
    return;
  }
  const choice = asRecord(asArray(chunk['choices'])[0]);
  const delta = asRecord(choice['delta']);
  if (typeof delta['content'] === 'string') summary.text(delta['content']);
  for (const item of asArray(delta['tool_calls'])) {
    const call = asRecord(item);
    const fn = asRecord(call['function']);
    summary.toolCall(
      Number(call['index']),
      optionalString(call['id']),
      optionalString(fn['name']),
      asString(fn['arguments']),
    );
  }
  if (typeof choice['finish_reason'] === 'string') {
    const raw = choice['finish_reason'];
    summary.finish({ raw, unified: openAiFinish(raw) });
  }
  const usage = chunk['usage'];
  if (usage && typeof usage === 'object') {
    const reported = asRecord(usage);
    summary.usage({
      input_tokens: Number(reported['prompt_tokens']),
      output_tokens: Number(reported['completion_tokens']),
      total_tokens: Number(reported['total_tokens']),
    });
  }
}

/** Reads Anthropic Messages events (direct SSE, or inside Bedrock `chunk` frames). */
function createAnthropicReader(summary: Accumulator) {
  let inputTokens = 0;
  return (event: Record<string, unknown>): void => {
    const type = event['type'];
    if (type === 'message_start') {
      inputTokens = anthropicInput(asRecord(asRecord(event['message'])['usage']));
    } else if (type === 'content_block_start') {
      const block = asRecord(event['content_block']);
      if (block['type'] === 'tool_use') {
        summary.toolCall(
          Number(event['index']),
          asString(block['id']),
          asString(block['name']),
          '',
        );
      }
    } else if (type === 'content_block_delta') {
      const delta = asRecord(event['delta']);
      if (delta['type'] === 'text_delta') summary.text(asString(delta['text']));
      if (delta['type'] === 'thinking_delta') summary.reasoning(asString(delta['thinking']));
      if (delta['type'] === 'input_json_delta') {
        summary.toolCall(
          Number(event['index']),
          undefined,
          undefined,
          asString(delta['partial_json']),
        );
      }
    } else if (type === 'message_delta') {
      const usage = asRecord(event['usage']);
      if (usage['input_tokens'] !== undefined) inputTokens = anthropicInput(usage);
      const output = Number(usage['output_tokens']);
      const raw = asString(asRecord(event['delta'])['stop_reason']);
      summary.finish({ raw, unified: anthropicFinish(raw) });
      summary.usage({
        input_tokens: inputTokens,
        output_tokens: output,
        total_tokens: inputTokens + output,
      });
    } else if (type === 'error') {
      summary.error(asString(asRecord(event['error'])['message']));
    }
  };
}

function anthropicInput(usage: Record<string, unknown>): number {
  return (
    Number(usage['input_tokens'] ?? 0) +
    Number(usage['cache_creation_input_tokens'] ?? 0) +
    Number(usage['cache_read_input_tokens'] ?? 0)
  );
}

function readConverseEvent(
  summary: Accumulator,
  eventType: string,
  event: Record<string, unknown>,
): void {
  const index = Number(event['contentBlockIndex']);
  if (eventType === 'contentBlockStart') {
    const toolUse = asRecord(asRecord(event['start'])['toolUse']);
    if (toolUse['toolUseId'] !== undefined) {
      summary.toolCall(index, asString(toolUse['toolUseId']), asString(toolUse['name']), '');
    }
  } else if (eventType === 'contentBlockDelta') {
    const delta = asRecord(event['delta']);
    if (typeof delta['text'] === 'string') summary.text(delta['text']);
    const reasoningText = asRecord(delta['reasoningContent'])['text'];
    if (typeof reasoningText === 'string') summary.reasoning(reasoningText);
    const toolInput = asRecord(delta['toolUse'])['input'];
    if (typeof toolInput === 'string') summary.toolCall(index, undefined, undefined, toolInput);
  } else if (eventType === 'messageStop') {
    const raw = asString(event['stopReason']);
    summary.finish({ raw, unified: anthropicFinish(raw) });
  } else if (eventType === 'metadata') {
    const usage = asRecord(event['usage']);
    const input =
      Number(usage['inputTokens']) +
      Number(usage['cacheReadInputTokens'] ?? 0) +
      Number(usage['cacheWriteInputTokens'] ?? 0);
    summary.usage({
      input_tokens: input,
      output_tokens: Number(usage['outputTokens']),
      total_tokens: Number(usage['totalTokens']),
    });
  }
}

function readCohereEvent(summary: Accumulator, event: Record<string, unknown>): void {
  const type = event['type'];
  const message = asRecord(asRecord(event['delta'])['message']);
  const index = Number(event['index']);
  if (type === 'content-delta') summary.text(asString(asRecord(message['content'])['text']));
  else if (type === 'tool-plan-delta') summary.reasoning(asString(message['tool_plan']));
  else if (type === 'tool-call-start' || type === 'tool-call-delta') {
    const call = asRecord(message['tool_calls']);
    const fn = asRecord(call['function']);
    summary.toolCall(
      index,
      optionalString(call['id']),
      optionalString(fn['name']),
      asString(fn['arguments']),
    );
  } else if (type === 'message-end') {
    const delta = asRecord(event['delta']);
    if (typeof delta['error'] === 'string') {
      summary.error(delta['error']);
      return;
    }
    const tokens = asRecord(asRecord(delta['usage'])['tokens']);
    const input = Number(tokens['input_tokens']);
    const output = Number(tokens['output_tokens']);
    const raw = asString(delta['finish_reason']);
    summary.finish({ raw, unified: cohereFinish(raw) });
    summary.usage({ input_tokens: input, output_tokens: output, total_tokens: input + output });
  }
}

function readGeminiChunk(summary: Accumulator, chunk: Record<string, unknown>): void {
  if (chunk['error'] !== undefined) {
    summary.error(asString(asRecord(chunk['error'])['message']));
    return;
  }
  const candidate = asRecord(asArray(chunk['candidates'])[0]);
  for (const item of asArray(asRecord(candidate['content'])['parts'])) {
    const part = asRecord(item);
    if (typeof part['text'] === 'string') {
      if (part['thought'] === true) summary.reasoning(part['text']);
      else summary.text(part['text']);
    }
    if (part['functionCall'] !== undefined) {
      const call = asRecord(part['functionCall']);
      summary.toolCall(
        summary.toolCallCount,
        optionalString(call['id']),
        asString(call['name']),
        JSON.stringify(call['args'] ?? {}),
      );
    }
  }
  if (typeof candidate['finishReason'] === 'string') {
    const raw = candidate['finishReason'];
    const usage = asRecord(chunk['usageMetadata']);
    const input = Number(usage['promptTokenCount'] ?? 0);
    const output =
      Number(usage['candidatesTokenCount'] ?? 0) + Number(usage['thoughtsTokenCount'] ?? 0);
    summary.finish({ raw, unified: geminiFinish(raw, summary.toolCallCount > 0) });
    summary.usage({
      input_tokens: input,
      output_tokens: output,
      total_tokens: Number(usage['totalTokenCount'] ?? input + output),
    });
  }
}

function readOllamaLine(summary: Accumulator, line: Record<string, unknown>): void {
  if (typeof line['error'] === 'string') {
    summary.error(line['error']);
    return;
  }
  const message = asRecord(line['message']);
  if (typeof message['thinking'] === 'string') summary.reasoning(message['thinking']);
  if (typeof message['content'] === 'string') summary.text(message['content']);
  for (const item of asArray(message['tool_calls'])) {
    const call = asRecord(item);
    const fn = asRecord(call['function']);
    summary.toolCall(
      summary.toolCallCount,
      optionalString(call['id']),
      asString(fn['name']),
      JSON.stringify(fn['arguments'] ?? {}),
    );
  }
  if (line['done'] === true) {
    const raw = asString(line['done_reason']);
    const input = Number(line['prompt_eval_count'] ?? 0);
    const output = Number(line['eval_count'] ?? 0);
    const unified =
      raw === 'length'
        ? 'length'
        : summary.toolCallCount > 0
          ? 'tool_calls'
          : raw === 'stop'
            ? 'stop'
            : 'other';
    summary.finish({ raw, unified });
    summary.usage({ input_tokens: input, output_tokens: output, total_tokens: input + output });
  }
}

function openAiFinish(raw: string): UnifiedFinishReason {
  if (raw === 'stop' || raw === 'length' || raw === 'tool_calls' || raw === 'content_filter')
    return raw;
  return raw === 'function_call' ? 'tool_calls' : 'other';
}

function anthropicFinish(raw: string): UnifiedFinishReason {
  const map: Record<string, UnifiedFinishReason> = {
    end_turn: 'stop',
    stop_sequence: 'stop',
    max_tokens: 'length',
    model_context_window_exceeded: 'length',
    tool_use: 'tool_calls',
    refusal: 'content_filter',
    guardrail_intervened: 'content_filter',
    content_filtered: 'content_filter',
  };
  return map[raw] ?? 'other';
}

function cohereFinish(raw: string): UnifiedFinishReason {
  const map: Record<string, UnifiedFinishReason> = {
    COMPLETE: 'stop',
    STOP_SEQUENCE: 'stop',
    MAX_TOKENS: 'length',
    TOOL_CALL: 'tool_calls',
    ERROR_TOXIC: 'content_filter',
    ERROR: 'error',
  };
  return map[raw] ?? 'other';
}

function geminiFinish(raw: string, calledTools: boolean): UnifiedFinishReason {
  if (raw === 'STOP') return calledTools ? 'tool_calls' : 'stop';
  if (raw === 'MAX_TOKENS') return 'length';
  if (['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII'].includes(raw))
    return 'content_filter';
  return raw === 'MALFORMED_FUNCTION_CALL' ? 'error' : 'other';
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function asString(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
