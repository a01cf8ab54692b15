/**
 * The ConverseStream call: the connector's `…/converse` URL becomes `…/converse-stream`, and the
 * templated body is sent as the ConverseStream request.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
 *
 * Unlike ml-commons, which rebuilds the request from `system`, `messages`, `toolConfig` and
 * `guardrailConfig` only (dropping `inferenceConfig` and `additionalModelRequestFields`), every
 * field of the body is kept. Signing is not done here: the core signs the final call.
 */
import { badRequest } from '../../domain/errors.ts';
import type { ConnectorFacts, UpstreamCall } from '../../domain/provider.ts';
import { isObject } from '../shared/json.ts';
import { parseBodyObject, splitUrl, withHeaders } from '../shared/request.ts';

const EVENT_STREAM = 'application/vnd.amazon.eventstream';
const conversePath = /\/converse(?:-stream)?$/;

export function matches(connector: ConnectorFacts): boolean {
  return connector.protocol === 'aws_sigv4' && conversePath.test(splitUrl(connector.url).path);
}

export function prepareStream(call: UpstreamCall, llmInterface: string): UpstreamCall {
  const { path, rest } = splitUrl(call.url);
  if (!conversePath.test(path)) {
    throw badRequest(
      'A Bedrock Converse connector URL must end with /converse or /converse-stream',
    );
  }
  // The model id (`…-v1:0`, or `…-v1%3A0`) and the query go out, and are signed, as written.
  const url = path.endsWith('-stream') ? call.url : `${path}-stream${rest}`;
  return eventStreamCall(call, url, prepareBody(call.body, llmInterface));
}

/**
 * A Bedrock runtime streaming call: a POST of JSON, answered with an AWS event stream. Shared
 * with bedrock-invoke, whose InvokeModelWithResponseStream is called the same way.
 */
export function eventStreamCall(call: UpstreamCall, url: string, body: string): UpstreamCall {
  const headers = withHeaders(call.headers, {
    'content-type': 'application/json',
    accept: EVENT_STREAM,
  });
  return { ...call, method: 'POST', url, headers, body };
}

/**
 * The ml-commons Bedrock blueprint writes content blocks as `{"type":"text","text":…}` (the
 * OpenAI/Anthropic spelling). ml-commons reads only `text`, so those blueprints work there, but
 * Bedrock answers a ValidationException for the unknown `type` key. Dropping `type` from blocks
 * that carry `text` keeps those blueprints working; every other key is sent unchanged.
 */
function prepareBody(body: string, llmInterface: string): string {
  const request = parseBodyObject(body, llmInterface);
  let changed = stripTextBlockTypes(request['system']);
  const messages = request['messages'];
  if (Array.isArray(messages)) {
    for (const message of messages) {
      if (!isObject(message)) continue;
      const content = message['content'];
      if (stripTextBlockTypes(content)) changed = true;
      if (!Array.isArray(content)) continue;
      // Tool results nest content blocks of their own, written the same way by templates.
      for (const block of content) {
        const toolResult = isObject(block) ? block['toolResult'] : undefined;
        if (isObject(toolResult) && stripTextBlockTypes(toolResult['content'])) changed = true;
      }
    }
  }
  // Re-serialised only when something changed, so a body Bedrock accepts goes out byte for byte.
  return changed ? JSON.stringify(request) : body;
}

/** Removes `type` from every block of `blocks` that has a string `text`; true if any changed. */
function stripTextBlockTypes(blocks: unknown): boolean {
  if (!Array.isArray(blocks)) return false;
  let changed = false;
  for (const block of blocks) {
    if (isObject(block) && typeof block['text'] === 'string' && 'type' in block) {
      delete block['type'];
      changed = true;
    }
  }
  return changed;
}
