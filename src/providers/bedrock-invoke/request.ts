/**
 * The InvokeModelWithResponseStream call for Anthropic Claude on Bedrock: the connector's
 * `…/invoke` URL becomes `…/invoke-with-response-stream`, and the body is an Anthropic Messages
 * request in Bedrock's dialect.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html
 *
 * Signing is not done here: the core signs the final call.
 */
import { badRequest } from '../../domain/errors.ts';
import type { ConnectorFacts, UpstreamCall } from '../../domain/provider.ts';

const EVENT_STREAM = 'application/vnd.amazon.eventstream';
const ANTHROPIC_VERSION = 'bedrock-2023-05-31';
const invokePath = /\/invoke(?:-with-response-stream)?$/;

export function matches(connector: ConnectorFacts): boolean {
  return connector.protocol === 'aws_sigv4' && invokePath.test(splitUrl(connector.url).path);
}

export function prepareStream(call: UpstreamCall): UpstreamCall {
  const { path, rest } = splitUrl(call.url);
  if (!invokePath.test(path)) {
    throw badRequest(
      'A Bedrock InvokeModel connector URL must end with /invoke or /invoke-with-response-stream',
    );
  }
  // String surgery rather than `new URL()`: the model id in the path (`…-v1:0`, or `…-v1%3A0`)
  // and the query string go out exactly as the connector wrote them, and are signed that way.
  const url = path.endsWith('/invoke') ? `${path}-with-response-stream${rest}` : call.url;
  const headers = withHeader(
    withHeader(call.headers, 'content-type', 'application/json'),
    'accept',
    EVENT_STREAM,
  );
  return { ...call, method: 'POST', url, headers, body: prepareBody(call.body) };
}

function prepareBody(body: string): string {
  let request: unknown;
  try {
    request = JSON.parse(body);
  } catch {
    throw badRequest('The Bedrock InvokeModel request body is not valid JSON');
  }
  if (!isObject(request))
    throw badRequest('The Bedrock InvokeModel request body must be an object');
  // Bedrock requires the version in the body (the direct API takes it as a header), and refuses
  // `stream` as an extraneous key: the endpoint, not the body, selects streaming there. A
  // template written for the direct Anthropic API may carry it.
  const needsVersion = request['anthropic_version'] === undefined;
  const hasStream = 'stream' in request;
  if (!needsVersion && !hasStream) return body;
  const prepared = needsVersion ? { anthropic_version: ANTHROPIC_VERSION, ...request } : request;
  delete prepared['stream'];
  return JSON.stringify(prepared);
}

/** The URL up to its query or fragment, and the rest (empty when there is none). */
function splitUrl(url: string): { path: string; rest: string } {
  const end = url.search(/[?#]/);
  return end === -1 ? { path: url, rest: '' } : { path: url.slice(0, end), rest: url.slice(end) };
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
