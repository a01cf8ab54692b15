/**
 * InvokeModelWithResponseStream frames → stream parts, for Anthropic Claude.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html
 * @see https://docs.anthropic.com/en/docs/build-with-claude/streaming
 *
 * Each `chunk` frame's payload is `{"bytes": "<base64>"}`, and the bytes are one Anthropic
 * Messages streaming event (`message_start` … `message_stop`), read by the Anthropic adapter's
 * event reader. `finish` is emitted at `message_stop`, with the usage of
 * `message_start`/`message_delta` (or, when those carry none, the
 * `amazon-bedrock-invocationMetrics` Bedrock adds to the last event).
 *
 * `exception`/`error` frames are Bedrock's, shared with bedrock-converse.
 */
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { Frame, FrameDecoder } from '../../domain/provider.ts';
import type { StreamPart, Usage } from '../../domain/stream-part.ts';
import { createAnthropicEventReader, type ReportedUsage } from '../anthropic/decode.ts';
import { bedrockErrorPart } from '../bedrock-converse/decode.ts';
import { endedEarly } from '../shared/errors.ts';
import {
  decodeJsonObject,
  isObject,
  type JsonObject,
  malformed,
  tokenCount,
} from '../shared/json.ts';

type Emit = (part: StreamPart) => void;

export function createDecoder(): FrameDecoder {
  const reader = createAnthropicEventReader({ usageAtStop: usageWithInvocationMetrics });
  let failed = false;
  return {
    decode(frame: Frame, emit: Emit): void {
      if (failed || reader.ended) return;
      if (frame.framing !== 'aws-event-stream') throw wrongFraming(frame.framing);
      const error = bedrockErrorPart(frame.headers, frame.payload);
      if (error !== undefined) {
        failed = true;
        emit(error);
        return;
      }
      // `chunk` is the only event of this API; anything newer carries nothing Sluice reports.
      if (frame.headers[':event-type'] !== 'chunk') return;
      const event = readChunk(frame.payload);
      const type = event['type'];
      if (typeof type !== 'string') throw malformed('chunk event has no type');
      reader.read(type, event, emit);
    },
    end(): void {
      if (failed || reader.ended) return;
      throw endedEarly('before message_stop');
    },
  };
}

/**
 * The usage the events reported; a side they left out comes from the invocation metrics
 * Bedrock adds to `message_stop` (cache reads and writes counted as input, as the events do).
 * No usage unless both sides are known.
 */
function usageWithInvocationMetrics(
  reported: ReportedUsage,
  messageStop: JsonObject,
): Usage | undefined {
  let input = reported.inputTokens;
  let output = reported.outputTokens;
  const metrics = messageStop['amazon-bedrock-invocationMetrics'];
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

/** `{"bytes": "<base64 of the event JSON>"}` → the event. */
function readChunk(payload: Uint8Array): JsonObject {
  const chunk = decodeJsonObject(payload);
  const bytes = chunk?.['bytes'];
  if (typeof bytes !== 'string') throw malformed('chunk payload is not {"bytes": …}');
  const event = decodeJsonObject(Buffer.from(bytes, 'base64'));
  if (event === undefined) throw malformed('chunk bytes are not a JSON object');
  return event;
}

function wrongFraming(framing: string): ServiceError {
  return new ServiceError(ErrorCode.Internal, `Bedrock decoder given a ${framing} frame`);
}
