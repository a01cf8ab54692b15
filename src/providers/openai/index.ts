/**
 * `openai/v1/chat/completions`: OpenAI Chat Completions over SSE, and every server that speaks
 * it (Azure OpenAI, DeepSeek, vLLM, Ollama's `/v1`).
 */
import type { ProviderAdapter } from '../../domain/provider.ts';
import { createOpenAIDecoder } from './decode.ts';
import { matchesConnector, prepareStream } from './request.ts';

export const adapter: ProviderAdapter = {
  interfaces: ['openai/v1/chat/completions'],
  framing: 'sse',
  matches: matchesConnector,
  prepareStream,
  createDecoder: () => createOpenAIDecoder(),
};
