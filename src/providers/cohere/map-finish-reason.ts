import type { FinishReason, UnifiedFinishReason } from '../../domain/stream-part.ts';

/**
 * Cohere v2 `finish_reason` → unified finish reason; the raw value is kept (undefined when the
 * stream carried none). Cohere spells these in upper case on the wire; the SDKs lower-case
 * them, so both are accepted.
 * @see https://docs.cohere.com/reference/chat-stream
 */
export function mapFinishReason(raw: string | undefined): FinishReason {
  return { unified: unify(raw?.toUpperCase()), raw };
}

function unify(raw: string | undefined): UnifiedFinishReason {
  switch (raw) {
    case 'COMPLETE':
    case 'STOP_SEQUENCE':
      return 'stop';
    case 'MAX_TOKENS':
    case 'ERROR_LIMIT':
      return 'length';
    case 'TOOL_CALL':
      return 'tool_calls';
    case 'CONTENT_BLOCKED':
    case 'ERROR_TOXIC':
      return 'content_filter';
    case 'ERROR':
    case 'TIMEOUT':
      return 'error';
    default:
      return 'other';
  }
}
