import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import {
  applyResponseFilter,
  compileResponseFilter,
  MAX_RESPONSE_FILTER_LENGTH,
  toModelTensor,
} from './response-filter.ts';

const openAiChunk = {
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  choices: [{ index: 0, delta: { content: 'Hello' }, finish_reason: null }],
};

const openAiCompletion = {
  id: 'chatcmpl-2',
  choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [] } }],
  usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 },
};

const bedrockConverse = {
  output: { message: { role: 'assistant', content: [{ text: 'Bonjour' }] } },
  stopReason: 'end_turn',
  usage: { inputTokens: 12, outputTokens: 3, totalTokens: 15 },
};

const openAiEmbeddings = {
  object: 'list',
  data: [
    { object: 'embedding', index: 0, embedding: [0.0023, -0.0093] },
    { object: 'embedding', index: 1, embedding: [-0.0069, 0.0011] },
  ],
  model: 'text-embedding-3-small',
};

const cohereEmbed = { id: 'c1', texts: ['hi'], embeddings: [[1.61, 0.24, 0.53]] };

const anthropicMessage = {
  content: [
    { type: 'text', text: 'A' },
    { type: 'tool_use', id: 'toolu_1', name: 'search', input: {} },
    { type: 'text', text: 'B' },
  ],
};

function serviceError(code: string, status: number, message: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(ServiceError.isInstance(error), `expected a ServiceError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    assert.match(error.message, message);
    return true;
  };
}

describe('applyResponseFilter', () => {
  const cases: Array<{ title: string; response: unknown; filter: string; expected: unknown }> = [
    {
      title: 'OpenAI stream delta (definite path → the string itself)',
      response: openAiChunk,
      filter: '$.choices[0].delta.content',
      expected: 'Hello',
    },
    {
      title: 'Bedrock Converse text',
      response: bedrockConverse,
      filter: '$.output.message.content[0].text',
      expected: 'Bonjour',
    },
    {
      title: 'OpenAI embeddings (wildcard → list of all matches)',
      response: openAiEmbeddings,
      filter: '$.data[*].embedding',
      expected: [
        [0.0023, -0.0093],
        [-0.0069, 0.0011],
      ],
    },
    {
      title: 'Cohere embeddings (definite path to a list → the list, not wrapped)',
      response: cohereEmbed,
      filter: '$.embeddings',
      expected: [[1.61, 0.24, 0.53]],
    },
    {
      title: 'definite path to an object → the object',
      response: openAiCompletion,
      filter: '$.usage',
      expected: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 },
    },
    {
      title: 'definite path to an explicit null → null (the path exists)',
      response: openAiCompletion,
      filter: '$.choices[0].message.content',
      expected: null,
    },
    {
      title: 'Jayway filter syntax [?(@.type==...)]',
      response: anthropicMessage,
      filter: "$.content[?(@.type=='text')].text",
      expected: ['A', 'B'],
    },
    {
      title: 'RFC 9535 filter syntax [?@.type==...]',
      response: anthropicMessage,
      filter: "$.content[?@.type=='text'].text",
      expected: ['A', 'B'],
    },
    {
      title: 'filter with double quotes and no match → empty list',
      response: anthropicMessage,
      filter: '$.content[?(@.type=="image")]',
      expected: [],
    },
    {
      title: 'wildcard over a missing member → empty list, not an error',
      response: {},
      filter: '$.data[*].embedding',
      expected: [],
    },
    {
      title: 'deep scan',
      response: anthropicMessage,
      filter: '$..text',
      expected: ['A', 'B'],
    },
    {
      title: 'slice is indefinite even with one match',
      response: openAiEmbeddings,
      filter: '$.data[0:1].index',
      expected: [0],
    },
    {
      title: 'union of indexes is indefinite',
      response: openAiEmbeddings,
      filter: '$.data[0,1].index',
      expected: [0, 1],
    },
    {
      title: 'negative index is definite',
      response: openAiEmbeddings,
      filter: '$.data[-1].index',
      expected: 1,
    },
    { title: 'root', response: [1, 2], filter: '$', expected: [1, 2] },
    {
      title: 'surrounding whitespace is ignored (Jayway trims)',
      response: openAiChunk,
      filter: '  $.choices[0].delta.content \n',
      expected: 'Hello',
    },
    {
      title: 'a path without $ is read from the root (Jayway prefixes "$.")',
      response: openAiChunk,
      filter: 'choices[0].delta.content',
      expected: 'Hello',
    },
    {
      title: 'bracketed names with dashes',
      response: { 'x-amzn-meta': { 'stop-reason': 'end' } },
      filter: "$['x-amzn-meta']['stop-reason']",
      expected: 'end',
    },
    {
      title: '__proto__ as an own key of parsed JSON is an ordinary member',
      response: JSON.parse('{"__proto__": {"x": 1}}'),
      filter: '$.__proto__.x',
      expected: 1,
    },
    {
      title: 'inherited members are not visible to wildcards',
      response: { a: 1 },
      filter: '$..constructor',
      expected: [],
    },
  ];
  for (const { title, response, filter, expected } of cases) {
    it(title, () => {
      assert.deepEqual(applyResponseFilter(response, filter), expected);
    });
  }

  const missing: Array<{ title: string; response: unknown; filter: string; canonical: string }> = [
    {
      title: 'missing member',
      response: { choices: [] },
      filter: '$.choices[0].delta.content',
      canonical: "$['choices'][0]['delta']['content']",
    },
    {
      title: 'index past the end',
      response: openAiEmbeddings,
      filter: '$.data[5].embedding',
      canonical: "$['data'][5]['embedding']",
    },
    {
      title: 'member of a scalar',
      response: { output: 'text' },
      filter: '$.output.message',
      canonical: "$['output']['message']",
    },
    {
      title: 'prototype member',
      response: { a: 1 },
      filter: '$.constructor',
      canonical: "$['constructor']",
    },
    { title: 'no body at all', response: undefined, filter: '$.a', canonical: "$['a']" },
  ];
  for (const { title, response, filter, canonical } of missing) {
    it(`a definite path that matches nothing is an upstream_protocol error: ${title}`, () => {
      const escaped = canonical.replace(/[[\]$]/g, (character) => `\\${character}`);
      assert.throws(
        () => applyResponseFilter(response, filter),
        serviceError('upstream_protocol', 502, new RegExp(`No results for path: ${escaped}`)),
      );
    });
  }

  const invalid: Array<{ title: string; filter: string; reason: RegExp }> = [
    { title: 'empty', filter: '', reason: /non-empty JSONPath/ },
    { title: 'blank', filter: '   ', reason: /non-empty JSONPath/ },
    { title: 'unclosed bracket', filter: '$[', reason: /not a valid JSONPath: unclosed/ },
    { title: 'trailing dot', filter: '$.a.', reason: /not a valid JSONPath/ },
    { title: 'Jayway function', filter: '$.data.length()', reason: /\.length\(\)/ },
    { title: 'Jayway regex operator', filter: '$[?(@.a =~ /x/)]', reason: /not a valid/ },
    { title: 'regex function removed', filter: "$[?match(@.a, 'a.*')]", reason: /match/ },
    {
      title: 'too long',
      filter: `$.${'a'.repeat(MAX_RESPONSE_FILTER_LENGTH)}`,
      reason: /at most 2048 are allowed/,
    },
  ];
  for (const { title, filter, reason } of invalid) {
    it(`rejects an invalid filter with bad_request: ${title}`, () => {
      assert.throws(
        () => applyResponseFilter({ a: 1 }, filter),
        serviceError('bad_request', 400, reason),
      );
      assert.throws(
        () => applyResponseFilter({ a: 1 }, filter),
        (error: unknown) => {
          assert.ok(ServiceError.isInstance(error));
          assert.equal(error.type, 'illegal_argument_exception');
          return true;
        },
      );
    });
  }

  it('evaluates the most deeply nested filter that fits the length bound', () => {
    const filter = `$[?${'('.repeat(1000)}@.a == 1${')'.repeat(1000)}].b`;
    assert.ok(filter.length <= MAX_RESPONSE_FILTER_LENGTH);
    assert.deepEqual(applyResponseFilter([{ a: 1, b: 'x' }, { a: 2 }], filter), ['x']);
  });

  it('bounds recursive descent over hostile, deeply nested responses', () => {
    let nested: unknown = { x: 1 };
    for (let depth = 0; depth < 10_000; depth++) nested = { d: nested };
    assert.throws(
      () => applyResponseFilter(nested, '$..x'),
      serviceError('upstream_protocol', 502, /could not be applied.*recursion limit/),
    );
  });

  it('handles wide responses', () => {
    const wide = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, { x: i }]));
    const values = applyResponseFilter(wide, '$.*.x');
    assert.ok(Array.isArray(values));
    assert.equal(values.length, 10_000);
    assert.equal(values[9_999], 9_999);
  });
});

describe('compileResponseFilter', () => {
  it('caches compiled filters and evicts the least recently used beyond its bound', () => {
    const first = compileResponseFilter('$.cache.first');
    assert.equal(compileResponseFilter('$.cache.first'), first);
    for (let index = 0; index < 300; index++) compileResponseFilter(`$.cache.other${index}`);
    const recompiled = compileResponseFilter('$.cache.first');
    assert.notEqual(recompiled, first);
    assert.deepEqual(applyResponseFilter({ cache: { first: 7 } }, '$.cache.first'), 7);
  });

  it('does not cache rejected filters', () => {
    assert.throws(() => compileResponseFilter('$['), serviceError('bad_request', 400, /\$\[/));
    assert.throws(() => compileResponseFilter('$['), serviceError('bad_request', 400, /\$\[/));
  });
});

describe('toModelTensor', () => {
  const cases: Array<{ title: string; value: unknown; expected: unknown }> = [
    {
      title: 'an object becomes dataAsMap',
      value: { id: 'x', choices: [] },
      expected: { name: 'response', dataAsMap: { id: 'x', choices: [] } },
    },
    {
      title: 'an array is wrapped under response',
      value: [[0.1, 0.2]],
      expected: { name: 'response', dataAsMap: { response: [[0.1, 0.2]] } },
    },
    {
      title: 'a string is wrapped under response',
      value: 'Hello',
      expected: { name: 'response', dataAsMap: { response: 'Hello' } },
    },
    {
      title: 'a number is wrapped under response',
      value: 42,
      expected: { name: 'response', dataAsMap: { response: 42 } },
    },
    {
      title: 'a boolean is wrapped under response',
      value: false,
      expected: { name: 'response', dataAsMap: { response: false } },
    },
    {
      title: 'null is wrapped under response',
      value: null,
      expected: { name: 'response', dataAsMap: { response: null } },
    },
    {
      title: 'undefined reads as null',
      value: undefined,
      expected: { name: 'response', dataAsMap: { response: null } },
    },
    {
      title: 'a string holding a JSON object is parsed, as ml-commons does',
      value: ' {"answer": 1, "sources": ["a"]} ',
      expected: { name: 'response', dataAsMap: { answer: 1, sources: ['a'] } },
    },
    {
      title: 'a string holding a JSON array is parsed and wrapped',
      value: '[1, 2]',
      expected: { name: 'response', dataAsMap: { response: [1, 2] } },
    },
    {
      title: 'a string that only looks like JSON stays text',
      value: '{not json}',
      expected: { name: 'response', dataAsMap: { response: '{not json}' } },
    },
    {
      title: 'a JSON scalar in a string stays text',
      value: '"quoted"',
      expected: { name: 'response', dataAsMap: { response: '"quoted"' } },
    },
  ];
  for (const { title, value, expected } of cases) {
    it(title, () => {
      assert.deepEqual(toModelTensor(value), expected);
    });
  }

  it('uses the given tensor name but keeps the response key', () => {
    assert.deepEqual(toModelTensor([1], 'output'), {
      name: 'output',
      dataAsMap: { response: [1] },
    });
  });

  it('composes with a filter the way ml-commons parseResponse does', () => {
    assert.deepEqual(toModelTensor(applyResponseFilter(openAiEmbeddings, '$.data[*].embedding')), {
      name: 'response',
      dataAsMap: {
        response: [
          [0.0023, -0.0093],
          [-0.0069, 0.0011],
        ],
      },
    });
  });
});
