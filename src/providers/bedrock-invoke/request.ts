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
import { eventStreamCall } from '../bedrock-converse/request.ts';
import { parseBodyObject, splitUrl } from '../shared/request.ts';

const ANTHROPIC_VERSION = 'bedrock-2023-05-31';
const invokePath = /\/invoke(?:-with-response-stream)?$/;

export function matches(connector: ConnectorFacts): boolean {
  return connector.protocol === 'aws_sigv4' && invokePath.test(splitUrl(connector.url).path);
}

export function prepareStream(call: UpstreamCall, llmInterface: string): UpstreamCall {
  const { path, rest } = splitUrl(call.url);
  if (!invokePath.test(path)) {
    throw badRequest(
      'A Bedrock InvokeModel connector URL must end with /invoke or /invoke-with-response-stream',
    );
  }
  // The model id (`…-v1:0`, or `…-v1%3A0`) and the query go out, and are signed, as written.
  const url = path.endsWith('/invoke') ? `${path}-with-response-stream${rest}` : call.url;
  return eventStreamCall(call, url, prepareBody(call.body, llmInterface));
}

function prepareBody(body: string, llmInterface: string): string {
  const request = parseBodyObject(body, llmInterface);
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
