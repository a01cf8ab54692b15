/** Google Gemini `generateContent` (`gemini/v1beta/generatecontent`): server-sent events. */
import type { ProviderAdapter } from '../../domain/provider.ts';
import { createDecoder } from './decode.ts';
import { matches, prepareStream } from './request.ts';

export const adapter: ProviderAdapter = {
  interfaces: ['gemini/v1beta/generatecontent'],
  framing: 'sse',
  matches,
  prepareStream,
  createDecoder,
};
