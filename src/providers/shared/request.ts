/**
 * Helpers for turning a templated call into a streaming one, for every provider's `request.ts`:
 * read the templated body, set headers whatever spelling the connector used, and take a URL
 * apart without re-encoding it. Nothing here knows a provider.
 */
import { badRequest } from '../../domain/errors.ts';
import { isObject, type JsonObject } from './json.ts';

/** The templated body as a JSON object; anything else is the caller's mistake (400). */
export function parseBodyObject(body: string, llmInterface: string): JsonObject {
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

/**
 * Sets headers, replacing any spelling of the same names the connector used. `values` are
 * keyed by lower-case name; they are added in their order, after the headers kept.
 */
export function withHeaders(
  headers: Record<string, string>,
  values: Record<string, string>,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, existing] of Object.entries(headers)) {
    if (!Object.hasOwn(values, key.toLowerCase())) result[key] = existing;
  }
  return Object.assign(result, values);
}

/** Sets one header, replacing any spelling of the same name the connector used. */
export function withHeader(
  headers: Record<string, string>,
  name: string,
  value: string,
): Record<string, string> {
  return withHeaders(headers, { [name]: value });
}

/** Whether a header is set, in any spelling of its (lower-case) name. */
export function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

/** The URL's path without a trailing slash; '' for a URL that does not parse. */
export function pathOf(url: string): string {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return '';
  }
  return path.endsWith('/') ? path.slice(0, -1) : path;
}

/**
 * The URL up to its query or fragment, and the rest (`?…#…`, empty when there is none). Plain
 * string surgery rather than `new URL()`, so that a rewritten URL goes out (and is signed)
 * exactly as the connector wrote it: a model id such as `…-v1:0` or `…-v1%3A0` in the path and
 * the query are not re-encoded.
 */
export function splitUrl(url: string): { path: string; rest: string } {
  const end = url.search(/[?#]/);
  return end === -1 ? { path: url, rest: '' } : { path: url.slice(0, end), rest: url.slice(end) };
}
