/**
 * Parameter maps as ml-commons builds them before templating (reference §7.1, §7.2): every value
 * becomes a string, request values are JSON-escaped unless they are a JSON object or array, and
 * the sources are merged in the executor's order.
 *
 * Maps are plain objects built with spread / `Object.fromEntries` (never `map[key] = value`), so
 * a parameter named `__proto__` stays an ordinary own key instead of changing the prototype.
 */
import { escapeJson } from './escape.ts';

/** Request parameter listing (comma-separated) the keys whose values must not be escaped. */
export const noEscapeParametersKey = 'no_escape_params';

/**
 * ml-commons `StringUtils.getParameterMap`: strings are kept as they are; numbers, booleans,
 * arrays and objects become their JSON text (gson-style, e.g. a `messages` array becomes
 * `[{"role":"user",...}]`). `null` (and anything JSON cannot represent) is dropped.
 */
export function toParameterMap(input: Record<string, unknown>): Record<string, string> {
  const entries: [string, string][] = [];
  for (const [key, value] of Object.entries(input)) {
    const text = parameterText(value);
    if (text !== undefined) entries.push([key, text]);
  }
  return Object.fromEntries(entries);
}

function parameterText(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return value.toString();
  // Functions and symbols (never produced by JSON.parse) stringify to undefined and are dropped.
  return JSON.stringify(value);
}

/**
 * ml-commons `ConnectorUtils.escapeRemoteInferenceInputData`: a value that is a JSON object or
 * array (`isJson`) is kept raw so a template can splice it unquoted (`"messages": ${...}`);
 * every other value is `escapeJson`'ed without quotes, so templates write `"${parameters.x}"`.
 * Keys named in `no_escape_params` (comma-separated, trimmed) are never escaped.
 */
export function escapeRequestParameters(
  parameters: Record<string, string>,
): Record<string, string> {
  const noEscape = new Set(
    (ownValue(parameters, noEscapeParametersKey) ?? '').split(',').map((key) => key.trim()),
  );
  return Object.fromEntries(
    Object.entries(parameters).map(([key, value]): [string, string] => [
      key,
      isJson(value) || noEscape.has(key) ? value : escapeJson(value),
    ]),
  );
}

/**
 * `escapeRequestParameters(toParameterMap(input))` without parsing again what was just
 * serialised: an object or array of the request is JSON by construction, so its text is kept raw
 * without the `isJson` parse (a prompt's `messages` can be long, and this runs per request).
 */
export function requestParameterMap(input: Record<string, unknown>): Record<string, string> {
  const parameters = toParameterMap(input);
  const noEscape = new Set(
    (ownValue(parameters, noEscapeParametersKey) ?? '').split(',').map((key) => key.trim()),
  );
  return Object.fromEntries(
    Object.entries(parameters).map(([key, value]): [string, string] => {
      const original: unknown = input[key];
      const container = typeof original === 'object' && original !== null;
      return [key, container || isJson(value) || noEscape.has(key) ? value : escapeJson(value)];
    }),
  );
}

/**
 * The merge of `RemoteConnectorExecutor#preparePayloadAndInvoke` (reference §7.1): connector
 * parameters, then request parameters, then the pre-process function's output, then the request
 * parameters again, so a caller's value always wins.
 */
export function mergeParameters(
  connectorParameters: Record<string, string>,
  requestParameters: Record<string, string>,
  preProcessParameters?: Record<string, string>,
): Record<string, string> {
  return {
    ...connectorParameters,
    ...requestParameters,
    ...preProcessParameters,
    ...requestParameters,
  };
}

const startsLikeJsonContainer = /^[ \t\n\r]*[[{]/;

/**
 * ml-commons `StringUtils.isJson`: the text is a JSON object or array (scalars are not).
 *
 * Deliberately strict: Java parses with org.json and lenient gson, which also accept single
 * quotes, unquoted keys and similar. Sluice only treats standard JSON as JSON, because whatever
 * passes here is sent to a provider that needs standard JSON.
 */
export function isJson(text: string): boolean {
  // Cheap rejection first: most parameter values are prose and need no parse attempt.
  if (!startsLikeJsonContainer.test(text)) return false;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null;
  } catch {
    return false;
  }
}

/** Own-property read: `map[key]` would find `constructor` and friends on the prototype. */
export function ownValue(map: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}
