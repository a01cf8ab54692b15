/** Cohere Chat API v2 (`cohere/v2/chat`): server-sent events. */
import type { ProviderAdapter } from '../../domain/provider.ts';
import { createDecoder } from './decode.ts';
import { matches, prepareStream } from './request.ts';

export const adapter: ProviderAdapter = {
  interfaces: ['cohere/v2/chat'],
  framing: 'sse',
  matches,
  prepareStream,
  createDecoder,
};
