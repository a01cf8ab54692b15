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
import { mapFinishReason } from './map-finish-reason.ts';

type Emit = (part: StreamPart) => void;
type JsonObject = { readonly [key: string]: unknown };

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
    emit({ type: 'error', message: `Error from remote service: ${message}`, status: 502 });
  }

  return {
    decode(frame, emit) {
      if (terminated) return;
      if (frame.framing !== 'ndjson') throw unexpectedFraming(frame.framing);
      let value: unknown;
      try {
        value = JSON.parse(frame.line);
      } catch (error) {
        throw malformed(`invalid JSON (${messageOf(error)})`, error);
      }
      onLine(asObject(value, 'the line'), emit);
    },
    end() {
      if (terminated) return;
      throw new ServiceError(
        ErrorCode.UpstreamProtocol,
        'The remote service ended the stream before the line with "done": true',
      );
    },
  };
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The arguments object as JSON text; a string is taken as already being JSON text. */
function argumentsText(value: unknown): string {
  if (value === undefined || value === null) return '{}';
  if (typeof value === 'string') return value;
  if (!isObject(value)) throw malformed('tool call "arguments" is not an object');
  return JSON.stringify(value);
}

// Minimal guards for the fields read above: absent and null are both "not sent"; any other
// type is a malformed event, never a silent skip.

function malformed(detail: string, cause?: unknown): ServiceError {
  return new ServiceError(
    ErrorCode.UpstreamProtocol,
    `Malformed event from the remote service: ${detail}`,
    cause === undefined ? {} : { cause },
  );
}

function unexpectedFraming(framing: string): ServiceError {
  return new ServiceError(ErrorCode.Internal, `The Ollama decoder got a ${framing} frame`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: unknown, name: string): JsonObject {
  if (!isObject(value)) throw malformed(`${name} is not an object`);
  return value;
}

function stringField(object: JsonObject, key: string): string | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw malformed(`"${key}" is not a string`);
  return value;
}

function numberField(object: JsonObject, key: string): number | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw malformed(`"${key}" is not a number`);
  return value;
}

function booleanField(object: JsonObject, key: string): boolean | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw malformed(`"${key}" is not a boolean`);
  return value;
}

function objectField(object: JsonObject, key: string): JsonObject | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  return asObject(value, `"${key}"`);
}

function requiredObject(object: JsonObject, key: string): JsonObject {
  const value = objectField(object, key);
  if (value === undefined) throw malformed(`"${key}" is missing`);
  return value;
}

function arrayField(object: JsonObject, key: string): readonly unknown[] | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw malformed(`"${key}" is not an array`);
  return value;
}
