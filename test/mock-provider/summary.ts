/**
 * The comparable shape of one decoded stream, and the accumulator that builds it from either
 * fixture events (`expected.ts`) or Sluice stream parts.
 */
import type { FinishReason, Usage } from '../../src/domain/stream-part.ts';

export interface ExpectedToolCall {
  /** Undefined when the provider sends no call ids (Gemini). */
  id: string | undefined;
  name: string;
  /** Argument fragments concatenated (or the JSON of complete arguments objects). */
  arguments: string;
  /** `arguments` parsed, or undefined when it is not valid JSON. */
  input: unknown;
}

export interface StreamSummary {
  text: string;
  reasoning: string;
  toolCalls: ExpectedToolCall[];
  finishReason: FinishReason | undefined;
  usage: Usage | undefined;
  /** The provider's error message when the stream failed. */
  error: string | undefined;
}

export type Accumulator = ReturnType<typeof createAccumulator>;

export function createAccumulator() {
  let text = '';
  let reasoning = '';
  const calls = new Map<number | string, ExpectedToolCall>();
  let finishReason: FinishReason | undefined;
  let usage: Usage | undefined;
  let error: string | undefined;
  return {
    text(delta: string) {
      text += delta;
    },
    reasoning(delta: string) {
      reasoning += delta;
    },
    toolCall(key: number | string, id: string | undefined, name: string | undefined, args: string) {
      const call = calls.get(key) ?? { id: undefined, name: '', arguments: '', input: undefined };
      calls.set(key, call);
      if (id !== undefined) call.id = id;
      if (name !== undefined) call.name = name;
      call.arguments += args;
    },
    get toolCallCount() {
      return calls.size;
    },
    finish(reason: FinishReason) {
      finishReason = reason;
    },
    usage(reported: Usage) {
      usage = reported;
    },
    error(message: string) {
      error = message;
    },
    result(): StreamSummary {
      const toolCalls = [...calls.values()].map((call) => ({
        ...call,
        input: tryParse(call.arguments),
      }));
      if (error !== undefined)
        return { text, reasoning, toolCalls, finishReason: undefined, usage: undefined, error };
      return { text, reasoning, toolCalls, finishReason, usage, error };
    },
  };
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
