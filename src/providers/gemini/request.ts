/**
 * The Gemini streaming call: `…:generateContent` becomes `…:streamGenerateContent`, with
 * `alt=sse` in the query (without it Gemini streams one JSON array instead of server-sent
 * events). The rest of the query, e.g. `key=`, is kept as written.
 * @see https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
 */
import { badRequest } from '../../domain/errors.ts';
import type { ConnectorFacts, UpstreamCall } from '../../domain/provider.ts';

// Some clients percent-encode the `:` before the method name; both spellings are Gemini's.
const methodPattern = /(:|%3A)(?:streamGenerateContent|generateContent)$/i;

export function matches(connector: ConnectorFacts): boolean {
  return methodPattern.test(splitUrl(connector.url).path);
}

export function prepareStream(call: UpstreamCall): UpstreamCall {
  const { path, query, fragment } = splitUrl(call.url);
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
  checkSingleCandidate(call.body);
  return {
    ...call,
    method: 'POST',
    url,
    headers: withHeader(call.headers, 'accept', 'text/event-stream'),
  };
}

/** Only the first candidate is streamed, so asking for more would silently lose the others. */
function checkSingleCandidate(body: string): void {
  let request: unknown;
  try {
    request = JSON.parse(body);
  } catch {
    throw badRequest('The Gemini request body is not valid JSON');
  }
  if (!isObject(request)) throw badRequest('The Gemini request body must be an object');
  const config = request['generationConfig'];
  const count = isObject(config) ? config['candidateCount'] : undefined;
  if (typeof count === 'number' && count > 1) {
    throw badRequest(
      'Streaming supports one candidate only; remove generationConfig.candidateCount',
    );
  }
}

/** The URL's path part, its query (without `?`) and its fragment (with `#`, or empty). */
function splitUrl(url: string): { path: string; query: string; fragment: string } {
  const hash = url.indexOf('#');
  const beforeFragment = hash === -1 ? url : url.slice(0, hash);
  const fragment = hash === -1 ? '' : url.slice(hash);
  const question = beforeFragment.indexOf('?');
  if (question === -1) return { path: beforeFragment, query: '', fragment };
  return {
    path: beforeFragment.slice(0, question),
    query: beforeFragment.slice(question + 1),
    fragment,
  };
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
