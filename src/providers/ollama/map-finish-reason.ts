/**
 * Ollama `done_reason` → unified finish reason, keeping the raw value. Ollama reports `stop`
 * when the model called tools, so the decoder says whether it did.
 * @see https://github.com/ollama/ollama/blob/main/docs/api.md#generate-a-chat-completion
 */
import type { FinishReason } from '../../domain/stream-part.ts';

export function mapFinishReason(raw: string | undefined, calledTools: boolean): FinishReason {
  switch (raw) {
    case 'stop':
      return { unified: calledTools ? 'tool_calls' : 'stop', raw };
    case 'length':
      return { unified: 'length', raw };
    default:
      // Includes `load` / `unload`: the request only loaded or unloaded the model.
      return { unified: 'other', raw };
  }
}
