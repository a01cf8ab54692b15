/**
 * Stream parts → the ml-commons `_predict/stream` wire events (reference §4.1, §4.2), encoded
 * once, here. Strings go through JSON.stringify, so every character is escaped correctly.
 *
 *   data: {"inference_results":[{"output":[{"name":"response","dataAsMap":{"content":"…","is_last":false}}]}]}
 *
 * Sluice additions, in `dataAsMap` only: `tool_calls` on tool-call events, and `finish_reason`
 * and `usage` on the final `is_last: true` event.
 */
import type { StreamPart } from '../domain/stream-part.ts';

const prefix = 'data: {"inference_results":[{"output":[{"name":"response","dataAsMap":';
const suffix = '}]}]}\n\n';

export function encodePart(part: StreamPart): string {
  switch (part.type) {
    case 'text-delta':
      return `${prefix}{"content":${JSON.stringify(part.text)},"is_last":false}${suffix}`;
    case 'tool-call-delta': {
      // Key order is part of what clients see: index, id, name, arguments.
      const call = {
        index: part.index,
        id: part.id,
        name: part.name,
        arguments: part.argumentsDelta,
      };
      return `${prefix}{"content":"","is_last":false,"tool_calls":[${JSON.stringify(call)}]}${suffix}`;
    }
    case 'finish': {
      const usage = part.usage === undefined ? '' : `,"usage":${JSON.stringify(part.usage)}`;
      return `${prefix}{"content":"","is_last":true,"finish_reason":${JSON.stringify(part.finishReason.unified)}${usage}}${suffix}`;
    }
    case 'error':
      // ml-commons' exact error event shape, space after the colon included.
      return `data: {"error": ${JSON.stringify(part.message)}}\n\n`;
    case 'reasoning-delta':
      // Thinking is not answer content; the ml-commons format has no place for it.
      return '';
  }
}

export function encodeBatch(parts: readonly StreamPart[]): string {
  if (parts.length === 1 && parts[0] !== undefined) return encodePart(parts[0]);
  let text = '';
  for (const part of parts) text += encodePart(part);
  return text;
}
