// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ml-commons placeholders are literal text in these tests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertBadRequest, check } from './template.fixtures.ts';
import { maxSubstitutionWork, substitute } from './template.ts';

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
