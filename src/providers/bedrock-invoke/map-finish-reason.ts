import type { FinishReason, UnifiedFinishReason } from '../../domain/stream-part.ts';

/**
 * Anthropic `stop_reason` → unified finish reason; the raw value is kept (undefined when the
 * stream carried none).
 * @see https://docs.anthropic.com/en/api/handling-stop-reasons
 */
export function mapFinishReason(raw: string | undefined): FinishReason {
  return { unified: unify(raw), raw };
}

function unify(raw: string | undefined): UnifiedFinishReason {
  switch (raw) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'other';
  }
}
