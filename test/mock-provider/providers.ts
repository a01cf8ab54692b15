/**
 * How each provider is addressed and how it answers at the HTTP level: routes, streaming
 * switch, response headers and the provider's own error bodies.
 */
import { randomUUID } from 'node:crypto';
import type { MockProviderName } from './fixtures.ts';

export interface RouteMatch {
  provider: MockProviderName;
  streaming: boolean;
  /** The model named in the path (Bedrock, Gemini), percent-decoded. */
  modelId: string | undefined;
}

export type RouteResult = { matched: true; route: RouteMatch } | { matched: false; reason: string };

const bedrockPath =
  /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/;
const geminiPath = /^\/v1(?:beta)?\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

/** Maps a request to a provider the way the real APIs are addressed. */
export function matchRoute(pathname: string, query: URLSearchParams, body: unknown): RouteResult {
  const streamFlag = isRecord(body) ? body['stream'] : undefined;
  if (pathname === '/v1/chat/completions') {
    return found('openai', streamFlag === true, undefined);
  }
  if (pathname === '/v1/messages') return found('anthropic', streamFlag === true, undefined);
  if (pathname === '/v2/chat') return found('cohere', streamFlag === true, undefined);
  // Ollama streams unless told not to.
  if (pathname === '/api/chat') return found('ollama', streamFlag !== false, undefined);
  const bedrock = bedrockPath.exec(pathname);
  if (bedrock?.[1] && bedrock[2]) {
    const operation = bedrock[2];
    const provider = operation.startsWith('converse') ? 'bedrock-converse' : 'bedrock-invoke';
    return found(provider, operation.endsWith('stream'), decodeURIComponent(bedrock[1]));
  }
  // Some clients percent-encode the ':' before the Gemini method name.
  const gemini = geminiPath.exec(decodeURIComponent(pathname));
  if (gemini?.[1] && gemini[2]) {
    const streaming = gemini[2] === 'streamGenerateContent';
    if (streaming && query.get('alt') !== 'sse') {
      return { matched: false, reason: 'the mock serves streamGenerateContent only with ?alt=sse' };
    }
    return found('gemini', streaming, gemini[1]);
  }
  return { matched: false, reason: `no provider route for ${pathname}` };
}

function found(
  provider: MockProviderName,
  streaming: boolean,
  modelId: string | undefined,
): RouteResult {
  return { matched: true, route: { provider, streaming, modelId } };
}

/** Headers of a successful streaming response (content type plus the usual ids). */
export function streamHeaders(provider: MockProviderName): Record<string, string> {
  const noCache = { 'cache-control': 'no-cache' };
  switch (provider) {
    case 'openai':
      return { 'content-type': 'text/event-stream; charset=utf-8', ...openAiHeaders() };
    case 'anthropic':
      return {
        'content-type': 'text/event-stream; charset=utf-8',
        ...noCache,
        ...anthropicHeaders(),
      };
    case 'bedrock-converse':
      return { 'content-type': 'application/vnd.amazon.eventstream', ...bedrockHeaders() };
    case 'bedrock-invoke':
      return {
        'content-type': 'application/vnd.amazon.eventstream',
        'x-amzn-bedrock-content-type': 'application/json',
        ...bedrockHeaders(),
      };
    case 'cohere':
      return { 'content-type': 'text/event-stream', ...noCache, ...cohereHeaders() };
    case 'gemini':
      return { 'content-type': 'text/event-stream', 'x-content-type-options': 'nosniff' };
    case 'ollama':
      return { 'content-type': 'application/x-ndjson' };
  }
}

/** Headers of a JSON (non-streaming or error) response. */
export function jsonHeaders(provider: MockProviderName): Record<string, string> {
  const json = { 'content-type': 'application/json' };
  switch (provider) {
    case 'openai':
      return { ...json, ...openAiHeaders() };
    case 'anthropic':
      return { ...json, ...anthropicHeaders() };
    case 'bedrock-converse':
    case 'bedrock-invoke':
      return { ...json, ...bedrockHeaders() };
    case 'cohere':
      return { ...json, ...cohereHeaders() };
    case 'gemini':
      return { 'content-type': 'application/json; charset=UTF-8' };
    case 'ollama':
      return { 'content-type': 'application/json; charset=utf-8' };
  }
}

function openAiHeaders(): Record<string, string> {
  return {
    'openai-organization': 'user-mockprovider',
    'openai-processing-ms': '183',
    'openai-version': '2020-10-01',
    'x-request-id': `req_${randomUUID().replaceAll('-', '')}`,
  };
}

function anthropicHeaders(): Record<string, string> {
  return { 'request-id': `req_011C${randomUUID().replaceAll('-', '').slice(0, 20)}` };
}

function bedrockHeaders(): Record<string, string> {
  return { 'x-amzn-requestid': randomUUID() };
}

function cohereHeaders(): Record<string, string> {
  return { 'x-debug-trace-id': randomUUID().replaceAll('-', '') };
}

export interface ErrorResponse {
  headers: Record<string, string>;
  body: string;
}

/** The provider's real error response for an HTTP status (bodies as the APIs send them). */
export function errorResponse(provider: MockProviderName, status: number): ErrorResponse {
  const headers = jsonHeaders(provider);
  switch (provider) {
    case 'openai':
      return { headers, body: pretty({ error: openAiError(status) }) };
    case 'anthropic':
      return {
        headers,
        body: JSON.stringify({
          type: 'error',
          error: anthropicError(status),
          request_id: headers['request-id'],
        }),
      };
    case 'bedrock-converse':
    case 'bedrock-invoke': {
      const [type, message] = bedrockError(status);
      // The AWS SDK reads the error type from this header (restJson1).
      headers['x-amzn-errortype'] = `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`;
      return { headers, body: JSON.stringify({ message }) };
    }
    case 'cohere':
      return { headers, body: JSON.stringify({ id: randomUUID(), message: cohereError(status) }) };
    case 'gemini':
      return { headers, body: pretty({ error: geminiError(status) }) };
    case 'ollama':
      return { headers, body: JSON.stringify({ error: ollamaError(status) }) };
  }
}

function pretty(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function openAiError(status: number): Record<string, unknown> {
  if (status === 401) {
    return {
      message:
        'Incorrect API key provided: sk-test. You can find your API key at https://platform.openai.com/account/api-keys.',
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_api_key',
    };
  }
  if (status === 429) {
    return {
      message:
        'Rate limit reached for gpt-4.1 in organization org-mockprovider on tokens per min (TPM): Limit 30000, Used 29813, Requested 1217. Please try again in 2.06s. Visit https://platform.openai.com/account/rate-limits to learn more.',
      type: 'tokens',
      param: null,
      code: 'rate_limit_exceeded',
    };
  }
  if (status === 400) {
    return {
      message: "Invalid value for 'messages': expected an array.",
      type: 'invalid_request_error',
      param: 'messages',
      code: null,
    };
  }
  return {
    message: 'The server had an error while processing your request. Sorry about that!',
    type: 'server_error',
    param: null,
    code: null,
  };
}

function anthropicError(status: number): { type: string; message: string } {
  const known: Record<number, [string, string]> = {
    400: ['invalid_request_error', 'messages: Field required'],
    401: ['authentication_error', 'invalid x-api-key'],
    403: [
      'permission_error',
      'Your API key does not have permission to use the specified resource.',
    ],
    404: ['not_found_error', 'model: claude-unknown'],
    413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
    429: [
      'rate_limit_error',
      'This request would exceed the rate limit for your organization of 30,000 input tokens per minute.',
    ],
    529: ['overloaded_error', 'Overloaded'],
  };
  const [type, message] = known[status] ?? ['api_error', 'Internal server error'];
  return { type, message };
}

function bedrockError(status: number): [string, string] {
  const known: Record<number, [string, string]> = {
    400: [
      'ValidationException',
      'Malformed input request, please reformat your input and try again.',
    ],
    401: ['UnrecognizedClientException', 'The security token included in the request is invalid.'],
    403: [
      'AccessDeniedException',
      "You don't have access to the model with the specified model ID.",
    ],
    404: [
      'ResourceNotFoundException',
      'Could not resolve the foundation model from the provided model identifier.',
    ],
    408: [
      'ModelTimeoutException',
      'Model has timed out in processing the request. Try your request again.',
    ],
    424: [
      'ModelErrorException',
      'The system encountered an unexpected error during processing. Try your request again.',
    ],
    429: ['ThrottlingException', 'Too many requests, please wait before trying again.'],
    503: ['ServiceUnavailableException', 'Bedrock is unable to process your request.'],
  };
  return (
    known[status] ?? [
      'InternalServerException',
      'The system encountered an unexpected error during processing. Try your request again.',
    ]
  );
}

function cohereError(status: number): string {
  const known: Record<number, string> = {
    400: 'invalid request: messages must not be empty',
    401: 'invalid api token',
    404: "model 'command-unknown' not found, make sure the correct model ID was used and that you have access to the model.",
    429: "You are using a Trial key, which is limited to 20 API calls / minute. You can continue to use the Trial key for free or upgrade to a Production key with higher rate limits at 'https://dashboard.cohere.com/api-keys'. Contact us on 'https://discord.gg/XW44jPfYJu' or email us at support@cohere.com with any questions",
  };
  return known[status] ?? 'internal server error, this has been reported to our developers';
}

function geminiError(status: number): { code: number; message: string; status: string } {
  const known: Record<number, [string, string]> = {
    400: ['INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.'],
    401: ['UNAUTHENTICATED', 'Request had invalid authentication credentials.'],
    403: [
      'PERMISSION_DENIED',
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    ],
    404: [
      'NOT_FOUND',
      'models/gemini-unknown is not found for API version v1beta, or is not supported for generateContent.',
    ],
    429: [
      'RESOURCE_EXHAUSTED',
      'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.',
    ],
    503: ['UNAVAILABLE', 'The model is overloaded. Please try again later.'],
  };
  const [code, message] = known[status] ?? [
    'INTERNAL',
    'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  ];
  return { code: status, message, status: code };
}

function ollamaError(status: number): string {
  if (status === 404) return 'model "llama3.2" not found, try pulling it first';
  if (status === 400) return 'invalid message format';
  return 'an error was encountered while running the model';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Model ids used in paths when a test does not name one. */
export const defaultModelIds: Partial<Record<MockProviderName, string>> = {
  'bedrock-converse': 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
  'bedrock-invoke': 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
  gemini: 'gemini-2.0-flash',
};

/** The path (and query) a real client would call for this provider. */
export function providerPath(
  provider: MockProviderName,
  modelId: string | undefined,
  streaming: boolean,
): string {
  const model = modelId ?? defaultModelIds[provider] ?? '';
  switch (provider) {
    case 'openai':
      return '/v1/chat/completions';
    case 'anthropic':
      return '/v1/messages';
    case 'bedrock-converse':
      return `/model/${encodeURIComponent(model)}/${streaming ? 'converse-stream' : 'converse'}`;
    case 'bedrock-invoke':
      return `/model/${encodeURIComponent(model)}/${streaming ? 'invoke-with-response-stream' : 'invoke'}`;
    case 'cohere':
      return '/v2/chat';
    case 'gemini':
      return `/v1beta/models/${model}:${streaming ? 'streamGenerateContent?alt=sse' : 'generateContent'}`;
    case 'ollama':
      return '/api/chat';
  }
}
