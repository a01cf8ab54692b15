/**
 * Anthropic Messages `stop_reason` → unified finish reason, keeping the raw value.
 * @see https://docs.anthropic.com/en/api/handling-stop-reasons
 */
import type { FinishReason } from '../../domain/stream-part.ts';

export function mapFinishReason(raw: string | undefined): FinishReason {
  switch (raw) {
    case 'end_turn':
    case 'stop_sequence':
      return { unified: 'stop', raw };
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return { unified: 'length', raw };
    case 'tool_use':
      return { unified: 'tool_calls', raw };
    case 'refusal':
      return { unified: 'content_filter', raw };
    default:
      // Includes `pause_turn`: a server tool paused a long turn; the caller decides what next.
      return { unified: 'other', raw };
  }
}
