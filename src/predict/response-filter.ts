/**
 * `response_filter` (JSONPath) evaluation and ModelTensor wrapping for non-streaming `_predict`
 * (ml-commons-reference.md §6.4, DEPENDENCIES.md §7).
 *
 * ml-commons reads the filter with Jayway JsonPath (`ConnectorUtils.processOutput`), so this module
 * reproduces Jayway's observable semantics on top of json-p3 (RFC 9535):
 * - a definite path (only names and single indexes, e.g. `$.a.b[0].c`) yields the value itself;
 *   json-p3's `singularQuery()` is exactly that class of paths;
 * - any other path (wildcards, filters, slices, unions, `..`) yields an array of all matches,
 *   possibly empty;
 * - a definite path that matches nothing is an error: Jayway throws `PathNotFoundException`
 *   ("No results for path: $['a']['b']") and ml-commons fails the whole predict call with it
 *   (`MLSdkAsyncHttpResponseHandler` turns it into "Fail to execute predict …", HTTP 500). Sluice
 *   answers 502 `upstream_protocol`, because the provider's answer lacks what the connector expects;
 * - Jayway's leniencies are kept: surrounding whitespace is ignored and a path without a leading
 *   `$` is read relative to the root (`choices[0].text` means `$.choices[0].text`). Jayway's
 *   `[?(@.type=='text')]` filter brackets are accepted as well as RFC 9535's `[?@.type=='text']`.
 *
 * The filter may come from request parameters, so it is untrusted: its length is bounded, the
 * regular-expression functions `match()`/`search()` are removed (backtracking regexes can pin a CPU;
 * Jayway's own regex operator `=~` has no json-p3 equivalent anyway), and json-p3 bounds how deep
 * `..` may descend.
 */

import { JSONPathEnvironment, type JSONPathQuery, type JSONValue } from 'json-p3';
import { badRequest, ErrorCode, ServiceError } from '../domain/errors.ts';
import type { ModelTensor } from '../domain/inference.ts';

/** Longest accepted filter; real filters are a few dozen characters. */
export const MAX_RESPONSE_FILTER_LENGTH = 2048;

/** Distinct compiled filters kept; connectors reuse a handful, so this only bounds abuse. */
const COMPILED_FILTER_CACHE_SIZE = 256;

const environment = new JSONPathEnvironment();
environment.functionRegister.delete('match');
environment.functionRegister.delete('search');

const compiledFilters = new Map<string, JSONPathQuery>();

const unsupportedSyntaxHint =
  'Sluice evaluates response_filter as RFC 9535 JSONPath and also accepts Jayway filter brackets ' +
  "[?(@.x=='y')]; Jayway-only functions and operators such as .length(), =~, in and nin are not " +
  'supported';

/**
 * Applies a `response_filter` JSONPath to an already parsed provider response, with Jayway
 * semantics (see the module comment): the value for a definite path, an array for any other path.
 *
 * @throws ServiceError `bad_request` when the filter is empty, too long or not valid JSONPath;
 *   `upstream_protocol` when a definite path matches nothing or the response cannot be walked.
 */
export function applyResponseFilter(response: unknown, filter: string): unknown {
  const query = compileResponseFilter(filter);
  let values: JSONValue[];
  try {
    // Parsed JSON is JSONValue by construction; `undefined` (no body) simply matches nothing.
    values = response === undefined ? [] : query.query(response as JSONValue).values();
  } catch (error) {
    throw new ServiceError(
      ErrorCode.UpstreamProtocol,
      `response_filter "${filter}" could not be applied to the remote model response: ${describe(error)}`,
      { cause: error },
    );
  }
  if (!query.singularQuery()) return values;
  if (values.length === 0) {
    throw new ServiceError(
      ErrorCode.UpstreamProtocol,
      `response_filter "${filter}" found nothing in the remote model response (No results for path: ` +
        `${query.toString({ form: 'canonical' })}); check the filter against the provider's response`,
    );
  }
  return values[0];
}

/**
 * Compiles (and caches) a filter, so connector validation can reject a bad `response_filter`
 * before any provider is called.
 *
 * @throws ServiceError `bad_request` with the parser's reason.
 */
export function compileResponseFilter(filter: string): JSONPathQuery {
  const cached = compiledFilters.get(filter);
  if (cached !== undefined) {
    // Re-insert so the Map's insertion order doubles as least-recently-used order.
    compiledFilters.delete(filter);
    compiledFilters.set(filter, cached);
    return cached;
  }
  if (typeof filter !== 'string' || filter.trim() === '') {
    throw badRequest('response_filter must be a non-empty JSONPath such as $.choices[0].text');
  }
  if (filter.length > MAX_RESPONSE_FILTER_LENGTH) {
    throw badRequest(
      `response_filter is ${filter.length} characters long; at most ${MAX_RESPONSE_FILTER_LENGTH} are allowed`,
    );
  }
  let query: JSONPathQuery;
  try {
    query = environment.compile(toRootedPath(filter));
  } catch (error) {
    // Includes RangeError from absurdly nested filter expressions: still the caller's input.
    throw badRequest(
      `response_filter "${filter}" is not a valid JSONPath: ${describe(error)}. ${unsupportedSyntaxHint}`,
      { cause: error },
    );
  }
  if (compiledFilters.size >= COMPILED_FILTER_CACHE_SIZE) {
    const leastRecent = compiledFilters.keys().next();
    if (leastRecent.done !== true) compiledFilters.delete(leastRecent.value);
  }
  compiledFilters.set(filter, query);
  return query;
}

/** Jayway's `PathCompiler` trims the path and reads one not starting with `$` from the root. */
function toRootedPath(filter: string): string {
  const trimmed = filter.trim();
  if (trimmed.startsWith('$')) return trimmed;
  if (trimmed.startsWith('@')) return `$${trimmed.slice(1)}`;
  if (trimmed.startsWith('[')) return `$${trimmed}`;
  return `$.${trimmed}`;
}

/**
 * Wraps a (filtered) provider response as the one output tensor of a non-streaming predict, as
 * ml-commons' `AbstractConnector#parseResponse` does (§6.4): an object becomes `dataAsMap`, an
 * array becomes `{ response: [...] }`, anything else `{ response: value }`.
 *
 * Like ml-commons, a string holding a JSON object or array is parsed first (`StringUtils.isJson`
 * then `fromJson`): a `$.choices[0].message.content` that reads `{"a":1}` yields
 * `dataAsMap: { a: 1 }`. Only strict JSON counts here; ml-commons' org.json check also accepts
 * lenient forms such as unquoted keys.
 */
export function toModelTensor(value: unknown, name = 'response'): ModelTensor {
  const parsed = typeof value === 'string' ? parseJsonContainer(value) : value;
  if (isPlainObject(parsed)) return { name, dataAsMap: parsed };
  return { name, dataAsMap: { response: parsed === undefined ? null : parsed } };
}

function parseJsonContainer(text: string): unknown {
  const trimmed = text.trim();
  if (!(trimmed.startsWith('{') || trimmed.startsWith('['))) return text;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return text;
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
