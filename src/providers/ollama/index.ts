/** `ollama/api/chat`: Ollama's native chat API, streamed as NDJSON. */
import type { ProviderAdapter } from '../../domain/provider.ts';
import { createOllamaDecoder } from './decode.ts';
import { matchesConnector, prepareStream } from './request.ts';

export const adapter: ProviderAdapter = {
  interfaces: ['ollama/api/chat'],
  framing: 'ndjson',
  matches: matchesConnector,
  prepareStream,
  createDecoder: () => createOllamaDecoder(),
};
