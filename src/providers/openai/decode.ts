/**
 * OpenAI Chat Completions stream (`data: {chat.completion.chunk}` … `data: [DONE]`) → parts.
 * @see https://platform.openai.com/docs/api-reference/chat-streaming/streaming
 *
 * Also the dialect of Azure OpenAI, DeepSeek, vLLM and Ollama's `/v1`, hence the tolerance for
 * their additions: `reasoning_content` / `reasoning` deltas, chunks without `choices`, tool-call
 * fragments that repeat their id and name or omit their index.
 *
 * `finish_reason` and usage arrive in different chunks (usage last, with empty `choices`, when
 * `stream_options.include_usage` is set), so both are kept and the one `finish` part is emitted
 * at `[DONE]`, OpenAI's only end marker. Unlike ml-commons (reference §10.2), an event that does
 * not parse fails the stream instead of being skipped.
 */
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { FrameDecoder } from '../../domain/provider.ts';
import type { FinishReason, StreamPart, Usage } from '../../domain/stream-part.ts';
import { endedEarly, remoteErrorPart } from '../shared/errors.ts';
import {
  arrayField,
  asObject,
  invalidJson,
  isObject,
  type JsonObject,
  numberField,
  objectField,
  safeParseJson,
  stringField,
  textOf,
} from '../shared/json.ts';
import { mapFinishReason } from './map-finish-reason.ts';

type Emit = (part: StreamPart) => void;
type ToolCallDelta = Extract<StreamPart, { type: 'tool-call-delta' }>;

const DONE = '[DONE]';
// The deprecated `functions` API streams one `delta.function_call`; it is kept apart from the
// `tool_calls` indexes, which start at 0.
const FUNCTION_CALL_INDEX = -1;

interface ToolCallState {
  /** The index reported in our parts: calls are numbered in order of first appearance. */
  index: number;
  id: string | undefined;
  nameSent: boolean;
}

export function createOpenAIDecoder(): FrameDecoder {
  let finishReason: FinishReason | undefined;
  let usage: Usage | undefined;
  let terminated = false;
  const callsByUpstreamIndex = new Map<number, ToolCallState>();
  let lastCall: ToolCallState | undefined;
  let callCount = 0;

  function onChunk(chunk: JsonObject, emit: Emit): void {
    // vLLM and older compatible servers send the error object itself as the chunk.
    const error = chunk['object'] === 'error' ? chunk : chunk['error'];
    if (error !== undefined && error !== null) {
      onError(error, emit);
      return;
    }
    const choices = arrayField(chunk, 'choices');
    // Only the first choice exists: prepareStream refuses n > 1.
    const choice = choices?.[0];
    if (choice !== undefined) onChoice(asObject(choice, 'choices[0]'), emit);
    onUsage(chunk);
  }

  function onChoice(choice: JsonObject, emit: Emit): void {
    const delta = objectField(choice, 'delta');
    if (delta !== undefined) onDelta(delta, emit);
    const reason = stringField(choice, 'finish_reason');
    if (reason !== undefined) finishReason = mapFinishReason(reason);
  }

  function onDelta(delta: JsonObject, emit: Emit): void {
    // vLLM sends the same thinking text under both names; one of them is enough.
    const reasoning = stringField(delta, 'reasoning_content') ?? stringField(delta, 'reasoning');
    if (reasoning) emit({ type: 'reasoning-delta', text: reasoning });
    const content = stringField(delta, 'content');
    if (content) emit({ type: 'text-delta', text: content });
    // A refusal is the answer the user gets instead of content.
    const refusal = stringField(delta, 'refusal');
    if (refusal) emit({ type: 'text-delta', text: refusal });
    const toolCalls = arrayField(delta, 'tool_calls');
    if (toolCalls !== undefined) {
      for (const item of toolCalls) onToolCall(asObject(item, 'tool_calls[]'), emit);
    }
    const functionCall = objectField(delta, 'function_call');
    if (functionCall !== undefined) {
      onCallFragment(FUNCTION_CALL_INDEX, undefined, functionCall, emit);
    }
  }

  function onToolCall(item: JsonObject, emit: Emit): void {
    const upstreamIndex = numberField(item, 'index');
    const fragment = objectField(item, 'function') ?? {};
    onCallFragment(upstreamIndex, stringField(item, 'id'), fragment, emit);
  }

  /** Emits one fragment, with the call's id and name only the first time they are seen. */
  function onCallFragment(
    upstreamIndex: number | undefined,
    id: string | undefined,
    fragment: JsonObject,
    emit: Emit,
  ): void {
    const call = resolveCall(upstreamIndex, id);
    const part: ToolCallDelta = {
      type: 'tool-call-delta',
      index: call.index,
      argumentsDelta: stringField(fragment, 'arguments') ?? '',
    };
    if (id !== undefined && call.id === undefined) {
      call.id = id;
      part.id = id;
    }
    const name = stringField(fragment, 'name');
    if (name && !call.nameSent) {
      call.nameSent = true;
      part.name = name;
    }
    if (part.argumentsDelta !== '' || part.id !== undefined || part.name !== undefined) {
      emit(part);
    }
  }

  /**
   * Finds the call a fragment belongs to. Some servers omit `index` (the fragment then continues
   * the last call unless it brings a new id) or reuse one index for parallel calls (a different
   * id then starts a new call), which would otherwise merge calls (STREAMING-PITFALLS item 8).
   */
  function resolveCall(upstreamIndex: number | undefined, id: string | undefined): ToolCallState {
    let call = upstreamIndex === undefined ? lastCall : callsByUpstreamIndex.get(upstreamIndex);
    if (call === undefined || (id !== undefined && call.id !== undefined && id !== call.id)) {
      call = { index: callCount, id: undefined, nameSent: false };
      callCount += 1;
      if (upstreamIndex !== undefined) callsByUpstreamIndex.set(upstreamIndex, call);
    }
    lastCall = call;
    return call;
  }

  /** The last usage reported wins (some servers repeat running totals on every chunk). */
  function onUsage(chunk: JsonObject): void {
    const reported = objectField(chunk, 'usage');
    if (reported === undefined) return;
    const input = numberField(reported, 'prompt_tokens') ?? 0;
    const output = numberField(reported, 'completion_tokens') ?? 0;
    usage = {
      input_tokens: input,
      output_tokens: output,
      total_tokens: numberField(reported, 'total_tokens') ?? input + output,
    };
  }

  function onError(error: unknown, emit: Emit): void {
    terminated = true;
    const details = isObject(error) ? error : {};
    // Lenient on purpose: a provider error is reported, even when its shape is odd.
    const message =
      textOf(error) ?? textOf(details['message']) ?? textOf(details['type']) ?? 'unknown error';
    emit(
      remoteErrorPart(
        message,
        statusOfWord(details['code']) ?? statusOfWord(details['type']) ?? 502,
      ),
    );
  }

  function onDone(emit: Emit): void {
    terminated = true;
    const finish: StreamPart = {
      type: 'finish',
      finishReason: finishReason ?? mapFinishReason(undefined),
    };
    if (usage !== undefined) finish.usage = usage;
    emit(finish);
  }

  return {
    decode(frame, emit) {
      if (terminated) return;
      if (frame.framing !== 'sse') throw unexpectedFraming(frame.framing);
      // `data:` with nothing after it is a valid, empty event (keep-alives); it carries nothing.
      if (frame.data === '') return;
      if (frame.data === DONE) {
        onDone(emit);
        return;
      }
      const parsed = safeParseJson(frame.data);
      // OpenAI never names its events, but a compatible server may send `event: error`, with
      // JSON or plain text: either way it is that server's error, not a malformed chunk.
      if (frame.event === 'error') {
        onError(parsed.success ? errorIn(parsed.value) : frame.data, emit);
        return;
      }
      if (!parsed.success) throw invalidJson(parsed.error);
      onChunk(asObject(parsed.value, 'the event'), emit);
    },
    end() {
      if (terminated) return;
      throw endedEarly('before data: [DONE]');
    },
  };
}

/** The error object of an error event: its `error` field, or the event itself. */
function errorIn(value: unknown): unknown {
  const inner = isObject(value) ? value['error'] : undefined;
  return inner === undefined || inner === null ? value : inner;
}

/**
 * An in-stream error has no HTTP status; use the one the same failure gets before the stream
 * starts. OpenAI names it in `code`/`type`; compatible servers (vLLM) put the status in `code`.
 */
function statusOfWord(value: unknown): number | undefined {
  switch (value) {
    case 429:
    case 'rate_limit_exceeded':
    case 'rate_limit_error':
      return 429;
    case 503:
    case 529:
    case 'server_overloaded':
    case 'overloaded_error':
    case 'service_unavailable':
      return 503;
    default:
      return undefined;
  }
}

function unexpectedFraming(framing: string): ServiceError {
  return new ServiceError(ErrorCode.Internal, `The OpenAI decoder got a ${framing} frame`);
}
