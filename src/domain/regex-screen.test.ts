import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maxPatternLength, slowPatternReason } from './regex-screen.ts';
import { settingDefinitions } from './settings.ts';

describe('slowPatternReason', () => {
  it('passes the default connector patterns and ordinary allow-list patterns', () => {
    const defaults = settingDefinitions['plugins.ml_commons.trusted_connector_endpoints_regex'];
    const ordinary = [
      ...defaults.defaultValue,
      '^https://api\\.openai\\.com/.*$',
      '^http://127\\.0\\.0\\.1:\\d+/.*$',
      '(a|b)+',
      '^https://[a-z0-9-]+(\\.[a-z0-9-]+)?\\.example\\.com/.*$',
      '(ab){2}',
      '[(+*)]+',
      '\\(a+\\)+',
      '169\\.254\\..*',
      '(\\d{1,3}\\.){3}\\d{1,3}',
    ];
    for (const pattern of ordinary) assert.equal(slowPatternReason(pattern), undefined, pattern);
  });

  it('refuses nested quantifiers, backreferences and very long patterns', () => {
    const cases: [string, RegExp][] = [
      ['(a+)+', /nests quantifiers/],
      ['^(.*a)*$', /nests quantifiers/],
      ['((ab)*)+', /nests quantifiers/],
      ['(a*){2,}', /nests quantifiers/],
      ['(a+){2,}', /nests quantifiers/],
      ['(x(a+)y)*', /nests quantifiers/],
      ['(a)\\1', /backreference/],
      ['(?<x>a)\\k<x>', /backreference/],
      ['a'.repeat(maxPatternLength + 1), /longer than 256/],
    ];
    for (const [pattern, reason] of cases) {
      assert.match(slowPatternReason(pattern) ?? 'passed', reason, pattern);
    }
  });
});
