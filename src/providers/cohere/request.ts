/**
 * The Cohere v2 chat call, streaming: `"stream": true` in the body (Cohere's only switch), and
 * an event-stream Accept header.
 * @see https://docs.cohere.com/reference/chat-stream
 */
import { badRequest } from '../../domain/errors.ts';
import type { ConnectorFacts, UpstreamCall } from '../../domain/provider.ts';

const chatPath = /\/v2\/chat\/?$/;

export function matches(connector: ConnectorFacts): boolean {
  return chatPath.test(splitUrl(connector.url).path);
}

export function prepareStream(call: UpstreamCall): UpstreamCall {
  let request: unknown;
  try {
    request = JSON.parse(call.body);
  } catch {
    throw badRequest('The Cohere chat request body is not valid JSON');
  }
  if (!isObject(request)) throw badRequest('The Cohere chat request body must be an object');
  return {
    ...call,
    method: 'POST',
    headers: withHeader(call.headers, 'accept', 'text/event-stream'),
    body: JSON.stringify({ ...request, stream: true }),
  };
}

/** The URL up to its query or fragment. */
function splitUrl(url: string): { path: string } {
  const end = url.search(/[?#]/);
  return { path: end === -1 ? url : url.slice(0, end) };
}

/** Sets a header, replacing any spelling of the same name the connector used. */
function withHeader(
  headers: Record<string, string>,
  name: string,
  value: string,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, existing] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) result[key] = existing;
  }
  result[name] = value;
  return result;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
