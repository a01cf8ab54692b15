import type { FinishReason, UnifiedFinishReason } from '../../domain/stream-part.ts';

/**
 * Converse `stopReason` → unified finish reason; the raw value is kept.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_MessageStopEvent.html
 */
export function mapFinishReason(raw: string): FinishReason {
  return { unified: unify(raw), raw };
}

function unify(raw: string): UnifiedFinishReason {
  switch (raw) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'content_filter';
    default:
      return 'other';
  }
}
