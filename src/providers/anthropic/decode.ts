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
 *
 * The events are read by `createAnthropicEventReader`, which bedrock-invoke shares: its `chunk`
 * frames carry the same events. This decoder adds only the SSE side.
 */
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { FrameDecoder } from '../../domain/provider.ts';
import type { StreamPart, Usage } from '../../domain/stream-part.ts';
import { endedEarly, remoteErrorPart } from '../shared/errors.ts';
import {
  asObject,
  invalidJson,
  isObject,
  type JsonObject,
  malformed,
  numberField,
  objectField,
  requiredNumber,
  requiredObject,
  safeParseJson,
  stringField,
  textOf,
} from '../shared/json.ts';
import { mapFinishReason } from './map-finish-reason.ts';

type Emit = (part: StreamPart) => void;
type ToolCallDelta = Extract<StreamPart, { type: 'tool-call-delta' }>;

/** What a started content block is, as far as its deltas are concerned. */
type Block = { kind: 'tool-use'; toolIndex: number } | { kind: 'other' };

export function createAnthropicDecoder(): FrameDecoder {
  const reader = createAnthropicEventReader();
  return {
    decode(frame, emit) {
      if (reader.ended) return;
      if (frame.framing !== 'sse') throw unexpectedFraming(frame.framing);
      if (frame.data === '') return;
      const parsed = safeParseJson(frame.data);
      // `event: error` is the provider's error whatever its data holds (a proxy may send plain
      // text or its own JSON): reporting it beats calling it malformed or skipping it.
      if (frame.event === 'error') {
        reader.readError(parsed.success ? parsed.value : frame.data, emit);
        return;
      }
      if (!parsed.success) throw invalidJson(parsed.error);
      const event = asObject(parsed.value, 'the event');
      // The data names its type; the SSE event name is the same word, used if a proxy drops it.
      const type = stringField(event, 'type') ?? frame.event;
      if (type === undefined) throw malformed('the event has no type');
      reader.read(type, event, emit);
    },
    end() {
      if (reader.ended) return;
      throw endedEarly('before message_stop');
    },
  };
}

/** The token counts the events reported, before `message_stop` turns them into usage. */
export interface ReportedUsage {
  /** Whether any event carried a usage object. */
  reported: boolean;
  /** Every prompt token read, cache reads and writes included; undefined until reported. */
  inputTokens: number | undefined;
  /** Cumulative (each `message_delta` repeats the running total); undefined until reported. */
  outputTokens: number | undefined;
}

export interface AnthropicEventReaderOptions {
  /**
   * The usage of the `finish` part, from the reported counts and the `message_stop` event (a
   * service that hosts Claude may add its own counts there). By default the reported counts
   * (0 for a side never reported), or no usage when no event carried any.
   */
  usageAtStop?: (reported: ReportedUsage, messageStop: JsonObject) => Usage | undefined;
}

/**
 * Anthropic Messages streaming events → parts, whatever carries them: SSE from the direct API,
 * or the `chunk` frames of Bedrock InvokeModelWithResponseStream.
 */
export interface AnthropicEventReader {
  /** Reads one event of the given `type`; emits zero or more parts. Ignored once ended. */
  read(type: string, event: JsonObject, emit: Emit): void;
  /** Reports an error event whatever shape its data has (an object, or a proxy's plain text). */
  readError(data: unknown, emit: Emit): void;
  /** True once `message_stop` or an error event ended the message. */
  readonly ended: boolean;
}

export function createAnthropicEventReader(
  options: AnthropicEventReaderOptions = {},
): AnthropicEventReader {
  const usageAtStop = options.usageAtStop ?? usageAsReported;
  const blocks = new Map<number, Block>();
  let toolCount = 0;
  let stopReason: string | undefined;
  const usage: ReportedUsage = { reported: false, inputTokens: undefined, outputTokens: undefined };
  let ended = false;

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
        onMessageStop(event, emit);
        break;
      case 'error':
        onError(event, emit);
        break;
      default:
        // `ping` and unknown event types carry nothing we report.
        break;
    }
  }

  function onMessageStart(event: JsonObject): void {
    const reported = objectField(requiredObject(event, 'message'), 'usage');
    if (reported !== undefined) onUsage(reported);
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
    const reported = objectField(event, 'usage');
    if (reported !== undefined) onUsage(reported);
  }

  /**
   * `message_start` has the input side; `message_delta` the cumulative output (and, in newer
   * API versions, the input again). Cached prompt tokens are billed input too, so they count.
   */
  function onUsage(reported: JsonObject): void {
    usage.reported = true;
    const input = numberField(reported, 'input_tokens');
    if (input !== undefined) {
      usage.inputTokens =
        input +
        (numberField(reported, 'cache_creation_input_tokens') ?? 0) +
        (numberField(reported, 'cache_read_input_tokens') ?? 0);
    }
    const output = numberField(reported, 'output_tokens');
    if (output !== undefined) usage.outputTokens = output;
  }

  function onMessageStop(event: JsonObject, emit: Emit): void {
    ended = true;
    const finish: StreamPart = { type: 'finish', finishReason: mapFinishReason(stopReason) };
    const finalUsage = usageAtStop(usage, event);
    if (finalUsage !== undefined) finish.usage = finalUsage;
    emit(finish);
  }

  function onError(data: unknown, emit: Emit): void {
    ended = true;
    const error = errorDetails(data);
    // Lenient on purpose: a provider error is reported, even when its shape is odd.
    const message = textOf(error['message']) ?? textOf(error['type']) ?? 'unknown error';
    emit(remoteErrorPart(message, statusOfErrorType(error['type'])));
  }

  return {
    read(type, event, emit) {
      if (!ended) onEvent(type, event, emit);
    },
    readError(data, emit) {
      if (!ended) onError(data, emit);
    },
    get ended() {
      return ended;
    },
  };
}

function usageAsReported(reported: ReportedUsage): Usage | undefined {
  if (!reported.reported) return undefined;
  const input = reported.inputTokens ?? 0;
  const output = reported.outputTokens ?? 0;
  return { input_tokens: input, output_tokens: output, total_tokens: input + output };
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
    case 'invalid_request_error':
      return 400;
    case 'rate_limit_error':
      return 429;
    case 'overloaded_error':
      return 503;
    default:
      return 502;
  }
}

function assertNever(value: never): never {
  throw new ServiceError(ErrorCode.Internal, `Unexpected value ${JSON.stringify(value)}`);
}

function unexpectedFraming(framing: string): ServiceError {
  return new ServiceError(ErrorCode.Internal, `The Anthropic decoder got a ${framing} frame`);
}
