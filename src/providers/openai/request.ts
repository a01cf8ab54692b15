/**
 * Which connectors speak OpenAI Chat Completions, and how a templated call is turned into a
 * streaming one. ml-commons only sets `stream: true` (reference §7.4, §10.2); Sluice also asks
 * for the usage chunk, which OpenAI sends only when `stream_options.include_usage` is set
 * (STREAMING-PITFALLS item 3).
 */
import { badRequest } from '../../domain/errors.ts';
import type { ConnectorFacts, UpstreamCall } from '../../domain/provider.ts';
import { isObject } from '../shared/json.ts';
import { parseBodyObject, pathOf, withHeader } from '../shared/request.ts';

/**
 * OpenAI and every server that copies its path: Azure OpenAI
 * (`/openai/deployments/x/chat/completions?api-version=…`), DeepSeek, vLLM, Ollama's `/v1`.
 */
export function matchesConnector(connector: ConnectorFacts): boolean {
  return connector.protocol === 'http' && pathOf(connector.url).endsWith('/chat/completions');
}

export function prepareStream(call: UpstreamCall, llmInterface: string): UpstreamCall {
  const body = parseBodyObject(call.body, llmInterface);
  const choices = body['n'];
  // Only one choice is decoded; several would arrive interleaved and be silently dropped.
  if (typeof choices === 'number' && choices > 1) {
    throw badRequest(
      `n > 1 is not supported for streaming: the request asks for ${choices} choices; use n = 1`,
    );
  }
  const streamOptions = body['stream_options'];
  const streamBody = {
    ...body,
    stream: true,
    stream_options: { ...(isObject(streamOptions) ? streamOptions : {}), include_usage: true },
  };
  return {
    ...call,
    headers: withHeader(call.headers, 'accept', 'text/event-stream'),
    body: JSON.stringify(streamBody),
  };
}
