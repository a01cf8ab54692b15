/**
 * OpenAI Chat Completions `finish_reason` → unified finish reason, keeping the raw value.
 * @see https://platform.openai.com/docs/api-reference/chat-streaming/streaming
 */
import type { FinishReason } from '../../domain/stream-part.ts';

export function mapFinishReason(raw: string | undefined): FinishReason {
  switch (raw) {
    case 'stop':
      return { unified: 'stop', raw };
    case 'length':
      return { unified: 'length', raw };
    case 'tool_calls':
    // The deprecated `functions` API ends a call with `function_call`: still a tool call.
    case 'function_call':
      return { unified: 'tool_calls', raw };
    case 'content_filter':
      return { unified: 'content_filter', raw };
    default:
      return { unified: 'other', raw };
  }
}
