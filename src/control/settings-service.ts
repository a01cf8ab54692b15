/**
 * `PUT|GET /_cluster/settings` for the `plugins.ml_commons.*` keys Sluice honours. Values are
 * validated by kind, stored, and kept in memory as effective settings, which the hot path reads
 * synchronously. Bodies may use flat (`"plugins.ml_commons.stream_enabled"`) or nested keys.
 */

import { badRequest } from '../domain/errors.ts';
import { slowPatternReason } from '../domain/regex-screen.ts';
import {
  type EffectiveSettings,
  effectiveSettings,
  isSettingKey,
  type SettingValue,
  type StoredSettings,
  settingDefinitions,
} from '../domain/settings.ts';
import type { Store } from '../store/store.ts';
import { isRecord } from './input.ts';

type Scope = 'persistent' | 'transient';
type NestedSettings = { [key: string]: string | string[] | NestedSettings };

export class SettingsService {
  readonly #store: Store;
  #stored: StoredSettings = { persistent: {}, transient: {} };
  #effective: EffectiveSettings = effectiveSettings(this.#stored);

  constructor(store: Store) {
    this.#store = store;
  }

  /** Loads stored settings; call once at start (and whenever another node may have changed them). */
  async refresh(): Promise<void> {
    this.#apply(await this.#store.getSettings());
  }

  current(): EffectiveSettings {
    return this.#effective;
  }

  async update(body: unknown): Promise<{
    acknowledged: true;
    persistent: NestedSettings;
    transient: NestedSettings;
  }> {
    if (!isRecord(body)) throw badRequest('The request body must be a JSON object');
    for (const key of Object.keys(body)) {
      if (key !== 'persistent' && key !== 'transient') {
        throw badRequest(
          `request body contains unknown section [${key}]; use persistent or transient`,
        );
      }
    }
    const change = {
      persistent: readScope(body['persistent'], 'persistent'),
      transient: readScope(body['transient'], 'transient'),
    };
    this.#apply(await this.#store.updateSettings(change));
    return {
      acknowledged: true,
      persistent: nest(change.persistent),
      transient: nest(change.transient),
    };
  }

  view(options: { flat: boolean; includeDefaults: boolean }): Record<string, unknown> {
    const shape = (values: Record<string, SettingValue | null>) =>
      options.flat ? asText(values) : nest(values);
    const result: Record<string, unknown> = {
      persistent: shape(this.#stored.persistent),
      transient: shape(this.#stored.transient),
    };
    if (options.includeDefaults) {
      result['defaults'] = shape(
        Object.fromEntries(
          Object.entries(settingDefinitions).map(([key, definition]) => [
            key,
            definition.defaultValue,
          ]),
        ),
      );
    }
    return result;
  }

  #apply(stored: StoredSettings): void {
    this.#stored = stored;
    this.#effective = effectiveSettings(stored);
  }
}

/** Node settings of ml-commons (opensearch.yml only): known, but never changed through the API. */
const nodeSettingKeys = new Set(['plugins.ml_commons.connector.restricted_ip_patterns']);

function readScope(value: unknown, scope: Scope): Record<string, SettingValue | null> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw badRequest(`[${scope}] must be a JSON object`);
  const flat: Record<string, SettingValue | null> = {};
  flatten(value, '', flat, scope);
  return flat;
}

function flatten(
  object: Record<string, unknown>,
  prefix: string,
  into: Record<string, SettingValue | null>,
  scope: Scope,
): void {
  for (const [key, value] of Object.entries(object)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (isRecord(value)) {
      flatten(value, path, into, scope);
      continue;
    }
    if (nodeSettingKeys.has(path)) {
      // OpenSearch's answer for a final (node) setting; Sluice sets it with a flag (config.ts).
      throw badRequest(`final ${scope} setting [${path}], not updateable`);
    }
    if (!isSettingKey(path)) {
      throw badRequest(`${scope} setting [${path}], not recognized`);
    }
    into[path] = value === null ? null : coerce(path, value);
  }
}

function coerce(key: keyof typeof settingDefinitions, value: unknown): SettingValue {
  const definition = settingDefinitions[key];
  const invalid = () =>
    badRequest(`Failed to parse value [${JSON.stringify(value)}] for setting [${key}]`);
  switch (definition.kind) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      throw invalid();
    case 'integer': {
      const number = typeof value === 'string' ? Number(value) : value;
      if (typeof number !== 'number' || !Number.isInteger(number) || number < -1) throw invalid();
      return number;
    }
    case 'list': {
      const list = typeof value === 'string' ? [value] : value;
      if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) throw invalid();
      for (const pattern of list) {
        try {
          new RegExp(pattern);
        } catch {
          throw badRequest(`Invalid regular expression [${pattern}] for setting [${key}]`);
        }
        const slow = slowPatternReason(pattern);
        if (slow !== undefined) {
          throw badRequest(
            `Regular expression [${pattern}] for setting [${key}] may take exponential time: ${slow}`,
          );
        }
      }
      return list;
    }
  }
}

/** OpenSearch shows setting values as text (lists as lists of text). */
function asText(values: Record<string, SettingValue | null>): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === null) continue;
    result[key] = Array.isArray(value) ? value : String(value);
  }
  return result;
}

function nest(values: Record<string, SettingValue | null>): NestedSettings {
  const root: NestedSettings = {};
  for (const [key, value] of Object.entries(asText(values))) {
    const segments = key.split('.');
    let node = root;
    for (const segment of segments.slice(0, -1)) {
      const next = node[segment];
      if (next === undefined || typeof next === 'string' || Array.isArray(next)) {
        const created: NestedSettings = {};
        node[segment] = created;
        node = created;
      } else {
        node = next;
      }
    }
    node[segments.at(-1) ?? key] = value;
  }
  return root;
}
