/**
 * Which connectors speak Ollama's native chat API, and how a templated call is turned into a
 * streaming one. Ollama streams NDJSON by default; `stream: true` is set anyway because a
 * connector template written for `_predict` usually says `"stream": false`.
 * @see https://github.com/ollama/ollama/blob/main/docs/api.md#generate-a-chat-completion
 */
import { badRequest } from '../../domain/errors.ts';
import type { ConnectorFacts, UpstreamCall } from '../../domain/provider.ts';

type JsonObject = { [key: string]: unknown };

export function matchesConnector(connector: ConnectorFacts): boolean {
  return pathOf(connector.url).endsWith('/api/chat');
}

export function prepareStream(call: UpstreamCall, llmInterface: string): UpstreamCall {
  const body = parseBodyObject(call.body, llmInterface);
  return { ...call, body: JSON.stringify({ ...body, stream: true }) };
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
