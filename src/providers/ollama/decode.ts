/**
 * Ollama native chat stream (`/api/chat`, one JSON object per line) → parts.
 * @see https://github.com/ollama/ollama/blob/main/docs/api.md#generate-a-chat-completion
 *
 * Every line is a chat chunk `{ message: { content, thinking, tool_calls }, done }`, the last
 * one has `done: true` with `done_reason` and the token counts, and a failure is a line
 * `{ "error": "…" }`. Ollama sends each tool call whole (arguments as an object, usually no id),
 * so each becomes one `tool-call-delta` carrying the JSON text of its arguments.
 */
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { FrameDecoder } from '../../domain/provider.ts';
import type { StreamPart } from '../../domain/stream-part.ts';
import { endedEarly, remoteErrorPart } from '../shared/errors.ts';
import {
  arrayField,
  asObject,
  booleanField,
  isObject,
  type JsonObject,
  malformed,
  numberField,
  objectField,
  parseJsonObject,
  requiredObject,
  stringField,
  textOf,
} from '../shared/json.ts';
import { mapFinishReason } from './map-finish-reason.ts';

type Emit = (part: StreamPart) => void;

export function createOllamaDecoder(): FrameDecoder {
  let toolCount = 0;
  let terminated = false;

  function onLine(line: JsonObject, emit: Emit): void {
    const error = line['error'];
    if (error !== undefined && error !== null) {
      onError(error, emit);
      return;
    }
    const message = objectField(line, 'message');
    if (message !== undefined) onMessage(message, emit);
    if (booleanField(line, 'done') === true) onDone(line, emit);
  }

  function onMessage(message: JsonObject, emit: Emit): void {
    const thinking = stringField(message, 'thinking');
    if (thinking) emit({ type: 'reasoning-delta', text: thinking });
    const content = stringField(message, 'content');
    if (content) emit({ type: 'text-delta', text: content });
    const toolCalls = arrayField(message, 'tool_calls');
    if (toolCalls !== undefined) {
      for (const call of toolCalls) onToolCall(asObject(call, 'tool_calls[]'), emit);
    }
  }

  function onToolCall(call: JsonObject, emit: Emit): void {
    const target = requiredObject(call, 'function');
    const name = stringField(target, 'name');
    if (!name) throw malformed('a tool call has no function name');
    // `function.index` is missing in older versions (and left out when 0); a running count is not.
    const index = toolCount;
    toolCount += 1;
    emit({
      type: 'tool-call-delta',
      index,
      // Deterministic, so a replayed stream decodes to the same parts.
      id: stringField(call, 'id') ?? `call_${index}`,
      name,
      argumentsDelta: argumentsText(target['arguments']),
    });
  }

  function onDone(line: JsonObject, emit: Emit): void {
    terminated = true;
    const finish: StreamPart = {
      type: 'finish',
      finishReason: mapFinishReason(stringField(line, 'done_reason'), toolCount > 0),
    };
    const input = numberField(line, 'prompt_eval_count');
    const output = numberField(line, 'eval_count');
    // Ollama leaves a count out when it is zero (a fully cached prompt has no prompt_eval_count).
    if (input !== undefined || output !== undefined) {
      finish.usage = {
        input_tokens: input ?? 0,
        output_tokens: output ?? 0,
        total_tokens: (input ?? 0) + (output ?? 0),
      };
    }
    emit(finish);
  }

  function onError(error: unknown, emit: Emit): void {
    terminated = true;
    // Lenient on purpose: a provider error is reported, even when its shape is odd.
    const message =
      textOf(error) ?? (isObject(error) ? textOf(error['message']) : undefined) ?? 'unknown error';
    // Ollama's stream errors carry only text (a crashed runner, a lost GPU): a bad gateway.
    emit(remoteErrorPart(message, 502));
  }

  return {
    decode(frame, emit) {
      if (terminated) return;
      if (frame.framing !== 'ndjson') throw unexpectedFraming(frame.framing);
      onLine(parseJsonObject(frame.line, 'the line'), emit);
    },
    end() {
      if (terminated) return;
      throw endedEarly('before the line with "done": true');
    },
  };
}

/** The arguments object as JSON text; a string is taken as already being JSON text. */
function argumentsText(value: unknown): string {
  if (value === undefined || value === null) return '{}';
  if (typeof value === 'string') return value;
  if (!isObject(value)) throw malformed('tool call "arguments" is not an object');
  return JSON.stringify(value);
}

function unexpectedFraming(framing: string): ServiceError {
  return new ServiceError(ErrorCode.Internal, `The Ollama decoder got a ${framing} frame`);
}
