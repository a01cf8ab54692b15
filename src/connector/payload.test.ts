// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ml-commons placeholders are literal text in these tests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { escapeRequestParameters, isJson, mergeParameters, toParameterMap } from './parameters.ts';
import {
  addToStringParameters,
  buildUrl,
  collectToStringPrefixes,
  createPayload,
  fillNullParameters,
  isJsonOrNdjson,
} from './payload.ts';
import { assertBadRequest } from './template.fixtures.ts';

/** The request path of §7.1/§7.2: JSON values to strings, escaping, merge. */
function requestParameters(
  connector: Record<string, string>,
  request: Record<string, unknown>,
): Record<string, string> {
  return mergeParameters(connector, escapeRequestParameters(toParameterMap(request)));
}

describe('reference §7.5 worked examples', () => {
  it('OpenAI: the messages array is spliced raw', () => {
    const requestBody = '{ "model": "${parameters.model}", "messages": ${parameters.messages} }';
    const connectorParameters = { endpoint: 'api.openai.com', model: 'gpt-3.5-turbo' };
    const request = JSON.parse(
      '{"parameters":{"messages":[{"role":"user","content":"Say \\"hi\\""}],"_llm_interface":"openai/v1/chat/completions"}}',
    ) as { parameters: Record<string, unknown> };
    // The REST layer adds `stream`; it does not change the substituted body.
    const parameters = requestParameters(connectorParameters, {
      ...request.parameters,
      stream: 'true',
    });
    assert.equal(
      createPayload(requestBody, parameters),
      '{ "model": "gpt-3.5-turbo", "messages": [{"role":"user","content":"Say \\"hi\\""}] }',
    );
    assert.equal(
      buildUrl('https://${parameters.endpoint}/v1/chat/completions', parameters),
      'https://api.openai.com/v1/chat/completions',
    );
  });

  it('Bedrock: a real newline becomes backslash-n inside the template quotes', () => {
    const requestBody =
      '{"messages":[{"role":"user","content":[{"type":"text","text":"${parameters.inputs}"}]}]}';
    const request = JSON.parse(
      '{"parameters":{"inputs":"Line1\\nLine2","_llm_interface":"bedrock/converse/claude"}}',
    ) as { parameters: Record<string, unknown> };
    const payload = createPayload(requestBody, requestParameters({}, request.parameters));
    assert.equal(
      payload,
      '{"messages":[{"role":"user","content":[{"type":"text","text":"Line1\\nLine2"}]}]}',
    );
    assert.deepEqual(JSON.parse(payload), {
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Line1\nLine2' }] }],
    });
  });
});

describe('createPayload', () => {
  const cases: {
    name: string;
    body: string;
    parameters: Record<string, string>;
    expected: string;
  }[] = [
    {
      name: 'ml-commons createPayload test',
      body: '{"input": "${parameters.input}"}',
      parameters: { input: 'test input value' },
      expected: '{"input": "test input value"}',
    },
    {
      name: 'quoted :-null default becomes bare null when absent',
      body: '{"stop": "${parameters.stop:-null}", "n": 1}',
      parameters: {},
      expected: '{"stop": null, "n": 1}',
    },
    {
      name: 'quoted :-null default keeps the value when present',
      body: '{"stop": "${parameters.stop:-null}"}',
      parameters: { stop: 'END' },
      expected: '{"stop": "END"}',
    },
    {
      name: 'bare :-null default is the text null',
      body: '{"temperature": ${parameters.temperature:-null}}',
      parameters: {},
      expected: '{"temperature": null}',
    },
    {
      name: 'non-word names keep the quoted default text',
      body: '{"x": "${parameters.a-b:-null}"}',
      parameters: {},
      expected: '{"x": "null"}',
    },
    {
      name: 'empty default (agent chat history)',
      body: '{"history": [${parameters._chat_history:-}]}',
      parameters: {},
      expected: '{"history": []}',
    },
    {
      name: '.toString() referenced from a parameter value',
      body: '{"text": "${parameters.prompt}"}',
      parameters: { prompt: 'Q: ${parameters.question.toString()}', question: 'a "b" <c>' },
      expected: '{"text": "Q: a \\"b\\" \\u003cc\\u003e"}',
    },
    {
      name: 'value referencing another parameter is expanded',
      body: '{"text": "${parameters.prompt}"}',
      parameters: { prompt: 'You are a ${parameters.role}', role: 'pirate' },
      expected: '{"text": "You are a pirate"}',
    },
    {
      name: 'NDJSON payload',
      body: '{"index":{}}\n{"text":"${parameters.x}"}\n',
      parameters: { x: 'v' },
      expected: '{"index":{}}\n{"text":"v"}\n',
    },
    {
      name: 'CRLF NDJSON with blank lines',
      body: '{"a":1}\r\n\r\n[2]\r\n',
      parameters: {},
      expected: '{"a":1}\r\n\r\n[2]\r\n',
    },
  ];
  for (const { name, body, parameters, expected } of cases) {
    it(name, () => assert.equal(createPayload(body, parameters), expected));
  }

  it('names a missing parameter before complaining about the JSON it broke', () => {
    assertBadRequest(
      () => createPayload('{"input": ${parameters.input} }', {}),
      'Some parameter placeholder not filled in payload: input',
    );
  });

  it('rejects a payload that is not JSON (ml-commons message)', () => {
    assertBadRequest(
      () =>
        createPayload('{"input": ${parameters.input} }', {
          input: 'x',
          skip_validating_missing_parameters: 'true',
        }),
      'Invalid payload: {"input": x }',
    );
  });

  it('rejects plain text and scalar JSON', () => {
    assertBadRequest(
      () => createPayload('hello ${parameters.x}', { x: 'y' }),
      'Invalid payload: hello y',
    );
    assertBadRequest(() => createPayload('"${parameters.x}"', { x: 'y' }), 'Invalid payload: "y"');
    assertBadRequest(() => createPayload('{"a":1}\nnot json', {}), /^Invalid payload: /);
  });

  it('lists missing placeholders in order, de-duplicated', () => {
    assertBadRequest(
      () =>
        createPayload(
          '{"a": "${parameters.x}", "b": "${parameters.y}", "c": "${parameters.x}"}',
          {},
        ),
      'Some parameter placeholder not filled in payload: x, y',
    );
  });

  it('reports a placeholder coming from a parameter value', () => {
    assertBadRequest(
      () =>
        createPayload('{"input": "${parameters.input}"}', {
          input: 'You are a ${parameters.role}',
        }),
      'Some parameter placeholder not filled in payload: role',
    );
  });

  it('.toString() in the body template itself is not synthesised (as in ml-commons)', () => {
    assertBadRequest(
      () => createPayload('{"t": "${parameters.q.toString()}"}', { q: 'x' }),
      'Some parameter placeholder not filled in payload: q.toString()',
    );
  });

  it('skip_validating_missing_parameters=true lets placeholders through', () => {
    const body = '{"a": "${parameters.x}"}';
    assert.equal(
      createPayload(body, { skip_validating_missing_parameters: 'true' }),
      '{"a": "${parameters.x}"}',
    );
    assert.equal(createPayload(body, { skip_validating_missing_parameters: 'TRUE' }), body);
    assertBadRequest(
      () => createPayload(body, { skip_validating_missing_parameters: 'false' }),
      /not filled in payload: x$/,
    );
  });

  it('a $$-escaped placeholder is literal text, so validation still sees it', () => {
    const body = '{"a": "$${parameters.x}"}';
    assertBadRequest(
      () => createPayload(body, { x: 'v' }),
      'Some parameter placeholder not filled in payload: x',
    );
    assert.equal(
      createPayload(body, { x: 'v', skip_validating_missing_parameters: 'true' }),
      '{"a": "${parameters.x}"}',
    );
  });

  it('still requires JSON when validation is skipped', () => {
    assertBadRequest(
      () => createPayload('{"a": ${parameters.x}}', { skip_validating_missing_parameters: 'true' }),
      'Invalid payload: {"a": ${parameters.x}}',
    );
  });

  it('does not change the parameters it is given', () => {
    const parameters = { prompt: '${parameters.q.toString()}', q: '"' };
    createPayload('{"t": "${parameters.prompt}"}', parameters);
    assert.deepEqual(parameters, { prompt: '${parameters.q.toString()}', q: '"' });
  });

  it('a parameter cycle is a bad request', () => {
    assertBadRequest(
      () =>
        createPayload('{"t": "${parameters.a}"}', { a: '${parameters.b}', b: '${parameters.a}' }),
      /Infinite loop/,
    );
  });

  const hostileInputs = [
    'quotes " and \\" and \\\\" and backslash \\',
    'new\nline\r\nand\ttab and \u0000 NUL',
    'unicode caf\u00e9 \u4e2d \u{1F600} lone \ud800 and \udc00',
    'braces } { ${ $} }$ and a dollar $',
    "</script><b>&amp;='",
    '[not json',
    '{"looks": "like json" ',
  ];
  for (const input of hostileInputs) {
    it(`round-trips hostile text ${JSON.stringify(input)}`, () => {
      const parameters = requestParameters({}, { text: input });
      const payload = createPayload('{"text": "${parameters.text}"}', parameters);
      assert.deepEqual(JSON.parse(payload), { text: input });
    });
  }

  it('round-trips any text that is not JSON and holds no placeholder', () => {
    const anyCodeUnit = fc
      .integer({ min: 0, max: 0xffff })
      .map((code) => String.fromCharCode(code));
    fc.assert(
      fc.property(fc.string({ unit: anyCodeUnit, maxLength: 100 }), (text) => {
        fc.pre(!isJson(text) && !text.includes('${'));
        const parameters = requestParameters({}, { text });
        const payload = createPayload('{"text": "${parameters.text}"}', parameters);
        assert.equal((JSON.parse(payload) as { text: string }).text, text);
      }),
    );
  });

  it('a value holding ${parameters.other} is expanded, like ml-commons', () => {
    const parameters = requestParameters(
      { secret_hint: 'connector value' },
      { text: 'see ${parameters.secret_hint}' },
    );
    assert.equal(
      createPayload('{"text": "${parameters.text}"}', parameters),
      '{"text": "see connector value"}',
    );
  });

  it('handles very long inputs', () => {
    const text = 'A "long" line\n'.repeat(100_000);
    const parameters = requestParameters({}, { text, messages: [{ content: text }] });
    const payload = createPayload(
      '{"text": "${parameters.text}", "messages": ${parameters.messages}}',
      parameters,
    );
    assert.deepEqual(JSON.parse(payload), { text, messages: [{ content: text }] });
  });
});

describe('fillNullParameters', () => {
  it('replaces every occurrence of each absent key, keeps present ones', () => {
    assert.equal(
      fillNullParameters(
        '["${parameters.a:-null}", "${parameters.b:-null}", "${parameters.a:-null}"]',
        { b: 'B' },
      ),
      '[null, "${parameters.b:-null}", null]',
    );
  });
});

describe('addToStringParameters / collectToStringPrefixes', () => {
  it('adds the gson-escaped value under NAME.toString()', () => {
    const result = addToStringParameters({ p: '${parameters.h.toString()}', h: 'a\n"b"=' });
    assert.equal(result['h.toString()'], 'a\\n\\"b\\"\\u003d');
  });

  it('ignores names with no parameter', () => {
    assert.deepEqual(addToStringParameters({ p: '${parameters.none.toString()}' }), {
      p: '${parameters.none.toString()}',
    });
  });

  const cases: { name: string; value: string; expected: string[] }[] = [
    { name: 'one', value: 'x ${parameters.a.toString()} y', expected: ['a'] },
    {
      name: 'two on separate lines',
      value: '${parameters.a.toString()}\n${parameters.b.toString()}',
      expected: ['a', 'b'],
    },
    {
      name: 'lazy match from the first prefix on the line (ml-commons regex quirk)',
      value: '${parameters.a} and ${parameters.b.toString()}',
      expected: ['a} and ${parameters.b'],
    },
    {
      name: 'a line break before the end moves on to the next prefix',
      value: '${parameters.a}\n${parameters.b.toString()}',
      expected: ['b'],
    },
    { name: 'needs at least one character', value: '${parameters..toString()}', expected: [] },
    { name: 'dotted names', value: '${parameters.a.b.toString()}', expected: ['a.b'] },
    { name: 'no end marker', value: '${parameters.a'.repeat(50_000), expected: [] },
    {
      name: 'many prefixes on broken lines',
      value: `${'${parameters.a\n'.repeat(50_000)}.toString()}`,
      expected: [],
    },
  ];
  for (const { name, value, expected } of cases) {
    it(name, () => assert.deepEqual(collectToStringPrefixes(value), expected));
  }
});

describe('isJsonOrNdjson', () => {
  const cases: { text: string; expected: boolean }[] = [
    { text: '{"a":1}', expected: true },
    { text: '{"a":1}\n{"b":2}', expected: true },
    { text: '{"a":1}\n"text"', expected: false },
    { text: '\n\n', expected: false },
    { text: '', expected: false },
  ];
  for (const { text, expected } of cases) {
    it(`${JSON.stringify(text)} -> ${expected}`, () =>
      assert.equal(isJsonOrNdjson(text), expected));
  }
});
