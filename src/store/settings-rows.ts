/**
 * Settings as both stores keep them: one row per (scope, key) with the value as JSON text.
 * Shared by the SQLite and PostgreSQL stores so both encode, order and decode alike.
 */
import { badRequest } from '../domain/errors.ts';
import type { SettingValue, StoredSettings } from '../domain/settings.ts';
import type { Store } from './store.ts';

export type SettingScope = keyof StoredSettings;
export type SettingsChange = Parameters<Store['updateSettings']>[0];

export interface SettingRow {
  scope: SettingScope;
  key: string;
  value: string;
}

/** One row to write: `value` null removes the key (back to its default). */
export interface SettingWrite {
  scope: SettingScope;
  key: string;
  value: string | null;
}

/**
 * The writes a change asks for, encoded before anything is written (a value JSON cannot carry
 * refuses the whole change) and sorted by scope and key, so concurrent changes lock rows in
 * the same order (PostgreSQL) and cannot deadlock each other.
 */
export function settingWrites(change: SettingsChange): SettingWrite[] {
  const writes: SettingWrite[] = [];
  for (const scope of ['persistent', 'transient'] as const) {
    const keys = Object.keys(change[scope]).sort();
    for (const key of keys) {
      const value = change[scope][key];
      if (value === undefined) continue;
      writes.push({ scope, key, value: value === null ? null : encodeSetting(key, value) });
    }
  }
  return writes;
}

function encodeSetting(key: string, value: SettingValue): string {
  // JSON would turn NaN and ±Infinity into null, so they would not round-trip.
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw badRequest(`Setting ${key} must be a finite number`);
  }
  return JSON.stringify(value);
}

export function settingsFromRows(rows: readonly SettingRow[]): StoredSettings {
  // Object.fromEntries defines own properties, so a key such as "__proto__" stays a key.
  const scope = (name: SettingScope): Record<string, SettingValue> =>
    Object.fromEntries(
      rows
        .filter((row) => row.scope === name)
        .map((row) => [row.key, JSON.parse(row.value) as SettingValue]),
    );
  return { persistent: scope('persistent'), transient: scope('transient') };
}
