// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ml-commons placeholders are literal text in these tests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  escapeRequestParameters,
  isJson,
  mergeParameters,
  ownValue,
  requestParameterMap,
  toParameterMap,
} from './parameters.ts';

describe('toParameterMap (StringUtils.getParameterMap)', () => {
  const cases: {
    name: string;
    input: Record<string, unknown>;
    expected: Record<string, string>;
  }[] = [
    { name: 'string kept as is', input: { a: 'Say "hi"\n' }, expected: { a: 'Say "hi"\n' } },
    { name: 'empty string kept', input: { a: '' }, expected: { a: '' } },
    {
      name: 'string holding JSON is not re-encoded',
      input: { a: '[1,2]' },
      expected: { a: '[1,2]' },
    },
    { name: 'integer', input: { n: 1 }, expected: { n: '1' } },
    { name: 'decimal', input: { n: 0.5 }, expected: { n: '0.5' } },
    { name: 'booleans', input: { t: true, f: false }, expected: { t: 'true', f: 'false' } },
    {
      name: 'array to JSON text',
      input: { messages: [{ role: 'user', content: 'Say "hi"' }] },
      expected: { messages: '[{"role":"user","content":"Say \\"hi\\""}]' },
    },
    {
      name: 'object to JSON text',
      input: { config: { a: [1, { b: null }] } },
      expected: { config: '{"a":[1,{"b":null}]}' },
    },
    { name: 'null dropped', input: { a: null, b: 'x' }, expected: { b: 'x' } },
    { name: 'undefined dropped', input: { a: undefined }, expected: {} },
  ];
  for (const { name, input, expected } of cases) {
    it(name, () => assert.deepEqual(toParameterMap(input), expected));
  }

  it('keeps __proto__ as an ordinary key', () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "a": "x"}') as Record<
      string,
      unknown
    >;
    const map = toParameterMap(input);
    assert.equal(ownValue(map, '__proto__'), '{"polluted":true}');
    assert.equal(Object.getPrototypeOf(map), Object.prototype);
    assert.equal((map as Record<string, unknown>)['polluted'], undefined);
  });
});

describe('isJson (StringUtils.isJson)', () => {
  const cases: { text: string; expected: boolean }[] = [
    { text: '{}', expected: true },
    { text: '[]', expected: true },
    { text: ' \n[{"a": 1}]\t', expected: true },
    { text: '{"a": "b"}', expected: true },
    { text: '"string"', expected: false },
    { text: '123', expected: false },
    { text: 'true', expected: false },
    { text: 'null', expected: false },
    { text: '', expected: false },
    { text: '   ', expected: false },
    { text: '[1, 2', expected: false },
    { text: '[]"', expected: false },
    { text: '{a: 1}', expected: false },
    { text: "{'a': 1}", expected: false },
    { text: '{"a": 1,}', expected: false },
    { text: '[1]\n[2]', expected: false },
    { text: 'plain prose', expected: false },
  ];
  for (const { text, expected } of cases) {
    it(`${JSON.stringify(text)} -> ${expected}`, () => assert.equal(isJson(text), expected));
  }
});

describe('escapeRequestParameters (ConnectorUtils.escapeRemoteInferenceInputData)', () => {
  const cases: {
    name: string;
    input: Record<string, string>;
    expected: Record<string, string>;
  }[] = [
    {
      name: 'plain string escaped without quotes',
      input: { inputs: 'Line1\nLine2 "q" a/b' },
      expected: { inputs: 'Line1\\nLine2 \\"q\\" a\\/b' },
    },
    {
      name: 'JSON array left raw',
      input: { messages: '[{"role":"user","content":"Say \\"hi\\""}]' },
      expected: { messages: '[{"role":"user","content":"Say \\"hi\\""}]' },
    },
    {
      name: 'JSON object left raw',
      input: { o: '{"a/b": "\\n"}' },
      expected: { o: '{"a/b": "\\n"}' },
    },
    {
      name: 'JSON string scalar is escaped',
      input: { s: '"quoted"' },
      expected: { s: '\\"quoted\\"' },
    },
    { name: 'number text unchanged', input: { n: '0.7' }, expected: { n: '0.7' } },
    { name: 'broken JSON is escaped', input: { b: '{"a": "x' }, expected: { b: '{\\"a\\": \\"x' } },
    {
      name: 'unicode escaped',
      input: { u: 'caf\u00e9 \u{1F600}' },
      expected: { u: 'caf\\u00E9 \\uD83D\\uDE00' },
    },
    {
      name: 'placeholders in values survive escaping',
      input: { p: 'Hi ${parameters.name}' },
      expected: { p: 'Hi ${parameters.name}' },
    },
    {
      name: 'no_escape_params keys kept raw, itself escaped like any string',
      input: { no_escape_params: 'a, b/c', a: 'x"y', 'b/c': '\n', d: '"' },
      expected: { no_escape_params: 'a, b\\/c', a: 'x"y', 'b/c': '\n', d: '\\"' },
    },
    {
      name: 'empty no_escape_params escapes everything',
      input: { no_escape_params: '', a: '"' },
      expected: { no_escape_params: '', a: '\\"' },
    },
  ];
  for (const { name, input, expected } of cases) {
    it(name, () => assert.deepEqual(escapeRequestParameters(input), expected));
  }

  it('does not change its input', () => {
    const input = { a: '"' };
    escapeRequestParameters(input);
    assert.deepEqual(input, { a: '"' });
  });
});

describe('requestParameterMap', () => {
  it('equals escapeRequestParameters(toParameterMap(input)) for any JSON request', () => {
    const parameters = fc.dictionary(
      fc.oneof(fc.string(), fc.constant('no_escape_params')),
      fc.oneof(
        fc.jsonValue(),
        fc.json(),
        fc.string(),
        fc.constantFrom('a, b', '"quoted"', '[1,2', '{"x":1}', '  [ ]'),
      ),
    );
    fc.assert(
      fc.property(parameters, (input) => {
        // What a request body holds after JSON.parse (no undefined, no -0 distinctions).
        const parsed = JSON.parse(JSON.stringify(input)) as Record<string, unknown>;
        assert.deepEqual(
          requestParameterMap(parsed),
          escapeRequestParameters(toParameterMap(parsed)),
        );
      }),
      { numRuns: 500 },
    );
  });
});

describe('mergeParameters (RemoteConnectorExecutor#preparePayloadAndInvoke)', () => {
  it('connector < request', () => {
    assert.deepEqual(mergeParameters({ model: 'c', endpoint: 'e' }, { model: 'r' }), {
      model: 'r',
      endpoint: 'e',
    });
  });

  it('pre-process output overrides the connector but never the request', () => {
    const merged = mergeParameters(
      { a: 'connector', b: 'connector', c: 'connector' },
      { a: 'request' },
      { a: 'pre', b: 'pre' },
    );
    assert.deepEqual(merged, { a: 'request', b: 'pre', c: 'connector' });
  });

  it('does not change its inputs', () => {
    const connector = { a: '1' };
    const request = { b: '2' };
    mergeParameters(connector, request, { c: '3' });
    assert.deepEqual(connector, { a: '1' });
    assert.deepEqual(request, { b: '2' });
  });

  it('keeps __proto__ as an ordinary key', () => {
    const request = JSON.parse('{"__proto__": "x"}') as Record<string, string>;
    const merged = mergeParameters({}, request);
    assert.equal(ownValue(merged, '__proto__'), 'x');
    assert.equal(Object.getPrototypeOf(merged), Object.prototype);
  });
});

describe('ownValue', () => {
  it('ignores inherited properties', () => {
    assert.equal(ownValue({}, 'constructor'), undefined);
    assert.equal(ownValue({ constructor: 'own' }, 'constructor'), 'own');
  });
});
