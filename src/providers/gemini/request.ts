/**
 * The Gemini streaming call: `…:generateContent` becomes `…:streamGenerateContent`, with
 * `alt=sse` in the query (without it Gemini streams one JSON array instead of server-sent
 * events). The rest of the query, e.g. `key=`, is kept as written.
 * @see https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
 */
import { badRequest } from '../../domain/errors.ts';
import type { ConnectorFacts, UpstreamCall } from '../../domain/provider.ts';
import { isObject, type JsonObject } from '../shared/json.ts';
import { parseBodyObject, splitUrl, withHeader } from '../shared/request.ts';

// Some clients percent-encode the `:` before the method name; both spellings are Gemini's.
const methodPattern = /(:|%3A)(?:streamGenerateContent|generateContent)$/i;

export function matches(connector: ConnectorFacts): boolean {
  return methodPattern.test(splitUrl(connector.url).path);
}

export function prepareStream(call: UpstreamCall, llmInterface: string): UpstreamCall {
  const { path, rest } = splitUrl(call.url);
  const { query, fragment } = splitRest(rest);
  const method = methodPattern.exec(path);
  if (method === null) {
    throw badRequest(
      'A Gemini connector URL must end with :generateContent or :streamGenerateContent',
    );
  }
  const streamPath = `${path.slice(0, method.index)}${method[1]}streamGenerateContent`;
  const parameters = query === '' ? [] : query.split('&');
  const kept = parameters.filter(
    (parameter) => parameter !== 'alt' && !parameter.startsWith('alt='),
  );
  const url = `${streamPath}?${[...kept, 'alt=sse'].join('&')}${fragment}`;
  checkSingleCandidate(parseBodyObject(call.body, llmInterface));
  return {
    ...call,
    method: 'POST',
    url,
    headers: withHeader(call.headers, 'accept', 'text/event-stream'),
  };
}

/** Only the first candidate is streamed, so asking for more would silently lose the others. */
function checkSingleCandidate(request: JsonObject): void {
  const config = request['generationConfig'];
  const count = isObject(config) ? config['candidateCount'] : undefined;
  if (typeof count === 'number' && count > 1) {
    throw badRequest(
      'Streaming supports one candidate only; remove generationConfig.candidateCount',
    );
  }
}

/** A URL's query (without `?`) and fragment (with `#`, or empty), from what follows its path. */
function splitRest(rest: string): { query: string; fragment: string } {
  const hash = rest.indexOf('#');
  const beforeFragment = hash === -1 ? rest : rest.slice(0, hash);
  return {
    query: beforeFragment.startsWith('?') ? beforeFragment.slice(1) : '',
    fragment: hash === -1 ? '' : rest.slice(hash),
  };
}
