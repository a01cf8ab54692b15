/**
 * Reading the JSON of upstream events, for every decoder: parse a payload, guard its shape, read
 * typed fields. Nothing here knows a provider; each decoder names its own fields and events.
 *
 * The rule the readers follow: absent and `null` are both "not sent"; any other wrong type is a
 * malformed event (ServiceError `upstream_protocol`), never a silent skip. A decoder that must be
 * lenient on purpose (a provider's own error, whatever its shape) uses `isObject` and `textOf`.
 */
import { ErrorCode, ServiceError } from '../../domain/errors.ts';

export type JsonObject = { [key: string]: unknown };

/** The outcome of parsing JSON text, as a value (STYLE §3.5), for callers that do not throw. */
export type JsonResult = { success: true; value: unknown } | { success: false; error: unknown };

export function malformed(detail: string, cause?: unknown): ServiceError {
  return new ServiceError(
    ErrorCode.UpstreamProtocol,
    `Malformed event from the remote service: ${detail}`,
    cause === undefined ? {} : { cause },
  );
}

export function safeParseJson(text: string): JsonResult {
  try {
    return { success: true, value: JSON.parse(text) };
  } catch (error) {
    return { success: false, error };
  }
}

/** The malformed-event error for JSON that did not parse, with the parser's reason. */
export function invalidJson(error: unknown): ServiceError {
  const reason = error instanceof Error ? error.message : String(error);
  return malformed(`invalid JSON (${reason})`, error);
}

/** One event's JSON text as an object; `name` says what it is in the error (`the event`). */
export function parseJsonObject(text: string, name: string): JsonObject {
  const parsed = safeParseJson(text);
  if (!parsed.success) throw invalidJson(parsed.error);
  return asObject(parsed.value, name);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A binary payload (UTF-8 JSON) as an object; undefined when it is not valid UTF-8, not JSON or
 * not an object, for callers that word their own error or read the payload leniently.
 */
export function decodeJsonObject(payload: Uint8Array): JsonObject | undefined {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(payload));
  } catch {
    return undefined;
  }
  return isObject(value) ? value : undefined;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asObject(value: unknown, name: string): JsonObject {
  if (!isObject(value)) throw malformed(`${name} is not an object`);
  return value;
}

export function stringField(object: JsonObject, key: string): string | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw malformed(`"${key}" is not a string`);
  return value;
}

export function numberField(object: JsonObject, key: string): number | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw malformed(`"${key}" is not a number`);
  return value;
}

export function booleanField(object: JsonObject, key: string): boolean | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw malformed(`"${key}" is not a boolean`);
  return value;
}

export function objectField(object: JsonObject, key: string): JsonObject | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  return asObject(value, `"${key}"`);
}

export function arrayField(object: JsonObject, key: string): readonly unknown[] | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw malformed(`"${key}" is not an array`);
  return value;
}

export function requiredNumber(object: JsonObject, key: string): number {
  const value = numberField(object, key);
  if (value === undefined) throw malformed(`"${key}" is missing`);
  return value;
}

export function requiredObject(object: JsonObject, key: string): JsonObject {
  const value = objectField(object, key);
  if (value === undefined) throw malformed(`"${key}" is missing`);
  return value;
}

/** Lenient: a non-empty string, or undefined for anything else (for error texts of odd shape). */
export function textOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Lenient: a token count, 0 when it is not a number (optional cache counts). */
export function tokenCount(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}
