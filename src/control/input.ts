/**
 * Small readers for untyped JSON request bodies. ml-commons parsers accept loosely typed values
 * (a number where text is expected becomes text) and skip unknown fields; these helpers do the
 * same coercions, and give a 400 naming the field when a value cannot be coerced.
 */
import { badRequest } from '../domain/errors.ts';

export type JsonObject = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requireObject(value: unknown, name: string): JsonObject {
  if (!isRecord(value)) throw badRequest(`${name} must be a JSON object`);
  return value;
}

export function optionalObject(value: unknown, name: string): JsonObject | undefined {
  if (value === undefined || value === null) return undefined;
  return requireObject(value, name);
}

/** Text field: strings as they are, numbers and booleans as their text. */
export function optionalText(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw badRequest(`${name} must be a string`);
}

export function requireText(value: unknown, name: string): string {
  const text = optionalText(value, name);
  if (text === undefined || text.trim() === '') throw badRequest(`${name} is required`);
  return text;
}

export function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw badRequest(`${name} must be true or false`);
}

export function optionalNumber(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) {
    throw badRequest(`${name} must be a number`);
  }
  return number;
}

export function optionalStringList(value: unknown, name: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw badRequest(`${name} must be a list of strings`);
  }
  return value;
}

/** ml-commons getParameterMap for maps of text: non-string JSON values become JSON text. */
export function textMap(value: unknown, name: string): Record<string, string> | undefined {
  const object = optionalObject(value, name);
  if (object === undefined) return undefined;
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(object)) {
    if (item === undefined || item === null) continue;
    result[key] = typeof item === 'string' ? item : JSON.stringify(item);
  }
  return result;
}

/** Drops keys whose value is undefined, so documents satisfy exactOptionalPropertyTypes. */
export function compact<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}
