import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import { cohereRerank, cohereV2Embed, openAiEmbeddings } from './post-process.fixtures.ts';
import { postProcess } from './post-process.ts';

function serviceError(code: string, status: number, message: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(ServiceError.isInstance(error), `expected a ServiceError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    assert.match(error.message, message);
    return true;
  };
}

describe('postProcess', () => {
  const failures: Array<{ title: string; name: string; response: unknown; message: RegExp }> = [
    {
      title: 'a definite default path missing from the response',
      name: 'connector.post_process.cohere.embedding',
      response: { message: 'invalid api token' },
      message: /No results for path: \$\['embeddings'\]/,
    },
    {
      title: 'a v2 response given to the v1 function',
      name: 'connector.post_process.cohere.embedding',
      response: cohereV2Embed,
      message: /expected a list of embeddings at \$\.embeddings .* found an object/,
    },
    {
      title: 'an embedding with a non-number',
      name: 'connector.post_process.default.embedding',
      response: [
        [0.1, 0.2],
        [0.3, 'x'],
      ],
      message: /embedding 1 as a non-empty list of numbers/,
    },
    {
      title: 'an empty embedding',
      name: 'connector.post_process.default.embedding',
      response: [[]],
      message: /embedding 0 as a non-empty list of numbers/,
    },
    {
      title: 'a null embedding value',
      name: 'connector.post_process.bedrock.embedding',
      response: { embedding: null },
      message: /expected a value at \$\.embedding .* found null/,
    },
    {
      title: 'a list of lists given to the Bedrock function',
      name: 'connector.post_process.bedrock.embedding',
      response: { embedding: [[0.1]] },
      message: /one embedding \(a list of numbers\)/,
    },
    {
      title: 'rerank asked for fewer results than documents (top_n)',
      name: 'connector.post_process.cohere.rerank',
      response: { results: [{ index: 3, relevance_score: 0.9 }] },
      message: /document index 3, but the 1 results must cover indexes 0\.\.0.*top_n/,
    },
    {
      title: 'rerank with a repeated index',
      name: 'connector.post_process.cohere.rerank',
      response: {
        results: [
          { index: 0, relevance_score: 0.9 },
          { index: 0, relevance_score: 0.1 },
        ],
      },
      message: /document index 0/,
    },
    {
      title: 'rerank without relevance_score',
      name: 'connector.post_process.cohere.rerank',
      response: { results: [{ index: 0, score: 0.9 }] },
      message: /result 0 with an integer index and a numeric relevance_score/,
    },
    {
      title: 'Cohere-style scores given to the Bedrock rerank function',
      name: 'connector.post_process.bedrock.rerank',
      response: cohereRerank,
      message: /numeric relevanceScore/,
    },
    {
      title: 'batch job response without jobArn',
      name: 'connector.post_process.bedrock.batch_job_arn',
      response: { status: 'Submitted' },
      message: /a string jobArn/,
    },
    {
      title: 'passthrough tensor with a non-string result',
      name: 'connector.post_process.mlcommons.passthrough',
      response: { inference_results: [{ output: [{ name: 'x', result: 5 }] }] },
      message: /inference_results\[0\]\.output\[0\]\.result as a string/,
    },
    {
      title: 'passthrough tensor with non-numeric data',
      name: 'connector.post_process.mlcommons.passthrough',
      response: { inference_results: [{ output: [{ data: [0.1, null] }] }] },
      message: /output\[0\]\.data as a list of numbers/,
    },
    {
      title: 'passthrough of a scalar',
      name: 'connector.post_process.mlcommons.passthrough',
      response: 'plain text',
      message: /an object or a list .* found a string/,
    },
  ];
  for (const { title, name, response, message } of failures) {
    it(`fails with upstream_protocol, not a crash: ${title}`, () => {
      assert.throws(
        () => postProcess(name, response),
        serviceError('upstream_protocol', 502, message),
      );
    });
  }

  it('refuses unknown function names with bad_request', () => {
    assert.throws(
      () => postProcess('connector.post_process.openai.embeddings', openAiEmbeddings),
      serviceError('bad_request', 400, /not a supported built-in post-process function/),
    );
  });

  it('refuses an invalid overriding response_filter with bad_request', () => {
    assert.throws(
      () => postProcess('connector.post_process.openai.embedding', openAiEmbeddings, '$.data[*'),
      serviceError('bad_request', 400, /not a valid JSONPath/),
    );
  });
});
