/** `anthropic/v1/messages`: the Anthropic Messages API over SSE, called directly. */
import type { ProviderAdapter } from '../../domain/provider.ts';
import { createAnthropicDecoder } from './decode.ts';
import { matchesConnector, prepareStream } from './request.ts';

export const adapter: ProviderAdapter = {
  interfaces: ['anthropic/v1/messages'],
  framing: 'sse',
  matches: matchesConnector,
  prepareStream,
  createDecoder: () => createAnthropicDecoder(),
};
