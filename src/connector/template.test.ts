// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ml-commons placeholders are literal text in these tests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import { findPlaceholderNames, maxSubstitutionWork, substitute } from './template.ts';

interface Case {
  name: string;
  template: string;
  variables: Record<string, string>;
  expected: string;
}

function check(cases: Case[]): void {
  for (const { name, template, variables, expected } of cases) {
    it(name, () => assert.equal(substitute(template, variables, '${parameters.'), expected));
  }
}

function assertBadRequest(action: () => unknown, message: RegExp): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(ServiceError.isInstance(error), 'a ServiceError');
    assert.equal(error.code, 'bad_request');
    assert.match(error.message, message);
    return true;
  });
}

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

describe('substitute: recursion and cycles', () => {
  check([
    {
      name: 'value holding a variable',
      template: '${parameters.a}',
      variables: { a: 'Hi ${parameters.name}', name: 'Bob' },
      expected: 'Hi Bob',
    },
    {
      name: 'unresolved inside a value stays',
      template: '${parameters.a}',
      variables: { a: 'You are a ${parameters.role}' },
      expected: 'You are a ${parameters.role}',
    },
    {
      name: 'same variable in siblings is not a cycle',
      template: '${parameters.a}${parameters.a}',
      variables: { a: '${parameters.b}', b: 'B' },
      expected: 'BB',
    },
    {
      name: 'diamond is not a cycle',
      template: '${parameters.a}',
      variables: {
        a: '${parameters.b}+${parameters.c}',
        b: '${parameters.d}',
        c: '${parameters.d}',
        d: 'D',
      },
      expected: 'D+D',
    },
    {
      name: 'value text after a nested variable is kept',
      template: '<${parameters.a}>',
      variables: { a: '[${parameters.b}]', b: '(${parameters.c})', c: 'C' },
      expected: '<[(C)]>',
    },
  ]);

  const cycles: { name: string; variables: Record<string, string>; message: RegExp }[] = [
    {
      name: 'self reference',
      variables: { a: '${parameters.a}' },
      message: /of \$\{parameters\.a\}: a->a$/,
    },
    {
      name: 'two-step cycle',
      variables: { a: 'x ${parameters.b}', b: 'y ${parameters.a}' },
      message: /: a->b->a$/,
    },
    {
      name: 'self reference with a default',
      variables: { a: '${parameters.a:-z}' },
      message: /a->a/,
    },
    {
      name: 'three-step cycle below a good variable',
      variables: {
        a: '${parameters.ok}${parameters.b}',
        ok: 'fine',
        b: '${parameters.c}',
        c: '${parameters.b}',
      },
      message: /of \$\{parameters\.a\}: a->b->c->b$/,
    },
  ];
  for (const { name, variables, message } of cycles) {
    it(`cycle is a bad request: ${name}`, () => {
      assertBadRequest(() => substitute('${parameters.a}', variables, '${parameters.'), message);
    });
  }

  it('a very long chain resolves without overflowing the stack', () => {
    const variables: Record<string, string> = {};
    const depth = 50_000;
    for (let index = 0; index < depth; index++)
      variables[`v${index}`] = `\${parameters.v${index + 1}}`;
    variables[`v${depth}`] = 'end';
    assert.equal(substitute('${parameters.v0}', variables, '${parameters.'), 'end');
  });

  it('a very long cycle is reported, not a stack overflow', () => {
    const variables: Record<string, string> = {};
    const depth = 50_000;
    for (let index = 0; index < depth; index++)
      variables[`v${index}`] = `\${parameters.v${(index + 1) % depth}}`;
    assertBadRequest(
      () => substitute('${parameters.v0}', variables, '${parameters.'),
      /Infinite loop/,
    );
  });

  it('self-multiplying values hit the work limit instead of exhausting memory', () => {
    const variables: Record<string, string> = { v40: 'x'.repeat(1024) };
    for (let index = 0; index < 40; index++) {
      variables[`v${index}`] = `\${parameters.v${index + 1}}\${parameters.v${index + 1}}`;
    }
    assertBadRequest(
      () => substitute('${parameters.v0}', variables, '${parameters.'),
      new RegExp(`exceeds ${maxSubstitutionWork} characters`),
    );
  });

  it('an exponential number of empty expansions is bounded too', () => {
    const variables: Record<string, string> = { v6: '' };
    for (let index = 0; index < 6; index++) {
      variables[`v${index}`] = `\${parameters.v${index + 1}}`.repeat(1000);
    }
    assertBadRequest(() => substitute('${parameters.v0}', variables, '${parameters.'), /exceeds/);
  });
});

describe('substitute: hostile values and templates', () => {
  const hostileValues = [
    'quote " and backslash \\ and \\"',
    'line\nbreak\r\nand\ttab',
    'emoji \u{1F600} and lone \ud800 surrogate \udfff',
    'closing } brace and { opening',
    'dollar-brace ${ without end',
    '${parameters.',
    '}}}}${{{{',
    '$',
    '$$',
  ];
  for (const value of hostileValues) {
    it(`inserts ${JSON.stringify(value)} verbatim`, () => {
      assert.equal(substitute('<${parameters.v}>', { v: value }, '${parameters.'), `<${value}>`);
    });
  }

  it('does not rescan a value at the outer level', () => {
    assert.equal(
      substitute('${parameters.a}parameters.b}', { a: '${', b: 'B' }, '${parameters.'),
      '${parameters.b}',
    );
  });

  const hostileTemplates: { name: string; template: string }[] = [
    { name: 'many prefixes without a closing brace', template: '${parameters.'.repeat(100_000) },
    {
      name: 'many escaped prefixes before one brace',
      template: `${'$${parameters.'.repeat(100_000)}}`,
    },
    { name: 'many delimiters in one name', template: `\${parameters.${':-'.repeat(200_000)}}` },
    { name: 'huge unresolved name', template: `\${parameters.${'a'.repeat(1_000_000)}}` },
    {
      name: 'nested prefixes in one name',
      template: `${'${parameters.'.repeat(50_000)}x${'}'.repeat(50_000)}`,
    },
  ];
  for (const { name, template } of hostileTemplates) {
    it(`finishes on ${name}`, () => {
      const result = substitute(template, { x: 'X' }, '${parameters.');
      assert.equal(typeof result, 'string');
      assert.ok(result.length >= template.length - 100_000);
    });
  }

  it('substitutes many variables in a long template', () => {
    const template = '${parameters.a},'.repeat(100_000);
    assert.equal(substitute(template, { a: 'x' }, '${parameters.'), 'x,'.repeat(100_000));
  });

  it('inserts a very long value', () => {
    const value = 'y'.repeat(5_000_000);
    assert.equal(substitute('"${parameters.v}"', { v: value }, '${parameters.').length, 5_000_002);
  });
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
