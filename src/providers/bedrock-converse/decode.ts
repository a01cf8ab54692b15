/**
 * ConverseStream event-stream frames → stream parts.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html
 *
 * Each frame's `:event-type` header names the event and its payload is the event's JSON. The
 * stream ends with `messageStop` (the stop reason) and then `metadata` (token usage); `finish` is
 * emitted once both have arrived. Bedrock always sends `metadata` last, so a body that ends after
 * `messageStop` without it was cut off and is reported as such: finishing there would drop the
 * usage (and any bill computed from it) without anyone noticing.
 *
 * `exception` and `error` frames are read by `bedrockErrorPart`, which bedrock-invoke shares.
 */
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { Frame, FrameDecoder } from '../../domain/provider.ts';
import type { StreamPart, Usage } from '../../domain/stream-part.ts';
import { endedEarly, remoteErrorPart } from '../shared/errors.ts';
import {
  decodeJsonObject,
  isObject,
  type JsonObject,
  malformed,
  tokenCount,
} from '../shared/json.ts';
import { mapFinishReason } from './map-finish-reason.ts';

type Emit = (part: StreamPart) => void;

const converseEventTypes = [
  'messageStart',
  'contentBlockStart',
  'contentBlockDelta',
  'contentBlockStop',
  'messageStop',
  'metadata',
] as const;
type ConverseEventType = (typeof converseEventTypes)[number];
const knownEventTypes: ReadonlySet<string> = new Set(converseEventTypes);

interface ConverseState {
  /** contentBlockIndex of each tool-use block → its tool call index (0, 1, … in order). */
  toolIndexes: Map<number, number>;
  stopReason: string | undefined;
  usage: Usage | undefined;
  finished: boolean;
}

export function createDecoder(): FrameDecoder {
  const state: ConverseState = {
    toolIndexes: new Map(),
    stopReason: undefined,
    usage: undefined,
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
      const eventType = frame.headers[':event-type'];
      // Event types added to the API later carry nothing Sluice reports.
      if (eventType === undefined || !isConverseEventType(eventType)) return;
      const event = parsePayload(frame.payload, eventType);
      switch (eventType) {
        case 'messageStart':
        case 'contentBlockStop':
          return;
        case 'contentBlockStart':
          onContentBlockStart(state, event, emit);
          return;
        case 'contentBlockDelta':
          onContentBlockDelta(state, event, emit);
          return;
        case 'messageStop':
          onMessageStop(state, event, emit);
          return;
        case 'metadata':
          onMetadata(state, event, emit);
          return;
        default: {
          const unreachable: never = eventType;
          throw new ServiceError(ErrorCode.Internal, `Unhandled Converse event ${unreachable}`);
        }
      }
    },
    end(): void {
      if (state.finished) return;
      throw endedEarly(
        state.stopReason === undefined
          ? 'before messageStop'
          : 'after messageStop but before its metadata event',
      );
    },
  };
}

function onContentBlockStart(state: ConverseState, event: JsonObject, emit: Emit): void {
  const blockIndex = readBlockIndex(event, 'contentBlockStart');
  const start = event['start'];
  const toolUse = isObject(start) ? start['toolUse'] : undefined;
  // Other block kinds (text, reasoning) need no start part: their deltas say what they are.
  if (!isObject(toolUse)) return;
  const id = toolUse['toolUseId'];
  const name = toolUse['name'];
  if (typeof id !== 'string' || typeof name !== 'string') {
    throw malformed('contentBlockStart toolUse has no toolUseId or name');
  }
  const index = state.toolIndexes.size;
  state.toolIndexes.set(blockIndex, index);
  emit({ type: 'tool-call-delta', index, id, name, argumentsDelta: '' });
}

function onContentBlockDelta(state: ConverseState, event: JsonObject, emit: Emit): void {
  const blockIndex = readBlockIndex(event, 'contentBlockDelta');
  const delta = event['delta'];
  if (!isObject(delta)) throw malformed('contentBlockDelta has no delta');
  const text = delta['text'];
  if (typeof text === 'string') {
    if (text !== '') emit({ type: 'text-delta', text });
    return;
  }
  const toolUse = delta['toolUse'];
  if (isObject(toolUse)) {
    const input = toolUse['input'];
    if (typeof input !== 'string') throw malformed('contentBlockDelta toolUse has no input');
    const index = state.toolIndexes.get(blockIndex);
    if (index === undefined) {
      throw malformed(`tool input for content block ${blockIndex}, which started no tool call`);
    }
    if (input !== '') emit({ type: 'tool-call-delta', index, argumentsDelta: input });
    return;
  }
  const reasoning = delta['reasoningContent'];
  if (isObject(reasoning)) {
    // A reasoning delta carries `text`, or a `signature` / `redactedContent` with no text to show.
    const reasoningText = reasoning['text'];
    if (typeof reasoningText === 'string' && reasoningText !== '') {
      emit({ type: 'reasoning-delta', text: reasoningText });
    }
  }
  // Other deltas (citations, images) carry nothing Sluice reports.
}

function onMessageStop(state: ConverseState, event: JsonObject, emit: Emit): void {
  const stopReason = event['stopReason'];
  if (typeof stopReason !== 'string') throw malformed('messageStop has no stopReason');
  state.stopReason = stopReason;
  finishIfComplete(state, emit);
}

function onMetadata(state: ConverseState, event: JsonObject, emit: Emit): void {
  const usage = event['usage'];
  if (!isObject(usage)) throw malformed('metadata has no usage');
  const inputTokens = usage['inputTokens'];
  const outputTokens = usage['outputTokens'];
  if (typeof inputTokens !== 'number' || typeof outputTokens !== 'number') {
    throw malformed('metadata usage has no inputTokens or outputTokens');
  }
  // `inputTokens` leaves out prompt-cache reads and writes; the model read those too.
  const input =
    inputTokens +
    tokenCount(usage['cacheReadInputTokens']) +
    tokenCount(usage['cacheWriteInputTokens']);
  const total = usage['totalTokens'];
  state.usage = {
    input_tokens: input,
    output_tokens: outputTokens,
    total_tokens: typeof total === 'number' ? total : input + outputTokens,
  };
  finishIfComplete(state, emit);
}

function finishIfComplete(state: ConverseState, emit: Emit): void {
  if (state.stopReason === undefined || state.usage === undefined) return;
  state.finished = true;
  emit({ type: 'finish', finishReason: mapFinishReason(state.stopReason), usage: state.usage });
}

/**
 * The error part for a Bedrock `exception` frame (`:exception-type` header, JSON payload with
 * `message`) or `error` frame (`:error-code` and `:error-message` headers); undefined for events.
 * Shared with bedrock-invoke: InvokeModelWithResponseStream uses the same framing and exceptions.
 */
export function bedrockErrorPart(
  headers: Record<string, string>,
  payload: Uint8Array,
): StreamPart | undefined {
  const messageType = headers[':message-type'];
  if (messageType === 'exception') {
    const name = headers[':exception-type'] ?? 'exception';
    // The exception is reported even when its payload cannot be read: the stream failed either way.
    const body = decodeJsonObject(payload);
    const message = body?.['message'] ?? body?.['Message'];
    const text = typeof message === 'string' && message !== '' ? message : name;
    return remoteErrorPart(text, bedrockErrorStatus(name, text, body?.['originalStatusCode']));
  }
  if (messageType === 'error') {
    const code = headers[':error-code'] ?? 'error';
    const text = headers[':error-message'] ?? code;
    return remoteErrorPart(text, bedrockErrorStatus(code, text, undefined));
  }
  return undefined;
}

/**
 * Throttling 429, unavailable 503, validation 400, anything else 502. A model stream error carries
 * the model's own status (`originalStatusCode`; 529 is Anthropic's "overloaded").
 */
export function bedrockErrorStatus(name: string, message: string, originalStatus: unknown): number {
  const kind = name.toLowerCase();
  if (
    kind.includes('throttl') ||
    kind.includes('toomanyrequests') ||
    originalStatus === 429 ||
    /rate exceeded|too many requests/i.test(message)
  ) {
    return 429;
  }
  if (kind.includes('serviceunavailable') || originalStatus === 503 || originalStatus === 529) {
    return 503;
  }
  if (kind.includes('validation')) return 400;
  return 502;
}

function parsePayload(payload: Uint8Array, eventType: string): JsonObject {
  const event = decodeJsonObject(payload);
  if (event === undefined) throw malformed(`${eventType} payload is not a JSON object`);
  return event;
}

function readBlockIndex(event: JsonObject, eventType: string): number {
  const index = event['contentBlockIndex'];
  if (typeof index !== 'number') throw malformed(`${eventType} has no contentBlockIndex`);
  return index;
}

function isConverseEventType(value: string): value is ConverseEventType {
  return knownEventTypes.has(value);
}

function wrongFraming(framing: string): ServiceError {
  return new ServiceError(ErrorCode.Internal, `Bedrock decoder given a ${framing} frame`);
}
