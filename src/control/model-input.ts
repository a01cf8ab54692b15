/** Reading the model fields of register and update bodies (reference §6.2, §6.3). */
import { badRequest } from '../domain/errors.ts';
import { type ModelDocument, type RateLimiter, type TimeUnit, timeUnits } from '../domain/model.ts';
import {
  type JsonObject,
  optionalBoolean,
  optionalObject,
  optionalText,
  requireText,
} from './input.ts';

export interface ModelFields {
  name?: string;
  description?: string;
  model_group_id?: string;
  is_enabled?: boolean;
  rate_limiter?: Partial<RateLimiter>;
  interface?: Record<string, unknown>;
  guardrails?: unknown;
  deploy_setting?: unknown;
}

export function readModelFields(input: JsonObject, mode: 'create' | 'update'): ModelFields {
  const fields: ModelFields = {};
  const name =
    mode === 'create' ? requireText(input['name'], 'name') : optionalText(input['name'], 'name');
  if (name !== undefined) fields.name = name;
  const description = optionalText(input['description'], 'description');
  if (description !== undefined) fields.description = description;
  const groupId = optionalText(input['model_group_id'], 'model_group_id');
  if (groupId !== undefined) fields.model_group_id = groupId;
  const enabled = optionalBoolean(input['is_enabled'], 'is_enabled');
  if (enabled !== undefined) fields.is_enabled = enabled;
  const rateLimiter = readRateLimiter(input['rate_limiter']);
  if (rateLimiter !== undefined) fields.rate_limiter = rateLimiter;
  const modelInterface = readInterface(input['interface']);
  if (modelInterface !== undefined) fields.interface = modelInterface;
  if (input['guardrails'] !== undefined) fields.guardrails = input['guardrails'];
  if (input['deploy_setting'] !== undefined) fields.deploy_setting = input['deploy_setting'];
  return fields;
}

/** Applies fields to a document; a rate limiter update merges with the stored one. */
export function applyModelUpdate(document: ModelDocument, fields: ModelFields): void {
  if (fields.name !== undefined) document.name = fields.name;
  if (fields.description !== undefined) document.description = fields.description;
  if (fields.model_group_id !== undefined) document.model_group_id = fields.model_group_id;
  if (fields.is_enabled !== undefined) document.is_enabled = fields.is_enabled;
  if (fields.interface !== undefined) document.interface = fields.interface;
  if (fields.guardrails !== undefined) document.guardrails = fields.guardrails;
  if (fields.deploy_setting !== undefined) document.deploy_setting = fields.deploy_setting;
  if (fields.rate_limiter !== undefined) {
    const merged = { ...document.rate_limiter, ...fields.rate_limiter };
    if (merged.limit === undefined || merged.unit === undefined) {
      throw badRequest('rate_limiter needs both limit and unit');
    }
    document.rate_limiter = { limit: merged.limit, unit: merged.unit };
  }
}

function readRateLimiter(value: unknown): Partial<RateLimiter> | undefined {
  const input = optionalObject(value, 'rate_limiter');
  if (input === undefined) return undefined;
  const limiter: Partial<RateLimiter> = {};
  const limit = optionalText(input['limit'], 'rate_limiter.limit');
  if (limit !== undefined) {
    const number = Number(limit);
    if (limit.trim() === '' || !Number.isFinite(number) || number < 0) {
      throw badRequest('rate_limiter.limit must be a non-negative number');
    }
    limiter.limit = limit;
  }
  const unit = optionalText(input['unit'], 'rate_limiter.unit');
  if (unit !== undefined) {
    const upper = unit.toUpperCase();
    if (!(timeUnits as readonly string[]).includes(upper)) {
      throw badRequest(`rate_limiter.unit must be one of ${timeUnits.join(', ')}`);
    }
    limiter.unit = upper as TimeUnit;
  }
  return limiter;
}

/**
 * `interface.input` / `interface.output` hold JSON schemas as text, as ml-commons stores them; they
 * must at least parse. A schema given as a JSON object is stored as its text, so that predict
 * requests find it ready to look up (see predict/input-schema.ts).
 */
function readInterface(value: unknown): Record<string, unknown> | undefined {
  const input = optionalObject(value, 'interface');
  if (input === undefined) return undefined;
  const stored = { ...input };
  for (const key of ['input', 'output']) {
    const schema = input[key];
    if (schema === undefined || schema === null) continue;
    const text = typeof schema === 'string' ? schema : JSON.stringify(schema);
    try {
      JSON.parse(text);
    } catch {
      throw badRequest(`interface.${key} must be a JSON schema`);
    }
    stored[key] = text;
  }
  return stored;
}
