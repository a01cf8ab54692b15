/**
 * The Cohere v2 chat call, streaming: `"stream": true` in the body (Cohere's only switch), and
 * an event-stream Accept header.
 * @see https://docs.cohere.com/reference/chat-stream
 */
import type { ConnectorFacts, UpstreamCall } from '../../domain/provider.ts';
import { parseBodyObject, splitUrl, withHeader } from '../shared/request.ts';

const chatPath = /\/v2\/chat\/?$/;

export function matches(connector: ConnectorFacts): boolean {
  return chatPath.test(splitUrl(connector.url).path);
}

export function prepareStream(call: UpstreamCall, llmInterface: string): UpstreamCall {
  const request = parseBodyObject(call.body, llmInterface);
  return {
    ...call,
    method: 'POST',
    headers: withHeader(call.headers, 'accept', 'text/event-stream'),
    body: JSON.stringify({ ...request, stream: true }),
  };
}
