/**
 * Request body, URL and header templating of an ml-commons HTTP connector action
 * (`HttpConnector#createPayload`, `Connector#validatePayload`, `getActionEndpoint`, decrypted
 * headers), reference §7.3. Parameters arrive already merged and escaped (see parameters.ts).
 */
import { badRequest } from '../domain/errors.ts';
import { escapeGsonString } from './escape.ts';
import { isJson, ownValue } from './parameters.ts';
import { findPlaceholderNames, substitute } from './template.ts';

const parametersPrefix = '${parameters.';
const credentialPrefix = '${credential.';

/** Parameter that turns off the "placeholder not filled" check (`Boolean.parseBoolean` in Java). */
export const skipValidationKey = 'skip_validating_missing_parameters';

/**
 * Headers that may hold only connector-defined values: a request parameter must not be able to
 * set credentials, cookies, the target host or client-address headers.
 */
export const sensitiveHeaderNames: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
  'x-auth-token',
  'x-auth-header',
  'x-forwarded-for',
  'x-real-ip',
  'x-client-ip',
  'cf-connecting-ip',
  'true-client-ip',
  'x-originating-ip',
  'host',
  'x-forwarded-host',
  'x-forwarded-server',
  'forwarded',
]);

/**
 * Builds the request body from an action's `request_body` template, then validates it:
 * 1. `"${parameters.x:-null}"` (quoted) becomes bare `null` when `x` is absent;
 * 2. `${parameters.P.toString()}` found in parameter values gets its synthetic value;
 * 3. substitution; the result must be JSON or NDJSON, else `Invalid payload: <payload>`;
 * 4. unless `skip_validating_missing_parameters` is `true`, a remaining `${parameters.…}` fails
 *    with `Some parameter placeholder not filled in payload: a, b`.
 */
export function createPayload(requestBody: string, parameters: Record<string, string>): string {
  const template = fillNullParameters(requestBody, parameters);
  const payload = substitute(template, addToStringParameters(parameters), parametersPrefix);
  // A missing parameter usually also breaks the JSON; naming the parameter is the clearer of
  // the two errors, so it is checked first (ml-commons checks JSON first).
  if (ownValue(parameters, skipValidationKey)?.toLowerCase() !== 'true') {
    const missing = findPlaceholderNames(payload, parametersPrefix);
    if (missing.length > 0) {
      throw badRequest(`Some parameter placeholder not filled in payload: ${missing.join(', ')}`);
    }
  }
  if (!isJsonOrNdjson(payload)) throw badRequest(`Invalid payload: ${abbreviate(payload)}`);
  return payload;
}

/** `getActionEndpoint`: the action URL with parameters substituted; every placeholder must fill. */
export function buildUrl(url: string, parameters: Record<string, string>): string {
  const endpoint = substitute(url, parameters, parametersPrefix);
  const missing = findPlaceholderNames(endpoint, parametersPrefix);
  if (missing.length > 0) {
    throw badRequest(`Some parameter placeholder not filled in url: ${missing.join(', ')}`);
  }
  return endpoint;
}

/**
 * Header values: `${credential.x}` first (as ml-commons does, so a request parameter can never
 * smuggle in a credential reference), then `${parameters.x}` for non-sensitive headers only.
 * No error message quotes a header value: after the first step it may hold a secret.
 */
export function buildHeaders(
  headers: Record<string, string> | undefined,
  parameters: Record<string, string>,
  credential: Record<string, string>,
): Record<string, string> {
  if (headers === undefined) return {};
  return Object.fromEntries(
    Object.entries(headers).map(([name, template]): [string, string] => [
      name,
      buildHeader(name, template, parameters, credential),
    ]),
  );
}

function buildHeader(
  name: string,
  template: string,
  parameters: Record<string, string>,
  credential: Record<string, string>,
): string {
  const sensitive = sensitiveHeaderNames.has(name.toLowerCase());
  if (sensitive && template.includes(parametersPrefix)) {
    throw badRequest(
      `Header '${name}' is a sensitive header and cannot use \${parameters.*} placeholders`,
    );
  }
  let value: string;
  try {
    value = substitute(template, credential, credentialPrefix);
    if (!sensitive) value = substitute(value, parameters, parametersPrefix);
  } catch {
    // The substitution error names variables, which here may come from credential values.
    throw badRequest(
      `Header '${name}' contains placeholders that reference each other in a loop or expand too far`,
    );
  }
  if (value.includes(credentialPrefix) || value.includes(parametersPrefix)) {
    throw badRequest(
      `Header '${name}' contains unresolved placeholder. Required parameter is missing.`,
    );
  }
  // A raw line break would split the header; OkHttp refuses it in ml-commons too.
  if (value.includes('\r') || value.includes('\n') || value.includes('\u0000')) {
    throw badRequest(`Header '${name}' contains a line break or NUL character`);
  }
  return value;
}

const nullDefaultPattern = /"\$\{parameters\.(\w+):-null\}"/g;

/**
 * `HttpConnector#fillNullParameters`: a quoted `"${parameters.x:-null}"` whose `x` is absent
 * becomes bare `null`, so optional fields send JSON null instead of the string "null". Names
 * are `\w+` (ASCII word characters) exactly as in Java; other names keep the quoted default.
 */
export function fillNullParameters(template: string, parameters: Record<string, string>): string {
  return template.replace(nullDefaultPattern, (match, name: string) =>
    Object.hasOwn(parameters, name) ? match : 'null',
  );
}

const toStringStart = '${parameters.';
const toStringEnd = '.toString()}';
/** Java's `.` without DOTALL: everything but these line terminators. */
const javaLineTerminator = /[\n\r\u0085\u2028\u2029]/g;

/**
 * `StringUtils.parseParameters`: for each `${parameters.P.toString()}` inside a parameter
 * *value* (not the body template), adds `P.toString()` = the gson-escaped value of `P`.
 * Returns a new map; the input is not changed.
 */
export function addToStringParameters(parameters: Record<string, string>): Record<string, string> {
  const additions: [string, string][] = [];
  for (const value of Object.values(parameters)) {
    for (const name of collectToStringPrefixes(value)) {
      const target = ownValue(parameters, name);
      if (target !== undefined) additions.push([`${name}.toString()`, escapeGsonString(target)]);
    }
  }
  return additions.length === 0 ? parameters : { ...parameters, ...Object.fromEntries(additions) };
}

/**
 * Matches of Java's `\$\{parameters\.(.+?)\.toString\(\)\}`, found in linear time. Like the
 * lazy regex, a match starts at the first `${parameters.` and ends at the first following
 * `.toString()}` on the same line, so `${parameters.a} ${parameters.b.toString()}` yields the
 * name `a} ${parameters.b` (which matches no parameter), exactly as ml-commons does.
 */
export function collectToStringPrefixes(value: string): string[] {
  const names: string[] = [];
  let from = 0;
  let nextEnd = -2;
  let nextLineBreak = -2;
  for (;;) {
    const start = value.indexOf(toStringStart, from);
    if (start === -1) break;
    const nameStart = start + toStringStart.length;
    // `.+?` needs at least one character before the closing `.toString()}`.
    if (nextEnd !== -1 && nextEnd < nameStart + 1)
      nextEnd = value.indexOf(toStringEnd, nameStart + 1);
    if (nextEnd === -1) break;
    if (nextLineBreak !== -1 && nextLineBreak < nameStart) {
      javaLineTerminator.lastIndex = nameStart;
      nextLineBreak = javaLineTerminator.exec(value)?.index ?? -1;
    }
    if (nextLineBreak !== -1 && nextLineBreak < nextEnd) {
      from = start + 1;
      continue;
    }
    names.push(value.slice(nameStart, nextEnd));
    from = nextEnd + toStringEnd.length;
  }
  return names;
}

/** The body must be one JSON object/array, or NDJSON: one per non-blank line. */
export function isJsonOrNdjson(payload: string): boolean {
  if (isJson(payload)) return true;
  const lines = payload.split('\n').filter((line) => line.trim().length > 0);
  return lines.length > 0 && lines.every((line) => isJson(line));
}

/** The payload is the caller's own input, but a multi-megabyte echo helps nobody. */
function abbreviate(text: string): string {
  const limit = 2000;
  return text.length <= limit ? text : `${text.slice(0, limit)}… (${text.length} characters)`;
}
