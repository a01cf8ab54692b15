/**
 * Which connectors speak the Anthropic Messages API, and how a templated call is turned into a
 * streaming one: `stream: true` in the body, SSE accepted, and the API version header Anthropic
 * requires (a connector's own version wins).
 * @see https://docs.anthropic.com/en/api/messages-streaming
 */
import type { ConnectorFacts, UpstreamCall } from '../../domain/provider.ts';
import { hasHeader, parseBodyObject, pathOf, withHeader } from '../shared/request.ts';

const API_VERSION = '2023-06-01';

export function matchesConnector(connector: ConnectorFacts): boolean {
  return pathOf(connector.url).endsWith('/v1/messages');
}

export function prepareStream(call: UpstreamCall, llmInterface: string): UpstreamCall {
  const body = parseBodyObject(call.body, llmInterface);
  let headers = withHeader(call.headers, 'accept', 'text/event-stream');
  if (!hasHeader(headers, 'anthropic-version')) {
    headers = { ...headers, 'anthropic-version': API_VERSION };
  }
  return { ...call, headers, body: JSON.stringify({ ...body, stream: true }) };
}
