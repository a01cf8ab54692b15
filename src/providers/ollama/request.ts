/**
 * Which connectors speak Ollama's native chat API, and how a templated call is turned into a
 * streaming one. Ollama streams NDJSON by default; `stream: true` is set anyway because a
 * connector template written for `_predict` usually says `"stream": false`.
 * @see https://github.com/ollama/ollama/blob/main/docs/api.md#generate-a-chat-completion
 */
import type { ConnectorFacts, UpstreamCall } from '../../domain/provider.ts';
import { parseBodyObject, pathOf } from '../shared/request.ts';

export function matchesConnector(connector: ConnectorFacts): boolean {
  return pathOf(connector.url).endsWith('/api/chat');
}

export function prepareStream(call: UpstreamCall, llmInterface: string): UpstreamCall {
  const body = parseBodyObject(call.body, llmInterface);
  return { ...call, body: JSON.stringify({ ...body, stream: true }) };
}
