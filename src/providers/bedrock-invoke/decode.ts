/**
 * InvokeModelWithResponseStream frames → stream parts, for Anthropic Claude.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html
 * @see https://docs.anthropic.com/en/docs/build-with-claude/streaming
 *
 * Each `chunk` frame's payload is `{"bytes": "<base64>"}`, and the bytes are one Anthropic
 * Messages streaming event (`message_start` … `message_stop`). `finish` is emitted at
 * `message_stop`, with the usage of `message_start`/`message_delta` (or, when those carry none,
 * the `amazon-bedrock-invocationMetrics` Bedrock adds to the last event).
 *
 * `exception`/`error` frames are Bedrock's, shared with bedrock-converse.
 */
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { Frame, FrameDecoder } from '../../domain/provider.ts';
import type { StreamPart, Usage } from '../../domain/stream-part.ts';
import { bedrockErrorPart } from '../bedrock-converse/decode.ts';
import { mapFinishReason } from './map-finish-reason.ts';

type Emit = (part: StreamPart) => void;
type JsonObject = Record<string, unknown>;

const anthropicEventTypes = [
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'ping',
  'error',
] as const;
type AnthropicEventType = (typeof anthropicEventTypes)[number];
const knownEventTypes: ReadonlySet<string> = new Set(anthropicEventTypes);

interface InvokeState {
  /** Anthropic content block index of each tool_use block → its tool call index (0, 1, …). */
  toolIndexes: Map<number, number>;
  /** Every prompt token read, cache reads and writes included. */
  inputTokens: number | undefined;
  /** Cumulative: each `message_delta` repeats the running total. */
  outputTokens: number | undefined;
  stopReason: string | undefined;
  finished: boolean;
}

export function createDecoder(): FrameDecoder {
  const state: InvokeState = {
    toolIndexes: new Map(),
    inputTokens: undefined,
    outputTokens: undefined,
    stopReason: undefined,
    finished: false,
  };
  return {
    decode(frame: Frame, emit: Emit): void {
      if (frame.framing !== 'aws-event-stream') throw wrongFraming(frame.framing);
      const error = bedrockErrorPart(frame.headers, frame.payload);
      if (error !== undefined) {
        state.finished = true;
        emit(error);
        return;
      }
      // `chunk` is the only event of this API; anything newer carries nothing Sluice reports.
      if (frame.headers[':event-type'] !== 'chunk') return;
      const event = readChunk(frame.payload);
      const type = event['type'];
      if (typeof type !== 'string') throw malformed('chunk event has no type');
      if (!isAnthropicEventType(type)) return;
      switch (type) {
        case 'content_block_stop':
        case 'ping':
          return;
        case 'message_start':
          onMessageStart(state, event);
          return;
        case 'content_block_start':
          onContentBlockStart(state, event, emit);
          return;
        case 'content_block_delta':
          onContentBlockDelta(state, event, emit);
          return;
        case 'message_delta':
          onMessageDelta(state, event);
          return;
        case 'message_stop':
          onMessageStop(state, event, emit);
          return;
        case 'error':
          state.finished = true;
          emit(anthropicErrorPart(event));
          return;
        default: {
          const unreachable: never = type;
          throw new ServiceError(ErrorCode.Internal, `Unhandled Anthropic event ${unreachable}`);
        }
      }
    },
    end(): void {
      if (state.finished) return;
      throw new ServiceError(
        ErrorCode.UpstreamProtocol,
        'The remote service ended the stream before message_stop',
      );
    },
  };
}

function onMessageStart(state: InvokeState, event: JsonObject): void {
  const message = event['message'];
  if (!isObject(message)) throw malformed('message_start has no message');
  readUsage(state, message['usage']);
}

function onContentBlockStart(state: InvokeState, event: JsonObject, emit: Emit): void {
  const blockIndex = readBlockIndex(event, 'content_block_start');
  const block = event['content_block'];
  if (!isObject(block) || typeof block['type'] !== 'string') {
    throw malformed('content_block_start has no content_block');
  }
  switch (block['type']) {
    case 'tool_use': {
      const id = block['id'];
      const name = block['name'];
      if (typeof id !== 'string' || typeof name !== 'string') {
        throw malformed('content_block_start tool_use has no id or name');
      }
      const index = state.toolIndexes.size;
      state.toolIndexes.set(blockIndex, index);
      // The start block's `input` is always `{}`: the arguments follow as input_json_delta.
      emit({ type: 'tool-call-delta', index, id, name, argumentsDelta: '' });
      return;
    }
    case 'text':
      emitText(block['text'], 'text-delta', emit);
      return;
    case 'thinking':
      emitText(block['thinking'], 'reasoning-delta', emit);
      return;
    default:
      // redacted_thinking and server tool blocks carry nothing Sluice reports.
      return;
  }
}

function onContentBlockDelta(state: InvokeState, event: JsonObject, emit: Emit): void {
  const blockIndex = readBlockIndex(event, 'content_block_delta');
  const delta = event['delta'];
  if (!isObject(delta) || typeof delta['type'] !== 'string') {
    throw malformed('content_block_delta has no delta');
  }
  switch (delta['type']) {
    case 'text_delta':
      emitText(requireString(delta, 'text', 'text_delta'), 'text-delta', emit);
      return;
    case 'thinking_delta':
      emitText(requireString(delta, 'thinking', 'thinking_delta'), 'reasoning-delta', emit);
      return;
    case 'input_json_delta': {
      const fragment = requireString(delta, 'partial_json', 'input_json_delta');
      const index = state.toolIndexes.get(blockIndex);
      if (index === undefined) {
        throw malformed(`tool input for content block ${blockIndex}, which started no tool call`);
      }
      if (fragment !== '') emit({ type: 'tool-call-delta', index, argumentsDelta: fragment });
      return;
    }
    default:
      // signature_delta and citations_delta carry nothing Sluice reports.
      return;
  }
}

function onMessageDelta(state: InvokeState, event: JsonObject): void {
  const delta = event['delta'];
  if (!isObject(delta)) throw malformed('message_delta has no delta');
  const stopReason = delta['stop_reason'];
  if (typeof stopReason === 'string') state.stopReason = stopReason;
  readUsage(state, event['usage']);
}

function onMessageStop(state: InvokeState, event: JsonObject, emit: Emit): void {
  state.finished = true;
  const usage = usageOf(state, event['amazon-bedrock-invocationMetrics']);
  const finishReason = mapFinishReason(state.stopReason);
  emit(
    usage === undefined
      ? { type: 'finish', finishReason }
      : { type: 'finish', finishReason, usage },
  );
}

/** Anthropic usage: `input_tokens` leaves out cache reads and writes; the model read those too. */
function readUsage(state: InvokeState, usage: unknown): void {
  if (!isObject(usage)) return;
  const input = usage['input_tokens'];
  if (typeof input === 'number') {
    state.inputTokens =
      input +
      tokenCount(usage['cache_creation_input_tokens']) +
      tokenCount(usage['cache_read_input_tokens']);
  }
  const output = usage['output_tokens'];
  if (typeof output === 'number') state.outputTokens = output;
}

function usageOf(state: InvokeState, metrics: unknown): Usage | undefined {
  let input = state.inputTokens;
  let output = state.outputTokens;
  if (isObject(metrics)) {
    const inputCount = metrics['inputTokenCount'];
    if (input === undefined && typeof inputCount === 'number') {
      input =
        inputCount +
        tokenCount(metrics['cacheReadInputTokenCount']) +
        tokenCount(metrics['cacheWriteInputTokenCount']);
    }
    const outputCount = metrics['outputTokenCount'];
    if (output === undefined && typeof outputCount === 'number') output = outputCount;
  }
  if (input === undefined || output === undefined) return undefined;
  return { input_tokens: input, output_tokens: output, total_tokens: input + output };
}

/** An Anthropic `error` event inside the stream (e.g. overloaded_error). */
function anthropicErrorPart(event: JsonObject): StreamPart {
  const error = event['error'];
  const type = isObject(error) && typeof error['type'] === 'string' ? error['type'] : 'error';
  const message = isObject(error) && typeof error['message'] === 'string' ? error['message'] : type;
  return {
    type: 'error',
    message: `Error from remote service: ${message}`,
    status: statusOf(type),
  };
}

function statusOf(errorType: string): number {
  switch (errorType) {
    case 'rate_limit_error':
      return 429;
    case 'overloaded_error':
      return 503;
    case 'invalid_request_error':
      return 400;
    default:
      return 502;
  }
}

function emitText(text: unknown, type: 'text-delta' | 'reasoning-delta', emit: Emit): void {
  if (typeof text === 'string' && text !== '') emit({ type, text });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** `{"bytes": "<base64 of the event JSON>"}` → the event. */
function readChunk(payload: Uint8Array): JsonObject {
  const chunk = parseObject(payload);
  const bytes = chunk?.['bytes'];
  if (typeof bytes !== 'string') throw malformed('chunk payload is not {"bytes": …}');
  const event = parseObject(Buffer.from(bytes, 'base64'));
  if (event === undefined) throw malformed('chunk bytes are not a JSON object');
  return event;
}

function parseObject(bytes: Uint8Array): JsonObject | undefined {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    return undefined;
  }
  return isObject(value) ? value : undefined;
}

function readBlockIndex(event: JsonObject, eventType: string): number {
  const index = event['index'];
  if (typeof index !== 'number') throw malformed(`${eventType} has no index`);
  return index;
}

function requireString(object: JsonObject, key: string, eventType: string): string {
  const value = object[key];
  if (typeof value !== 'string') throw malformed(`${eventType} has no ${key}`);
  return value;
}

function tokenCount(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

function isAnthropicEventType(value: string): value is AnthropicEventType {
  return knownEventTypes.has(value);
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(detail: string): ServiceError {
  return new ServiceError(
    ErrorCode.UpstreamProtocol,
    `Malformed event from the remote service: ${detail}`,
  );
}

function wrongFraming(framing: string): ServiceError {
  return new ServiceError(ErrorCode.Internal, `Bedrock decoder given a ${framing} frame`);
}
