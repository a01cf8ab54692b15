import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bedrockRerank,
  cohereRerank,
  cohereV1Embed,
  cohereV2Embed,
  novaEmbed,
  openAiEmbeddings,
  titanV1Embed,
  titanV2Embed,
} from './post-process.fixtures.ts';
import { defaultResponseFilter, postProcess, resultDataTypeOf } from './post-process.ts';

const similarity = (score: number) => ({
  name: 'similarity',
  data_type: 'FLOAT32',
  shape: [1],
  data: [score],
});

const embedding = (data: number[], dataType = 'FLOAT32') => ({
  name: 'sentence_embedding',
  data_type: dataType,
  shape: [data.length],
  data,
});

describe('postProcess', () => {
  const cases: Array<{
    name: string;
    title: string;
    response: unknown;
    filter?: string;
    expected: unknown;
  }> = [
    {
      name: 'connector.post_process.openai.embedding',
      title: 'OpenAI embeddings',
      response: openAiEmbeddings,
      expected: [
        embedding([0.0023064255, -0.009327292, 0.015797347]),
        embedding([-0.0069326, 0.0011253, 0.0250581]),
      ],
    },
    {
      name: 'connector.post_process.cohere.embedding',
      title: 'Cohere v1 embed',
      response: cohereV1Embed,
      expected: [
        embedding([1.6142578, 0.24841309, 0.5385742]),
        embedding([0.44970703, 0.8276367, -0.04626465]),
      ],
    },
    {
      name: 'connector.post_process.cohere_v2.embedding.float',
      title: 'Cohere v2 float',
      response: cohereV2Embed,
      expected: [embedding([0.016296387, -0.008354187, -0.04699707])],
    },
    {
      name: 'connector.post_process.cohere_v2.embedding.int8',
      title: 'Cohere v2 int8 (data type from the path)',
      response: cohereV2Embed,
      expected: [embedding([-21, -11, -61], 'INT8')],
    },
    {
      name: 'connector.post_process.cohere_v2.embedding.uint8',
      title: 'Cohere v2 uint8 is UINT8, not INT8',
      response: cohereV2Embed,
      expected: [embedding([107, 117, 67], 'UINT8')],
    },
    {
      name: 'connector.post_process.cohere_v2.embedding.binary',
      title: 'Cohere v2 binary keeps FLOAT32 (no BINARY data type in ml-commons)',
      response: cohereV2Embed,
      expected: [embedding([-54, 99, -87])],
    },
    {
      name: 'connector.post_process.cohere_v2.embedding.ubinary',
      title: 'Cohere v2 ubinary keeps FLOAT32',
      response: cohereV2Embed,
      expected: [embedding([74, 227, 41])],
    },
    {
      name: 'connector.post_process.bedrock.embedding',
      title: 'Bedrock Titan v1: one vector, one tensor',
      response: titanV1Embed,
      expected: [embedding([0.5, -0.25, 0.125])],
    },
    {
      name: 'connector.post_process.bedrock_v2.embedding.float',
      title: 'Bedrock Titan v2 embeddingsByType.float',
      response: titanV2Embed,
      expected: [embedding([0.5, -0.25, 0.125])],
    },
    {
      name: 'connector.post_process.bedrock_v2.embedding.binary',
      title: 'Bedrock Titan v2 embeddingsByType.binary',
      response: titanV2Embed,
      expected: [embedding([1, 0, 1])],
    },
    {
      name: 'connector.post_process.bedrock.nova.embedding',
      title: 'Bedrock Nova embeddings',
      response: novaEmbed,
      expected: [embedding([0.1, 0.2, 0.3, 0.4])],
    },
    {
      name: 'connector.post_process.default.embedding',
      title: 'default embedding (SageMaker list of lists)',
      response: [
        [1, 2],
        [3, 4],
      ],
      expected: [embedding([1, 2]), embedding([3, 4])],
    },
    {
      name: 'connector.post_process.openai.embedding',
      title: 'no embeddings in the response gives no tensors, as in ml-commons',
      response: { object: 'list', data: [] },
      expected: [],
    },
    {
      name: 'connector.post_process.openai.embedding',
      title: 'response_filter overrides the default path',
      response: openAiEmbeddings,
      filter: '$.data[1:2].embedding',
      expected: [embedding([-0.0069326, 0.0011253, 0.0250581])],
    },
    {
      name: 'connector.post_process.cohere.embedding',
      title: 'the data type follows an overriding response_filter',
      response: cohereV2Embed,
      filter: '$.embeddings.int8',
      expected: [embedding([-21, -11, -61], 'INT8')],
    },
    {
      name: 'connector.post_process.cohere.embedding',
      title: 'a blank response_filter means the default path',
      response: cohereV1Embed,
      filter: '  ',
      expected: [
        embedding([1.6142578, 0.24841309, 0.5385742]),
        embedding([0.44970703, 0.8276367, -0.04626465]),
      ],
    },
    {
      name: 'connector.post_process.cohere.rerank',
      title: 'Cohere rerank: scores in document order, not score order',
      response: cohereRerank,
      expected: [
        similarity(0.7867867),
        similarity(0.0007511),
        similarity(0.32713068),
        similarity(0.999071),
      ],
    },
    {
      name: 'connector.post_process.default.rerank',
      title: 'default rerank reads a top-level list',
      response: [
        { index: 1, relevance_score: 0.2 },
        { index: 0, relevance_score: 0.8 },
      ],
      expected: [similarity(0.8), similarity(0.2)],
    },
    {
      name: 'connector.post_process.bedrock.rerank',
      title: 'Bedrock rerank (relevanceScore)',
      response: bedrockRerank,
      expected: [similarity(0.0123), similarity(0.91)],
    },
    {
      name: 'connector.post_process.cohere.rerank',
      title: 'rerank of no documents gives no tensors',
      response: { results: [] },
      expected: [],
    },
    {
      name: 'connector.post_process.bedrock.batch_job_arn',
      title: 'Bedrock batch job ARN gets a URL-encoded copy',
      response: { jobArn: 'arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abc/def' },
      expected: [
        {
          name: 'response',
          dataAsMap: {
            jobArn: 'arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abc/def',
            processedJobArn:
              'arn:aws:bedrock:us-east-1:123456789012:model-invocation-job%2Fabc%2Fdef',
          },
        },
      ],
    },
    {
      name: 'connector.post_process.mlcommons.passthrough',
      title: 'passthrough rebuilds the tensors of an ml-commons envelope',
      response: {
        inference_results: [
          {
            output: [
              {
                name: 'sentence_embedding',
                data_type: 'FLOAT32',
                shape: [3.0],
                data: [0.1, 0.2, 0.3],
              },
              { name: 'output', dataAsMap: { response: [{ hello: 0.5 }] } },
              { result: '{"query":{"match_all":{}}}', data_type: 'NOT_A_TYPE' },
              {},
            ],
            status_code: 200,
          },
          { status_code: 200 },
        ],
      },
      expected: [
        { name: 'sentence_embedding', data_type: 'FLOAT32', shape: [3], data: [0.1, 0.2, 0.3] },
        { name: 'output', dataAsMap: { response: [{ hello: 0.5 }] } },
        { name: 'output', result: '{"query":{"match_all":{}}}' },
      ],
    },
    {
      name: 'connector.post_process.mlcommons.passthrough',
      title: 'passthrough wraps any other object as the response',
      response: { answer: 'yes' },
      expected: [{ name: 'response', dataAsMap: { answer: 'yes' } }],
    },
    {
      name: 'connector.post_process.mlcommons.passthrough',
      title: 'passthrough wraps a list under response',
      response: [1, 2],
      expected: [{ name: 'response', dataAsMap: { response: [1, 2] } }],
    },
  ];
  for (const { name, title, response, filter, expected } of cases) {
    it(`${title} (${name})`, () => {
      assert.deepEqual(postProcess(name, response, filter), expected);
    });
  }
});

describe('resultDataTypeOf', () => {
  const cases: Array<[string, string | undefined]> = [
    ['$.embeddings.float', undefined],
    ['$.embeddings.int8', 'INT8'],
    ['$.embeddings.uint8', 'UINT8'],
    ['$.embeddings.INT32', 'INT32'],
    ['$.data.float64[*]', 'FLOAT64'],
    ['$.embeddingsByType.binary', undefined],
    ['$.data[*].embedding', undefined],
    ['$.result.string_value', 'STRING'],
  ];
  for (const [filter, expected] of cases) {
    it(`${filter} → ${String(expected)}`, () => {
      assert.equal(resultDataTypeOf(filter), expected);
    });
  }
});

describe('defaultResponseFilter', () => {
  it('gives the ml-commons default path of each built-in and nothing for others', () => {
    assert.equal(
      defaultResponseFilter('connector.post_process.openai.embedding'),
      '$.data[*].embedding',
    );
    assert.equal(
      defaultResponseFilter('connector.post_process.bedrock.nova.embedding'),
      '$.embeddings[*].embedding',
    );
    assert.equal(defaultResponseFilter('connector.post_process.mlcommons.passthrough'), '$');
    assert.equal(defaultResponseFilter('connector.post_process.unknown'), undefined);
    assert.equal(defaultResponseFilter('toString'), undefined);
  });
});
