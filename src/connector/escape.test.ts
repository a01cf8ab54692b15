// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ml-commons placeholders are literal text in these tests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { escapeGsonString, escapeJson } from './escape.ts';

/** Any UTF-16 code unit, lone surrogates included: request text is not guaranteed well formed. */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
const anyText = fc.string({ unit: anyCodeUnit, maxLength: 200 });

describe('escapeJson (commons-text StringEscapeUtils.escapeJson)', () => {
  const cases: { name: string; input: string; expected: string }[] = [
    { name: 'plain ASCII is unchanged', input: 'Hello, world! 123', expected: 'Hello, world! 123' },
    { name: 'empty string', input: '', expected: '' },
    { name: 'double quote', input: 'Say "hi"', expected: 'Say \\"hi\\"' },
    { name: 'backslash', input: 'C:\\temp', expected: 'C:\\\\temp' },
    { name: 'forward slash', input: 'a/b', expected: 'a\\/b' },
    { name: 'short control escapes', input: '\b\f\n\r\t', expected: '\\b\\f\\n\\r\\t' },
    { name: 'NUL', input: '\u0000', expected: '\\u0000' },
    {
      name: 'other control chars use uppercase hex',
      input: '\u001b\u001f',
      expected: '\\u001B\\u001F',
    },
    { name: 'vertical tab has no short escape', input: '\u000b', expected: '\\u000B' },
    {
      name: 'DEL stays raw (outsideOf(32, 0x7f) is inclusive)',
      input: '\u007f',
      expected: '\u007f',
    },
    { name: 'first non-ASCII char', input: '\u0080', expected: '\\u0080' },
    { name: 'Latin-1 accent', input: 'caf\u00e9', expected: 'caf\\u00E9' },
    { name: 'CJK', input: '\u4e2d\u6587', expected: '\\u4E2D\\u6587' },
    { name: 'emoji becomes two surrogate escapes', input: '\u{1F600}', expected: '\\uD83D\\uDE00' },
    { name: 'lone high surrogate', input: 'a\ud800b', expected: 'a\\uD800b' },
    { name: 'lone low surrogate', input: '\udc00', expected: '\\uDC00' },
    { name: 'line separator', input: '\u2028', expected: '\\u2028' },
    { name: 'single quote and HTML chars stay raw', input: `'<>&=`, expected: `'<>&=` },
    {
      name: 'placeholders are plain text to the escaper',
      input: '${parameters.x}',
      expected: '${parameters.x}',
    },
    {
      name: 'mixed hostile text',
      input: '"\\/\n\u00e9\u{1F600}',
      expected: '\\"\\\\\\/\\n\\u00E9\\uD83D\\uDE00',
    },
  ];
  for (const { name, input, expected } of cases) {
    it(name, () => assert.equal(escapeJson(input), expected));
  }

  it('decodes back to the original inside JSON quotes, and emits printable ASCII only', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const escaped = escapeJson(text);
        assert.equal(JSON.parse(`"${escaped}"`), text);
        assert.match(escaped, /^[\x20-\x7f]*$/);
      }),
    );
  });

  it('handles a long input', () => {
    const text = 'line "one"\n\u00e9/'.repeat(200_000);
    const escaped = escapeJson(text);
    assert.equal(escaped.length, 'line \\"one\\"\\n\\u00E9\\/'.length * 200_000);
    assert.equal(JSON.parse(`"${escaped}"`), text);
  });
});

describe('escapeGsonString (gson.toJson(string) without quotes)', () => {
  const cases: { name: string; input: string; expected: string }[] = [
    { name: 'plain text', input: 'hello', expected: 'hello' },
    { name: 'quote and backslash', input: '"\\', expected: '\\"\\\\' },
    { name: 'short control escapes', input: '\t\b\n\r\f', expected: '\\t\\b\\n\\r\\f' },
    {
      name: 'other control chars use lowercase hex',
      input: '\u0001\u001b',
      expected: '\\u0001\\u001b',
    },
    {
      name: 'HTML-safe escapes',
      input: `<a href='x'>&=`,
      expected: '\\u003ca href\\u003d\\u0027x\\u0027\\u003e\\u0026\\u003d',
    },
    { name: 'slash stays raw', input: 'a/b', expected: 'a/b' },
    { name: 'non-ASCII stays raw', input: 'caf\u00e9 \u{1F600}', expected: 'caf\u00e9 \u{1F600}' },
    { name: 'U+2028 and U+2029 are escaped', input: '\u2028\u2029', expected: '\\u2028\\u2029' },
    { name: 'DEL stays raw', input: '\u007f', expected: '\u007f' },
  ];
  for (const { name, input, expected } of cases) {
    it(name, () => assert.equal(escapeGsonString(input), expected));
  }

  it('decodes back to the original inside JSON quotes', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        assert.equal(JSON.parse(`"${escapeGsonString(text)}"`), text);
      }),
    );
  });
});
