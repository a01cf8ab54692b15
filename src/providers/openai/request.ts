/**
 * Which connectors speak OpenAI Chat Completions, and how a templated call is turned into a
 * streaming one. ml-commons only sets `stream: true` (reference §7.4, §10.2); Sluice also asks
 * for the usage chunk, which OpenAI sends only when `stream_options.include_usage` is set
 * (STREAMING-PITFALLS item 3).
 */
import { badRequest } from '../../domain/errors.ts';
import type { ConnectorFacts, UpstreamCall } from '../../domain/provider.ts';

type JsonObject = { [key: string]: unknown };

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
