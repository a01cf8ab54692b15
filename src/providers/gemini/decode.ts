/**
 * Gemini `streamGenerateContent?alt=sse` chunks → stream parts.
 * @see https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
 *
 * Every SSE event is one GenerateContentResponse. Only the first candidate is read (the request
 * side refuses `candidateCount > 1`). Gemini sends no end marker: the chunk that carries
 * `finishReason` is normally the last, and `finish` is emitted when the body then ends cleanly.
 * A body that ends before any `finishReason` was cut off. A prompt blocked outright has no
 * candidates, only `promptFeedback.blockReason`, which ends the stream the same way.
 */
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { Frame, FrameDecoder } from '../../domain/provider.ts';
import type { FinishReason, StreamPart, Usage } from '../../domain/stream-part.ts';
import { endedEarly, remoteErrorPart } from '../shared/errors.ts';
import {
  isObject,
  type JsonObject,
  malformed,
  parseJsonObject,
  tokenCount,
} from '../shared/json.ts';
import { mapFinishReason } from './map-finish-reason.ts';

type Emit = (part: StreamPart) => void;
type PartKind = 'text' | 'thought' | 'functionCall' | 'other';

interface GeminiState {
  /** Tool calls seen so far; also the index of the next one. */
  toolCount: number;
  finishReason: FinishReason | undefined;
  /** Each chunk repeats the running totals, so the last one wins. */
  usage: Usage | undefined;
  finished: boolean;
}

export function createDecoder(): FrameDecoder {
  const state: GeminiState = {
    toolCount: 0,
    finishReason: undefined,
    usage: undefined,
    finished: false,
  };
  return {
    decode(frame: Frame, emit: Emit): void {
      if (frame.framing !== 'sse') throw wrongFraming(frame.framing);
      const chunk = parseJsonObject(frame.data, 'the event');
      if (chunk['error'] !== undefined) {
        state.finished = true;
        emit(errorPart(chunk['error']));
        return;
      }
      onCandidates(state, chunk['candidates'], emit);
      onPromptFeedback(state, chunk['promptFeedback']);
      onUsageMetadata(state, chunk['usageMetadata']);
    },
    end(emit: Emit): void {
      if (state.finished) return;
      if (state.finishReason === undefined) {
        throw endedEarly('before a finishReason');
      }
      state.finished = true;
      const { finishReason, usage } = state;
      emit(
        usage === undefined
          ? { type: 'finish', finishReason }
          : { type: 'finish', finishReason, usage },
      );
    },
  };
}

function onCandidates(state: GeminiState, candidates: unknown, emit: Emit): void {
  if (candidates === undefined) return;
  if (!Array.isArray(candidates)) throw malformed('candidates is not a list');
  const candidate: unknown = candidates[0];
  if (candidate === undefined) return;
  if (!isObject(candidate)) throw malformed('candidate is not an object');
  const content = candidate['content'];
  // A candidate stopped by a safety filter may come with no content, or content without parts.
  if (content !== undefined) {
    if (!isObject(content)) throw malformed('candidate content is not an object');
    const parts = content['parts'];
    if (parts !== undefined) {
      if (!Array.isArray(parts)) throw malformed('content parts is not a list');
      for (const part of parts) onPart(state, part, emit);
    }
  }
  const finishReason = candidate['finishReason'];
  if (typeof finishReason === 'string') {
    state.finishReason = mapFinishReason(finishReason, state.toolCount > 0);
  }
}

function onPart(state: GeminiState, part: unknown, emit: Emit): void {
  if (!isObject(part)) throw malformed('content part is not an object');
  const kind = partKind(part);
  switch (kind) {
    case 'text':
    case 'thought': {
      const text = part['text'];
      if (typeof text === 'string' && text !== '') {
        emit({ type: kind === 'thought' ? 'reasoning-delta' : 'text-delta', text });
      }
      return;
    }
    case 'functionCall':
      onFunctionCall(state, part['functionCall'], emit);
      return;
    case 'other':
      // executableCode, inlineData and the like carry nothing Sluice reports.
      return;
    default: {
      const unreachable: never = kind;
      throw new ServiceError(ErrorCode.Internal, `Unhandled Gemini part ${unreachable}`);
    }
  }
}

function partKind(part: JsonObject): PartKind {
  if (part['functionCall'] !== undefined) return 'functionCall';
  if (part['text'] === undefined) return 'other';
  return part['thought'] === true ? 'thought' : 'text';
}

/**
 * Gemini sends each call whole (`args` is an object), so one part is the complete call. Calls
 * carry no id before Gemini 3; one is made up so that clients can match results to calls.
 */
function onFunctionCall(state: GeminiState, call: unknown, emit: Emit): void {
  if (!isObject(call) || typeof call['name'] !== 'string') {
    throw malformed('functionCall has no name');
  }
  const args = call['args'];
  if (args !== undefined && !isObject(args)) throw malformed('functionCall args is not an object');
  const index = state.toolCount;
  state.toolCount += 1;
  const id = typeof call['id'] === 'string' ? call['id'] : `call_${index}`;
  emit({
    type: 'tool-call-delta',
    index,
    id,
    name: call['name'],
    argumentsDelta: JSON.stringify(args ?? {}),
  });
}

function onPromptFeedback(state: GeminiState, feedback: unknown): void {
  if (!isObject(feedback)) return;
  const blockReason = feedback['blockReason'];
  if (typeof blockReason === 'string' && state.finishReason === undefined) {
    state.finishReason = { unified: 'content_filter', raw: blockReason };
  }
}

/** Thinking tokens are output the model produced (and is billed for). */
function onUsageMetadata(state: GeminiState, usage: unknown): void {
  if (usage === undefined) return;
  if (!isObject(usage)) throw malformed('usageMetadata is not an object');
  const input = tokenCount(usage['promptTokenCount']);
  const output =
    tokenCount(usage['candidatesTokenCount']) + tokenCount(usage['thoughtsTokenCount']);
  const total = usage['totalTokenCount'];
  state.usage = {
    input_tokens: input,
    output_tokens: output,
    total_tokens: typeof total === 'number' ? total : input + output,
  };
}

/** `{"error": {"code": 503, "message": …, "status": "UNAVAILABLE"}}` sent mid-stream. */
function errorPart(error: unknown): StreamPart {
  const details = isObject(error) ? error : {};
  const message = typeof details['message'] === 'string' ? details['message'] : 'unknown error';
  return remoteErrorPart(message, statusOf(details['code'], details['status']));
}

function statusOf(code: unknown, status: unknown): number {
  if (code === 429 || status === 'RESOURCE_EXHAUSTED') return 429;
  if (code === 503 || status === 'UNAVAILABLE') return 503;
  if (code === 400 || status === 'INVALID_ARGUMENT' || status === 'FAILED_PRECONDITION') return 400;
  return 502;
}

function wrongFraming(framing: string): ServiceError {
  return new ServiceError(ErrorCode.Internal, `Gemini decoder given a ${framing} frame`);
}
