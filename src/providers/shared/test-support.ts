/**
 * Setup the providers' `decode.test.ts` files share: building calls and event-stream frames,
 * and the assertions several of them make. Test-only: nothing in the service imports it.
 */
import assert from 'node:assert/strict';
import { encodeFrame } from '../../../test/mock-provider/event-stream.ts';
import { expectedSummary, summarizeParts } from '../../../test/mock-provider/expected.ts';
import {
  fixtureCases,
  type MockProviderName,
  readStreamFixture,
} from '../../../test/mock-provider/fixtures.ts';
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { ProviderAdapter, UpstreamCall } from '../../domain/provider.ts';
import { type DecodeResult, decodeChunks } from '../provider.contract.ts';

export function assertProtocolError(error: unknown, pattern: RegExp): void {
  assert.ok(ServiceError.isInstance(error), `expected a ServiceError, got ${String(error)}`);
  assert.equal(error.code, ErrorCode.UpstreamProtocol);
  assert.match(error.message, pattern);
}

/** Decodes every stream fixture of `fixtures` and compares it with the mock's expectations. */
export function assertMockExpectations(
  adapter: ProviderAdapter,
  llmInterface: string,
  fixtures: MockProviderName,
): void {
  for (const fixtureCase of fixtureCases) {
    const { parts } = decodeChunks(adapter, llmInterface, readStreamFixture(fixtures, fixtureCase));
    const expected = expectedSummary(fixtures, fixtureCase);
    // The mock records the provider's words; Sluice prefixes them as ml-commons does.
    if (expected.error !== undefined)
      expected.error = `Error from remote service: ${expected.error}`;
    assert.deepEqual(summarizeParts(parts), expected, fixtureCase);
  }
}

/** A POST call; a body that is not a string is sent as its JSON. */
export function jsonCall(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): UpstreamCall {
  return {
    method: 'POST',
    url,
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

/** An AWS event-stream frame; a payload that is not a string is sent as its JSON. */
export interface TestFrame {
  headers: Record<string, string>;
  payload: unknown;
}

export function eventFrame(eventType: string, payload: unknown): TestFrame {
  return { headers: { ':message-type': 'event', ':event-type': eventType }, payload };
}

export function exceptionFrame(exceptionType: string, payload: unknown): TestFrame {
  return { headers: { ':message-type': 'exception', ':exception-type': exceptionType }, payload };
}

/** Encodes the frames with the real codec (one chunk each) and decodes them. */
export function decodeFrames(
  adapter: ProviderAdapter,
  llmInterface: string,
  frames: readonly TestFrame[],
): DecodeResult {
  const chunks = frames.map((frame) =>
    encodeFrame(
      frame.headers,
      Buffer.from(
        typeof frame.payload === 'string' ? frame.payload : JSON.stringify(frame.payload),
      ),
    ),
  );
  return decodeChunks(adapter, llmInterface, chunks);
}
