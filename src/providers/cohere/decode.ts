/**
 * Cohere v2 chat stream events → stream parts.
 * @see https://docs.cohere.com/reference/chat-stream
 * @see https://docs.cohere.com/docs/streaming
 *
 * Each SSE event's JSON carries its own `type` (the SSE `event:` field repeats it; the JSON is
 * read first, so a proxy that drops `event:` lines changes nothing). `message-end` carries the
 * finish reason and usage; the stream then closes with `data: [DONE]`, which is where `finish` is
 * emitted. The official SDKs stop at `[DONE]` too, so a body that ends after `message-end`
 * without it was cut off: reporting it as complete could hide a truncated stream.
 */
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { Frame, FrameDecoder } from '../../domain/provider.ts';
import type { StreamPart } from '../../domain/stream-part.ts';
import { endedEarly, remoteErrorPart } from '../shared/errors.ts';
import { isObject, type JsonObject, malformed, parseJsonObject } from '../shared/json.ts';
import { mapFinishReason } from './map-finish-reason.ts';

type Emit = (part: StreamPart) => void;
type FinishPart = Extract<StreamPart, { type: 'finish' }>;

const cohereEventTypes = [
  'message-start',
  'content-start',
  'content-delta',
  'content-end',
  'tool-plan-delta',
  'tool-call-start',
  'tool-call-delta',
  'tool-call-end',
  'citation-start',
  'citation-end',
  'message-end',
  'debug',
] as const;
type CohereEventType = (typeof cohereEventTypes)[number];
const knownEventTypes: ReadonlySet<string> = new Set(cohereEventTypes);

interface CohereState {
  /** Cohere's tool call `index` → the tool call index reported (0, 1, … in order). */
  toolIndexes: Map<number, number>;
  /** Built at `message-end`, emitted at `[DONE]`. */
  pendingFinish: FinishPart | undefined;
  finished: boolean;
}

export function createDecoder(): FrameDecoder {
  const state: CohereState = { toolIndexes: new Map(), pendingFinish: undefined, finished: false };
  return {
    decode(frame: Frame, emit: Emit): void {
      if (frame.framing !== 'sse') throw wrongFraming(frame.framing);
      if (frame.data === '[DONE]') {
        onDone(state, emit);
        return;
      }
      const event = parseJsonObject(frame.data, 'the event');
      const type = typeof event['type'] === 'string' ? event['type'] : frame.event;
      if (type === undefined) throw malformed('event has no type');
      // Event types added to the API later carry nothing Sluice reports.
      if (!isCohereEventType(type)) return;
      switch (type) {
        case 'message-start':
        case 'content-end':
        case 'tool-call-end':
        case 'citation-start':
        case 'citation-end':
        case 'debug':
          return;
        case 'content-start':
        case 'content-delta':
          onContent(event, type, emit);
          return;
        case 'tool-plan-delta':
          onToolPlanDelta(event, emit);
          return;
        case 'tool-call-start':
          onToolCallStart(state, event, emit);
          return;
        case 'tool-call-delta':
          onToolCallDelta(state, event, emit);
          return;
        case 'message-end':
          onMessageEnd(state, event, emit);
          return;
        default: {
          const unreachable: never = type;
          throw new ServiceError(ErrorCode.Internal, `Unhandled Cohere event ${unreachable}`);
        }
      }
    },
    end(): void {
      if (state.finished) return;
      throw endedEarly(
        state.pendingFinish === undefined
          ? 'before message-end'
          : 'after message-end but before data: [DONE]',
      );
    },
  };
}

function onDone(state: CohereState, emit: Emit): void {
  if (state.pendingFinish === undefined) {
    throw new ServiceError(
      ErrorCode.UpstreamProtocol,
      'The remote service sent data: [DONE] before message-end',
    );
  }
  state.finished = true;
  emit(state.pendingFinish);
}

/** Text content, or the thinking content of reasoning models (`content.thinking`). */
function onContent(event: JsonObject, type: string, emit: Emit): void {
  const content = messageOf(event, type)['content'];
  if (!isObject(content)) throw malformed(`${type} has no delta.message.content`);
  const text = content['text'];
  const thinking = content['thinking'];
  if (typeof text === 'string') {
    if (text !== '') emit({ type: 'text-delta', text });
  } else if (typeof thinking === 'string') {
    if (thinking !== '') emit({ type: 'reasoning-delta', text: thinking });
  } else if (type === 'content-delta') {
    throw malformed('content-delta has neither text nor thinking');
  }
}

/** The plan Cohere writes before calling tools: reasoning, not answer text. */
function onToolPlanDelta(event: JsonObject, emit: Emit): void {
  const plan = messageOf(event, 'tool-plan-delta')['tool_plan'];
  if (typeof plan !== 'string') throw malformed('tool-plan-delta has no tool_plan');
  if (plan !== '') emit({ type: 'reasoning-delta', text: plan });
}

function onToolCallStart(state: CohereState, event: JsonObject, emit: Emit): void {
  const cohereIndex = readIndex(event, 'tool-call-start');
  const call = messageOf(event, 'tool-call-start')['tool_calls'];
  const fn = isObject(call) ? call['function'] : undefined;
  if (!isObject(call) || !isObject(fn))
    throw malformed('tool-call-start has no tool_calls.function');
  const id = call['id'];
  const name = fn['name'];
  if (typeof id !== 'string' || typeof name !== 'string') {
    throw malformed('tool-call-start has no id or function name');
  }
  const args = fn['arguments'];
  const index = state.toolIndexes.size;
  state.toolIndexes.set(cohereIndex, index);
  emit({
    type: 'tool-call-delta',
    index,
    id,
    name,
    argumentsDelta: typeof args === 'string' ? args : '',
  });
}

function onToolCallDelta(state: CohereState, event: JsonObject, emit: Emit): void {
  const cohereIndex = readIndex(event, 'tool-call-delta');
  const call = messageOf(event, 'tool-call-delta')['tool_calls'];
  const fn = isObject(call) ? call['function'] : undefined;
  const fragment = isObject(fn) ? fn['arguments'] : undefined;
  if (typeof fragment !== 'string') throw malformed('tool-call-delta has no function.arguments');
  const index = state.toolIndexes.get(cohereIndex);
  if (index === undefined) {
    throw malformed(`tool-call-delta for call ${cohereIndex}, which was never started`);
  }
  if (fragment !== '') emit({ type: 'tool-call-delta', index, argumentsDelta: fragment });
}

function onMessageEnd(state: CohereState, event: JsonObject, emit: Emit): void {
  const delta = event['delta'];
  if (!isObject(delta)) throw malformed('message-end has no delta');
  const raw = typeof delta['finish_reason'] === 'string' ? delta['finish_reason'] : undefined;
  const finishReason = mapFinishReason(raw);
  const error = delta['error'];
  // A generation that failed is an error, never a finish, whatever else the event says.
  if ((typeof error === 'string' && error !== '') || finishReason.unified === 'error') {
    const message =
      typeof error === 'string' && error !== '' ? error : `the model stopped with ${raw}`;
    state.finished = true;
    emit(remoteErrorPart(message, statusOf(message)));
    return;
  }
  const usage = usageOf(delta['usage']);
  state.pendingFinish =
    usage === undefined
      ? { type: 'finish', finishReason }
      : { type: 'finish', finishReason, usage };
}

/**
 * `tokens` counts what the model read and wrote; `billed_units` is what Cohere bills (it leaves
 * out e.g. the system preamble), used only when `tokens` is absent.
 */
function usageOf(usage: unknown): FinishPart['usage'] {
  if (!isObject(usage)) return undefined;
  for (const key of ['tokens', 'billed_units']) {
    const counts = usage[key];
    if (!isObject(counts)) continue;
    const input = counts['input_tokens'];
    const output = counts['output_tokens'];
    if (typeof input === 'number' && typeof output === 'number') {
      return { input_tokens: input, output_tokens: output, total_tokens: input + output };
    }
  }
  return undefined;
}

/** Cohere reports in-stream failures as text only; throttling is recognisable by its wording. */
function statusOf(message: string): number {
  return /rate limit|too many requests/i.test(message) ? 429 : 502;
}

function messageOf(event: JsonObject, type: string): JsonObject {
  const delta = event['delta'];
  const message = isObject(delta) ? delta['message'] : undefined;
  if (!isObject(message)) throw malformed(`${type} has no delta.message`);
  return message;
}

function readIndex(event: JsonObject, type: string): number {
  const index = event['index'];
  if (typeof index !== 'number') throw malformed(`${type} has no index`);
  return index;
}

function isCohereEventType(value: string): value is CohereEventType {
  return knownEventTypes.has(value);
}

function wrongFraming(framing: string): ServiceError {
  return new ServiceError(ErrorCode.Internal, `Cohere decoder given a ${framing} frame`);
}
