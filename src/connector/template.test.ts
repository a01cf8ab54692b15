// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ml-commons placeholders are literal text in these tests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { check } from './template.fixtures.ts';
import { findPlaceholderNames, substitute } from './template.ts';

describe('substitute: plain variables', () => {
  check([
    {
      name: 'one variable',
      template: 'Hi ${parameters.name}!',
      variables: { name: 'Ann' },
      expected: 'Hi Ann!',
    },
    {
      name: 'several variables and repeats',
      template: '${parameters.a}-${parameters.b}-${parameters.a}',
      variables: { a: '1', b: '2' },
      expected: '1-2-1',
    },
    {
      name: 'no placeholder at all',
      template: '{"a": 1}',
      variables: { a: 'x' },
      expected: '{"a": 1}',
    },
    {
      name: 'unresolved variable is left intact',
      template: 'a ${parameters.missing} b ${parameters.x}',
      variables: { x: 'X' },
      expected: 'a ${parameters.missing} b X',
    },
    { name: 'empty value', template: '[${parameters.x}]', variables: { x: '' }, expected: '[]' },
    {
      name: 'name is taken verbatim, spaces included',
      template: '${parameters. x}',
      variables: { ' x': 'spaced', x: 'plain' },
      expected: 'spaced',
    },
    {
      name: 'empty name resolves only an empty key',
      template: '${parameters.}|${parameters.}',
      variables: { '': 'E' },
      expected: 'E|E',
    },
    {
      name: 'other prefixes are not touched',
      template: '${credential.key} ${parameters.x} ${x}',
      variables: { key: 'K', x: 'X' },
      expected: '${credential.key} X ${x}',
    },
    {
      name: 'prototype names do not resolve',
      template: '${parameters.constructor} ${parameters.toString} ${parameters.__proto__}',
      variables: {},
      expected: '${parameters.constructor} ${parameters.toString} ${parameters.__proto__}',
    },
    {
      name: 'an own __proto__ key resolves',
      template: '${parameters.__proto__}',
      variables: JSON.parse('{"__proto__": "own"}') as Record<string, string>,
      expected: 'own',
    },
    {
      name: 'unterminated variable ends the scan',
      template: 'x ${parameters.a',
      variables: { a: 'A' },
      expected: 'x ${parameters.a',
    },
    {
      name: 'the first } closes the variable (no nesting in names)',
      template: '${parameters.a ${parameters.b}} ${parameters.b}',
      variables: { b: 'B' },
      expected: '${parameters.a ${parameters.b}} B',
    },
  ]);

  it('resolves credentials with the credential prefix and leaves parameters alone', () => {
    assert.equal(
      substitute('Bearer ${credential.key} ${parameters.key}', { key: 'sk' }, '${credential.'),
      'Bearer sk ${parameters.key}',
    );
  });
});

describe('substitute: defaults', () => {
  check([
    {
      name: 'default used when absent',
      template: '${parameters.x:-fallback}',
      variables: {},
      expected: 'fallback',
    },
    {
      name: 'value wins over default',
      template: '${parameters.x:-fallback}',
      variables: { x: 'v' },
      expected: 'v',
    },
    {
      name: 'empty default',
      template: '[${parameters._chat_history:-}]',
      variables: {},
      expected: '[]',
    },
    {
      name: 'empty value beats default',
      template: '[${parameters.x:-d}]',
      variables: { x: '' },
      expected: '[]',
    },
    {
      name: 'default holding the delimiter',
      template: '${parameters.x:-a:-b}',
      variables: {},
      expected: 'a:-b',
    },
    {
      name: 'default null is just text',
      template: '${parameters.x:-null}',
      variables: {},
      expected: 'null',
    },
    {
      name: 'nested default stops at the first } (commons-text without substitution in names)',
      template: '${parameters.x:-${parameters.y}}',
      variables: { y: 'Y' },
      expected: '${parameters.y}',
    },
    {
      name: 'delimiter after a nested prefix is not a default',
      template: '${parameters.a${parameters.b:-1}',
      variables: {},
      expected: '${parameters.a${parameters.b:-1}',
    },
  ]);
});

describe('substitute: $ escape', () => {
  check([
    {
      name: '$$ gives the literal placeholder',
      template: '$${parameters.x}',
      variables: { x: 'X' },
      expected: '${parameters.x}',
    },
    {
      name: 'escaped and plain side by side',
      template: '$${parameters.x}=${parameters.x}',
      variables: { x: 'X' },
      expected: '${parameters.x}=X',
    },
    {
      name: 'escape kept when the variable never ends',
      template: '$${parameters.x',
      variables: { x: 'X' },
      expected: '$${parameters.x',
    },
    {
      name: 'three dollars drop one',
      template: '$$${parameters.x}',
      variables: { x: 'X' },
      expected: '$${parameters.x}',
    },
    {
      name: 'lone dollar signs are text',
      template: '$ $5 ${x} $',
      variables: {},
      expected: '$ $5 ${x} $',
    },
    {
      name: 'scan resumes inside an escaped variable',
      template: '$${parameters.a${parameters.b}}',
      variables: { b: 'B' },
      expected: '${parameters.aB}',
    },
    {
      name: 'a substituted value ending in $ escapes the next variable (Java quirk)',
      template: '${parameters.a}${parameters.b}',
      variables: { a: 'x$', b: 'B' },
      expected: 'x${parameters.b}',
    },
    {
      name: 'escape inside a value',
      template: '${parameters.a}',
      variables: { a: 'keep $${parameters.b}', b: 'B' },
      expected: 'keep ${parameters.b}',
    },
    {
      name: 'escaped placeholder, then an unterminated escaped one',
      template: '$${parameters.a}|$${parameters.a',
      variables: { a: '${parameters.b}', b: 'B' },
      expected: '${parameters.a}|$${parameters.a',
    },
  ]);
});

describe('findPlaceholderNames', () => {
  const cases: { name: string; text: string; expected: string[] }[] = [
    { name: 'none', text: '{"a": "b"}', expected: [] },
    {
      name: 'in order, de-duplicated',
      text: '${parameters.b} ${parameters.a} ${parameters.b}',
      expected: ['b', 'a'],
    },
    {
      name: 'name runs to the next }',
      text: '${parameters.x:-${parameters.y}}',
      expected: ['x:-${parameters.y'],
    },
    { name: 'empty name is no match', text: '${parameters.}${parameters.z}', expected: ['z'] },
    { name: 'no closing brace', text: '${parameters.a', expected: [] },
    { name: 'credential placeholders are not parameters', text: '${credential.key}', expected: [] },
    { name: 'many prefixes, no brace', text: '${parameters.'.repeat(100_000), expected: [] },
  ];
  for (const { name, text, expected } of cases) {
    it(name, () => assert.deepEqual(findPlaceholderNames(text, '${parameters.'), expected));
  }
});
