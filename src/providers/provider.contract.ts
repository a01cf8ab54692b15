/**
 * The scenarios every provider adapter must pass, run against its recorded fixtures
 * (test/mock-provider/fixtures): the decoded answer, tool calls, usage and finish reason; the
 * same parts whatever the chunking; exactly one terminal part, last; a cut-off stream never
 * decoding to a normal finish; a malformed event surfacing as an error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type MockProviderName,
  malformedEvent,
  readStreamFixture,
} from '../../test/mock-provider/fixtures.ts';
import { ServiceError } from '../domain/errors.ts';
import type { Frame, ProviderAdapter } from '../domain/provider.ts';
import type { StreamPart, UnifiedFinishReason, Usage } from '../domain/stream-part.ts';
import { createEventStreamDecoder } from '../wire/event-stream.ts';
import { createNdjsonDecoder } from '../wire/ndjson.ts';
import { createSseDecoder } from '../wire/sse.ts';

export interface ExpectedToolCall {
  index: number;
  id?: string;
  name?: string;
  arguments: string;
}

export interface ContractCase {
  fixture: string;
  text?: string;
  toolCalls?: ExpectedToolCall[];
  finishReason?: UnifiedFinishReason;
  usage?: Usage;
  /** The fixture ends in a provider error: the last part is an error matching this. */
  error?: RegExp;
}

export interface ContractOptions {
  adapter: ProviderAdapter;
  llmInterface: string;
  fixtures: MockProviderName;
  cases: ContractCase[];
}

export interface DecodeResult {
  parts: StreamPart[];
  /** What the decoders threw, if anything (a ServiceError for protocol errors). */
  thrown: unknown;
}

/** Runs body chunks through the adapter's framing and decoder, as the stream core does. */
export function decodeChunks(
  adapter: ProviderAdapter,
  llmInterface: string,
  chunks: Iterable<Uint8Array>,
): DecodeResult {
  const parts: StreamPart[] = [];
  const decoder = adapter.createDecoder(llmInterface);
  let terminal = false;
  const emit = (part: StreamPart) => {
    if (terminal) return;
    parts.push(part);
    terminal = part.type === 'finish' || part.type === 'error';
  };
  const onFrame = (frame: Frame) => {
    if (!terminal) decoder.decode(frame, emit);
  };
  const wire =
    adapter.framing === 'sse'
      ? createSseDecoder(onFrame)
      : adapter.framing === 'ndjson'
        ? createNdjsonDecoder(onFrame)
        : createEventStreamDecoder(onFrame);
  try {
    for (const chunk of chunks) {
      wire.push(chunk);
      if (terminal) return { parts, thrown: undefined };
    }
    wire.end();
    decoder.end(emit);
    return { parts, thrown: undefined };
  } catch (error) {
    return { parts, thrown: error };
  }
}

export interface Summary {
  text: string;
  toolCalls: ExpectedToolCall[];
  terminal: StreamPart | undefined;
  terminalCount: number;
}

export function summarize(parts: StreamPart[]): Summary {
  let text = '';
  const calls = new Map<number, ExpectedToolCall>();
  let terminal: StreamPart | undefined;
  let terminalCount = 0;
  for (const part of parts) {
    if (part.type === 'text-delta') text += part.text;
    if (part.type === 'tool-call-delta') {
      const call = calls.get(part.index) ?? { index: part.index, arguments: '' };
      if (part.id !== undefined) call.id = part.id;
      if (part.name !== undefined) call.name = part.name;
      call.arguments += part.argumentsDelta;
      calls.set(part.index, call);
    }
    if (part.type === 'finish' || part.type === 'error') {
      terminal = part;
      terminalCount += 1;
    }
  }
  return {
    text,
    toolCalls: [...calls.values()].sort((left, right) => left.index - right.index),
    terminal,
    terminalCount,
  };
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(chunks);
}

export function providerContract(name: string, options: ContractOptions): void {
  const { adapter, llmInterface } = options;
  describe(`provider contract: ${name}`, () => {
    for (const contractCase of options.cases) {
      describe(contractCase.fixture, () => {
        const body = concat(readStreamFixture(options.fixtures, contractCase.fixture));
        const whole = decodeChunks(adapter, llmInterface, [body]);

        it('decodes the recorded stream', () => {
          assert.equal(whole.thrown, undefined, String(whole.thrown));
          const summary = summarize(whole.parts);
          assert.equal(summary.terminalCount, 1, 'exactly one terminal part');
          assert.equal(whole.parts.at(-1), summary.terminal, 'the terminal part is last');
          if (contractCase.text !== undefined) assert.equal(summary.text, contractCase.text);
          if (contractCase.toolCalls !== undefined) {
            assert.deepEqual(summary.toolCalls, contractCase.toolCalls);
          }
          if (contractCase.error !== undefined) {
            assert.equal(summary.terminal?.type, 'error');
            if (summary.terminal?.type === 'error') {
              assert.match(summary.terminal.message, contractCase.error);
            }
          } else {
            assert.equal(summary.terminal?.type, 'finish');
            if (summary.terminal?.type === 'finish') {
              if (contractCase.finishReason !== undefined) {
                assert.equal(summary.terminal.finishReason.unified, contractCase.finishReason);
              }
              if (contractCase.usage !== undefined) {
                assert.deepEqual(summary.terminal.usage, contractCase.usage);
              }
            }
          }
        });

        it('gives the same parts at every two-piece split and byte by byte', () => {
          const step = Math.max(1, Math.floor(body.length / 400));
          for (let at = 1; at < body.length; at += step) {
            const split = decodeChunks(adapter, llmInterface, [
              body.subarray(0, at),
              body.subarray(at),
            ]);
            assert.deepEqual(split.parts, whole.parts, `split at ${at}`);
          }
          const bytes = Array.from({ length: body.length }, (_, index) =>
            body.subarray(index, index + 1),
          );
          assert.deepEqual(decodeChunks(adapter, llmInterface, bytes).parts, whole.parts);
        });

        if (contractCase.error === undefined) {
          it('never decodes a cut-off stream to a normal finish', () => {
            const events = readStreamFixture(options.fixtures, contractCase.fixture);
            // Cut inside the body at several points: early, half way, just before the last event
            // and inside it. (Cutting only the last event's trailing newline leaves a complete
            // event, which is not a truncation.)
            const lastStart = concat(events.slice(0, -1)).length;
            const lastEvent = Buffer.from(events.at(-1) ?? new Uint8Array()).toString('latin1');
            const lastContentLength = lastEvent.trimEnd().length;
            const insideLast = lastStart + Math.floor(lastContentLength / 2);
            for (const cut of [1, Math.floor(body.length / 2), lastStart, insideLast]) {
              if (cut <= 0 || cut >= body.length) continue;
              const truncated = decodeChunks(adapter, llmInterface, [body.subarray(0, cut)]);
              const terminal = truncated.parts.at(-1);
              const normalFinish = terminal?.type === 'finish' && truncated.thrown === undefined;
              assert.ok(
                !normalFinish,
                `a stream cut at ${cut} of ${body.length} decoded as complete`,
              );
              if (truncated.thrown !== undefined) {
                assert.ok(ServiceError.isInstance(truncated.thrown), String(truncated.thrown));
              }
            }
          });

          it('surfaces a malformed event as an error, not a silent skip or a crash', () => {
            const events = readStreamFixture(options.fixtures, contractCase.fixture);
            const broken = [
              ...events.slice(0, 2),
              malformedEvent(options.fixtures, contractCase.fixture, 2),
              ...events.slice(2),
            ];
            const result = decodeChunks(adapter, llmInterface, broken);
            const failed =
              ServiceError.isInstance(result.thrown) || result.parts.at(-1)?.type === 'error';
            assert.ok(failed, 'a malformed event must fail the stream');
          });
        }
      });
    }
  });
}
