/**
 * Anthropic Messages stream → parts.
 * @see https://docs.anthropic.com/en/api/messages-streaming
 *
 * Events: `message_start` (input usage) · per content block `content_block_start` /
 * `content_block_delta`* / `content_block_stop` · `message_delta` (stop reason, cumulative output
 * usage) · `message_stop` (the end marker, where the one `finish` part is emitted). `ping` and
 * event types Anthropic adds later are ignored, as its versioning policy asks of clients.
 *
 * Tool calls are numbered by our own counter over `tool_use` blocks, not by block index: a text
 * or thinking block before them would otherwise leave gaps. Server tools (`server_tool_use`,
 * web search results …) run at Anthropic, so they are not the caller's tool calls and are not
 * reported.
 */
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { FrameDecoder } from '../../domain/provider.ts';
import type { StreamPart } from '../../domain/stream-part.ts';
import { mapFinishReason } from './map-finish-reason.ts';

type Emit = (part: StreamPart) => void;
type ToolCallDelta = Extract<StreamPart, { type: 'tool-call-delta' }>;
type JsonObject = { readonly [key: string]: unknown };

/** What a started content block is, as far as its deltas are concerned. */
type Block = { kind: 'tool-use'; toolIndex: number } | { kind: 'other' };

export function createAnthropicDecoder(): FrameDecoder {
  const blocks = new Map<number, Block>();
  let toolCount = 0;
  let stopReason: string | undefined;
  let usageReported = false;
  let inputTokens = 0;
  let outputTokens = 0;
  let terminated = false;

  function onEvent(type: string, event: JsonObject, emit: Emit): void {
    switch (type) {
      case 'message_start':
        onMessageStart(event);
        break;
      case 'content_block_start':
        onBlockStart(event, emit);
        break;
      case 'content_block_delta':
        onBlockDelta(event, emit);
        break;
      case 'content_block_stop':
        blocks.delete(requiredNumber(event, 'index'));
        break;
      case 'message_delta':
        onMessageDelta(event);
        break;
      case 'message_stop':
        onMessageStop(emit);
        break;
      case 'error':
        onError(errorDetails(event), emit);
        break;
      default:
        // `ping` and unknown event types carry nothing we report.
        break;
    }
  }

  function onMessageStart(event: JsonObject): void {
    const usage = objectField(requiredObject(event, 'message'), 'usage');
    if (usage !== undefined) onUsage(usage);
  }

  function onBlockStart(event: JsonObject, emit: Emit): void {
    const index = requiredNumber(event, 'index');
    const block = requiredObject(event, 'content_block');
    switch (stringField(block, 'type')) {
      case 'tool_use': {
        const toolIndex = toolCount;
        toolCount += 1;
        blocks.set(index, { kind: 'tool-use', toolIndex });
        // `input` is always `{}` here: the arguments follow as input_json_delta fragments.
        const part: ToolCallDelta = {
          type: 'tool-call-delta',
          index: toolIndex,
          argumentsDelta: '',
        };
        const id = stringField(block, 'id');
        if (id !== undefined) part.id = id;
        const name = stringField(block, 'name');
        if (name !== undefined) part.name = name;
        emit(part);
        return;
      }
      case 'text': {
        blocks.set(index, { kind: 'other' });
        const text = stringField(block, 'text');
        if (text) emit({ type: 'text-delta', text });
        return;
      }
      case 'thinking': {
        blocks.set(index, { kind: 'other' });
        const thinking = stringField(block, 'thinking');
        if (thinking) emit({ type: 'reasoning-delta', text: thinking });
        return;
      }
      default:
        // redacted_thinking, server_tool_use, web_search_tool_result and later block types.
        blocks.set(index, { kind: 'other' });
        return;
    }
  }

  function onBlockDelta(event: JsonObject, emit: Emit): void {
    const index = requiredNumber(event, 'index');
    const delta = requiredObject(event, 'delta');
    switch (stringField(delta, 'type')) {
      case 'text_delta': {
        const text = stringField(delta, 'text');
        if (text) emit({ type: 'text-delta', text });
        return;
      }
      case 'thinking_delta': {
        const thinking = stringField(delta, 'thinking');
        if (thinking) emit({ type: 'reasoning-delta', text: thinking });
        return;
      }
      case 'input_json_delta':
        onInputJsonDelta(index, stringField(delta, 'partial_json') ?? '', emit);
        return;
      default:
        // signature_delta (verifies thinking when sent back), citations_delta, later types.
        return;
    }
  }

  function onInputJsonDelta(index: number, partialJson: string, emit: Emit): void {
    const block = blocks.get(index);
    if (block === undefined) {
      throw malformed(`input_json_delta for content block ${index}, which is not open`);
    }
    switch (block.kind) {
      case 'tool-use':
        if (partialJson !== '') {
          emit({ type: 'tool-call-delta', index: block.toolIndex, argumentsDelta: partialJson });
        }
        return;
      case 'other':
        // The input of a server tool: Anthropic runs it, the caller has nothing to do.
        return;
      default:
        assertNever(block);
    }
  }

  function onMessageDelta(event: JsonObject): void {
    const delta = objectField(event, 'delta');
    const reason = delta === undefined ? undefined : stringField(delta, 'stop_reason');
    if (reason !== undefined) stopReason = reason;
    const usage = objectField(event, 'usage');
    if (usage !== undefined) onUsage(usage);
  }

  /**
   * `message_start` has the input side; `message_delta` the cumulative output (and, in newer
   * API versions, the input again). Cached prompt tokens are billed input too, so they count.
   */
  function onUsage(usage: JsonObject): void {
    usageReported = true;
    const input = numberField(usage, 'input_tokens');
    if (input !== undefined) {
      inputTokens =
        input +
        (numberField(usage, 'cache_creation_input_tokens') ?? 0) +
        (numberField(usage, 'cache_read_input_tokens') ?? 0);
    }
    const output = numberField(usage, 'output_tokens');
    if (output !== undefined) outputTokens = output;
  }

  function onMessageStop(emit: Emit): void {
    terminated = true;
    const finish: StreamPart = { type: 'finish', finishReason: mapFinishReason(stopReason) };
    if (usageReported) {
      finish.usage = {
        input_tokens: inputTokens,
        output_tokens: outputTokens,
        total_tokens: inputTokens + outputTokens,
      };
    }
    emit(finish);
  }

  function onError(error: JsonObject, emit: Emit): void {
    terminated = true;
    // Lenient on purpose: a provider error is reported, even when its shape is odd.
    const message = textOf(error['message']) ?? textOf(error['type']) ?? 'unknown error';
    emit({
      type: 'error',
      message: `Error from remote service: ${message}`,
      status: statusOfErrorType(error['type']),
    });
  }

  return {
    decode(frame, emit) {
      if (terminated) return;
      if (frame.framing !== 'sse') throw unexpectedFraming(frame.framing);
      if (frame.data === '') return;
      const parsed = parseJson(frame.data);
      // `event: error` is the provider's error whatever its data holds (a proxy may send plain
      // text or its own JSON): reporting it beats calling it malformed or skipping it.
      if (frame.event === 'error') {
        onError(errorDetails(parsed.success ? parsed.value : frame.data), emit);
        return;
      }
      if (!parsed.success) {
        throw malformed(`invalid JSON (${messageOf(parsed.error)})`, parsed.error);
      }
      const event = asObject(parsed.value, 'the event');
      // The data names its type; the SSE event name is the same word, used if a proxy drops it.
      const type = stringField(event, 'type') ?? frame.event;
      if (type === undefined) throw malformed('the event has no type');
      onEvent(type, event, emit);
    },
    end() {
      if (terminated) return;
      throw new ServiceError(
        ErrorCode.UpstreamProtocol,
        'The remote service ended the stream before message_stop',
      );
    },
  };
}

/**
 * The `{ type, message }` of an error event: Anthropic nests it under `error`; anything else
 * (a flat object, plain text) is taken as it comes.
 */
function errorDetails(value: unknown): JsonObject {
  if (!isObject(value)) return { message: typeof value === 'string' ? value : undefined };
  const inner = value['error'];
  if (isObject(inner)) return inner;
  return typeof inner === 'string' ? { message: inner } : value;
}

/**
 * An in-stream error has no HTTP status; use the one the same failure gets before the stream
 * starts, except that `overloaded_error` (HTTP 529 at Anthropic, a code clients do not know)
 * becomes 503.
 * @see https://docs.anthropic.com/en/api/errors
 */
function statusOfErrorType(type: unknown): number {
  switch (type) {
    case 'rate_limit_error':
      return 429;
    case 'overloaded_error':
      return 503;
    default:
      return 502;
  }
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function assertNever(value: never): never {
  throw new ServiceError(ErrorCode.Internal, `Unexpected value ${JSON.stringify(value)}`);
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
  return new ServiceError(ErrorCode.Internal, `The Anthropic decoder got a ${framing} frame`);
}

function parseJson(
  text: string,
): { success: true; value: unknown } | { success: false; error: unknown } {
  try {
    return { success: true, value: JSON.parse(text) };
  } catch (error) {
    return { success: false, error };
  }
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

function requiredNumber(object: JsonObject, key: string): number {
  const value = numberField(object, key);
  if (value === undefined) throw malformed(`"${key}" is missing`);
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
