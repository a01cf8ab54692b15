/**
 * Which connectors speak the Anthropic Messages API, and how a templated call is turned into a
 * streaming one: `stream: true` in the body, SSE accepted, and the API version header Anthropic
 * requires (a connector's own version wins).
 * @see https://docs.anthropic.com/en/api/messages-streaming
 */
import { badRequest } from '../../domain/errors.ts';
import type { ConnectorFacts, UpstreamCall } from '../../domain/provider.ts';

type JsonObject = { [key: string]: unknown };

const API_VERSION = '2023-06-01';

export function matchesConnector(connector: ConnectorFacts): boolean {
  return pathOf(connector.url).endsWith('/v1/messages');
}

export function prepareStream(call: UpstreamCall, llmInterface: string): UpstreamCall {
  const body = parseBodyObject(call.body, llmInterface);
  let headers = withHeader(call.headers, 'accept', 'text/event-stream');
  if (!Object.keys(headers).some((name) => name.toLowerCase() === 'anthropic-version')) {
    headers = { ...headers, 'anthropic-version': API_VERSION };
  }
  return { ...call, headers, body: JSON.stringify({ ...body, stream: true }) };
}

function parseBodyObject(body: string, llmInterface: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    value = undefined;
  }
  if (!isObject(value)) {
    throw badRequest(
      `The request body must be a JSON object to stream from ${llmInterface}; check the connector's request_body`,
    );
  }
  return value;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets a header, replacing any spelling of the same name the caller used. */
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

/** The URL's path without a trailing slash; '' for a URL that does not parse. */
function pathOf(url: string): string {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return '';
  }
  return path.endsWith('/') ? path.slice(0, -1) : path;
}
