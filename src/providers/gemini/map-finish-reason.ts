import type { FinishReason, UnifiedFinishReason } from '../../domain/stream-part.ts';

/**
 * Gemini `finishReason` → unified finish reason; the raw value is kept. Gemini says `STOP` also
 * when the model called tools, so `calledTools` turns that into `tool_calls`.
 * @see https://ai.google.dev/api/generate-content#FinishReason
 */
export function mapFinishReason(raw: string, calledTools: boolean): FinishReason {
  return { unified: unify(raw, calledTools), raw };
}

function unify(raw: string, calledTools: boolean): UnifiedFinishReason {
  switch (raw) {
    case 'STOP':
      return calledTools ? 'tool_calls' : 'stop';
    case 'MAX_TOKENS':
      return 'length';
    case 'SAFETY':
    case 'RECITATION':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'IMAGE_SAFETY':
      return 'content_filter';
    case 'MALFORMED_FUNCTION_CALL':
    case 'UNEXPECTED_TOOL_CALL':
      return 'error';
    default:
      return 'other';
  }
}
