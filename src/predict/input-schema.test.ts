import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import {
  InputSchemaValidator,
  inputSchemaErrorPrefix,
  inputSchemaInstance,
} from './input-schema.ts';
import { readLeadingJson } from './leading-json.ts';
import type { PredictBody } from './prepare.ts';

const body = (parameters: Record<string, unknown>): PredictBody => ({
  parameters,
  textDocs: undefined,
});

// The shape of ml-commons' auto-generated schemas for chat blueprints: the root requires parameters.
const chatSchema = JSON.stringify({
  type: 'object',
  properties: {
    parameters: {
      type: 'object',
      properties: { messages: { type: 'array' }, prompt: { type: 'string' } },
      required: ['messages'],
    },
  },
  required: ['parameters'],
});

function refusalOf(run: () => void): string {
  try {
    run();
  } catch (error) {
    assert.ok(ServiceError.isInstance(error), String(error));
    assert.equal(error.status, 400);
    assert.equal(error.type, 'status_exception');
    assert.ok(error.message.startsWith(inputSchemaErrorPrefix), error.message);
    return error.message.slice(inputSchemaErrorPrefix.length);
  }
  assert.fail('the request was accepted');
}

describe('inputSchemaInstance (what ml-commons validates)', () => {
  it('is the MLInput as JSON: algorithm, parameters, action_type', () => {
    assert.deepEqual(inputSchemaInstance(body({ temperature: 0.5 }), 'predict', new Set()), {
      algorithm: 'REMOTE',
      parameters: { temperature: 0.5 },
      action_type: 'PREDICT',
    });
  });

  it('reads parameter text back as JSON unless the schema declares the parameter a string', () => {
    const instance = inputSchemaInstance(
      body({
        messages: '[{"role":"user","content":"hi"}]',
        max_tokens: '5',
        flag: 'true',
        prompt: '[1, 2]',
        greeting: 'hello',
        blank: '',
      }),
      'predict',
      new Set(['prompt']),
    );
    assert.deepEqual(instance['parameters'], {
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 5,
      flag: true,
      prompt: '[1, 2]',
      greeting: 'hello',
      blank: null,
    });
  });

  it('turns non-string values into their gson text when the schema declares a string', () => {
    const instance = inputSchemaInstance(
      body({ messages: [{ role: 'user', name: null }], count: 3, nothing: null }),
      'predict',
      new Set(['messages', 'count']),
    );
    assert.deepEqual(instance['parameters'], {
      messages: '[{"role":"user"}]',
      count: '3',
      nothing: null,
    });
  });

  it('adds stream: true for a stream, as ml-commons stream endpoint does', () => {
    const instance = inputSchemaInstance(body({ stream: 'false', a: 'x' }), 'stream', new Set());
    assert.deepEqual(instance['parameters'], { a: 'x', stream: true });
  });

  it('writes the text_docs form as a text-docs input', () => {
    const instance = inputSchemaInstance(
      { parameters: {}, textDocs: ['one', 'two'] },
      'predict',
      new Set(),
    );
    assert.deepEqual(instance, {
      algorithm: 'REMOTE',
      text_docs: ['one', 'two'],
      return_bytes: false,
      return_number: true,
    });
  });
});

describe('readLeadingJson (Jackson readTree)', () => {
  const cases: [string, { value: unknown } | undefined][] = [
    ['{"a":[1,"}"]}', { value: { a: [1, '}'] } }],
    ['  [1,2] and more', { value: [1, 2] }],
    ['"quoted" tail', { value: 'quoted' }],
    ['42 apples', { value: 42 }],
    ['-1.5e2', { value: -150 }],
    ['true story', { value: true }],
    ['null]', { value: null }],
    ['   ', { value: null }],
    ['hello', undefined],
    ['truex', undefined],
    ['0123', undefined],
    ['1.', undefined],
    ['12,5', undefined],
    ['[1, 2', undefined],
    ['{"a":}', undefined],
    ['NaN', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`reads ${JSON.stringify(text)}`, () => assert.deepEqual(readLeadingJson(text), expected));
  }
});

describe('InputSchemaValidator', () => {
  it('accepts a valid request and leaves models without a schema alone', () => {
    const validator = new InputSchemaValidator();
    validator.check({ input: chatSchema }, body({ messages: [{ role: 'user' }] }), 'predict');
    validator.check(undefined, body({}), 'predict');
    validator.check({ input: '' }, body({}), 'predict');
    validator.check({ output: chatSchema }, body({}), 'stream');
    assert.equal(validator.compilations, 1);
  });

  it('refuses a missing required parameter in networknt wording', () => {
    const validator = new InputSchemaValidator();
    const details = refusalOf(() => validator.check({ input: chatSchema }, body({}), 'predict'));
    assert.equal(
      details,
      "Validation failed: [$.parameters: required property 'messages' not found]",
    );
  });

  it('refuses a wrong type after the JSON-text conversion, quoting no value', () => {
    const validator = new InputSchemaValidator();
    const details = refusalOf(() =>
      validator.check({ input: chatSchema }, body({ messages: 'sk-secret-in-a-prompt' }), 'stream'),
    );
    assert.equal(
      details,
      'Validation failed: [$.parameters.messages: string found, array expected]',
    );
    assert.ok(!details.includes('sk-secret'));
  });

  it('accepts JSON text for an array parameter and any value for a string one', () => {
    const validator = new InputSchemaValidator();
    validator.check(
      { input: chatSchema },
      body({ messages: '[{"role":"user","content":"hi"}]', prompt: 5 }),
      'predict',
    );
  });

  it('words the first violation as networknt does, with a JSON-path location', () => {
    const schema = JSON.stringify({
      properties: {
        parameters: {
          properties: {
            items: { type: 'array', items: { type: 'string' }, minItems: 2 },
            'max tokens': { type: 'integer', maximum: 10 },
            mode: { enum: ['fast', 'slow'] },
          },
          additionalProperties: false,
        },
      },
    });
    const validator = new InputSchemaValidator();
    const cases: [Record<string, unknown>, string][] = [
      [
        { extra: 'x' },
        "$.parameters: property 'extra' is not defined in the schema and the schema does not allow additional properties",
      ],
      [{ items: ['a'] }, '$.parameters.items: expected at least 2 items but found 1'],
      [{ items: [1, 'a'] }, '$.parameters.items[0]: integer found, string expected'],
      [{ 'max tokens': '12.5' }, "$.parameters['max tokens']: number found, integer expected"],
      [{ 'max tokens': 12 }, "$.parameters['max tokens']: must have a maximum value of 10"],
      [
        { mode: 'other' },
        '$.parameters.mode: does not have a value in the enumeration ["fast","slow"]',
      ],
    ];
    for (const [parameters, message] of cases) {
      const details = refusalOf(() =>
        validator.check({ input: schema }, body(parameters), 'predict'),
      );
      assert.equal(details, `Validation failed: [${message}]`);
    }
  });

  it('stops at the first violation of a large request (bounded time and message)', () => {
    const schema = JSON.stringify({
      properties: { parameters: { properties: { items: { items: { type: 'string' } } } } },
    });
    const items = Array.from({ length: 200_000 }, (_, index) => index);
    const details = refusalOf(() =>
      new InputSchemaValidator().check({ input: schema }, body({ items }), 'predict'),
    );
    assert.equal(
      details,
      'Validation failed: [$.parameters.items[0]: integer found, string expected]',
    );
  });

  it('refuses every request of a model whose schema does not compile, compiling it once', () => {
    const validator = new InputSchemaValidator();
    for (const attempt of [1, 2]) {
      const details = refusalOf(() =>
        validator.check({ input: '{"type":"strin"}' }, body({}), 'predict'),
      );
      assert.match(
        details,
        /^the 'input' schema cannot be compiled: schema is invalid/,
        `${attempt}`,
      );
    }
    assert.match(
      refusalOf(() =>
        validator.check({ input: '{"$ref":"https://example.com/s.json"}' }, body({}), 'predict'),
      ),
      /can't resolve reference/,
    );
    assert.match(
      refusalOf(() =>
        validator.check(
          { input: '{"$schema":"http://json-schema.org/draft-04/schema#"}' },
          body({}),
          'predict',
        ),
      ),
      /unsupported \$schema/,
    );
    assert.equal(validator.compilations, 3);
  });

  it('reads a schema given as an object and honours a draft-07 $schema', () => {
    const validator = new InputSchemaValidator();
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      properties: { parameters: { required: ['inputs'] } },
    };
    validator.check({ input: schema }, body({ inputs: 'x' }), 'predict');
    assert.match(
      refusalOf(() => validator.check({ input: schema }, body({}), 'predict')),
      /required property 'inputs' not found/,
    );
  });

  it('compiles a schema once, keeps a bounded number, and recompiles an evicted one', () => {
    const validator = new InputSchemaValidator({ maxSchemas: 2 });
    const schemaWith = (name: string) =>
      JSON.stringify({
        // An $id naming the meta-schema must not unregister the meta-schema when evicted.
        $id: 'https://json-schema.org/draft/2020-12/schema',
        properties: { parameters: { required: [name] } },
      });
    for (let round = 0; round < 100; round += 1) {
      validator.check({ input: schemaWith('a') }, body({ a: 1 }), 'predict');
    }
    assert.equal(validator.compilations, 1);
    validator.check({ input: schemaWith('b') }, body({ b: 1 }), 'predict');
    validator.check({ input: schemaWith('a') }, body({ a: 1 }), 'predict');
    validator.check({ input: schemaWith('c') }, body({ c: 1 }), 'predict'); // evicts b
    assert.equal(validator.compilations, 3);
    validator.check({ input: schemaWith('a') }, body({ a: 1 }), 'predict');
    assert.equal(validator.compilations, 3);
    validator.check({ input: schemaWith('b') }, body({ b: 1 }), 'predict');
    assert.equal(validator.compilations, 4);
    assert.match(
      refusalOf(() => validator.check({ input: schemaWith('b') }, body({}), 'predict')),
      /required property 'b' not found/,
    );
  });
});
