/**
 * Reference readers: each turns one provider event (already parsed from its framing) into
 * summary updates. Deliberately plain and independent of Sluice's decoders; the official SDKs
 * in the conformance tests vouch for what these readers assume.
 */
import type { UnifiedFinishReason } from '../../src/domain/stream-part.ts';
import type { Accumulator } from './summary.ts';

export function readOpenAiChunk(summary: Accumulator, chunk: Record<string, unknown>): void {
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
export function createAnthropicReader(summary: Accumulator) {
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

export function readConverseEvent(
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

export function readCohereEvent(summary: Accumulator, event: Record<string, unknown>): void {
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

export function readGeminiChunk(summary: Accumulator, chunk: Record<string, unknown>): void {
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

export function readOllamaLine(summary: Accumulator, line: Record<string, unknown>): void {
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

export function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asString(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
