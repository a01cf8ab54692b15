import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import { type PreProcessInput, preProcess } from './pre-process.ts';

function serviceError(code: string, status: number, message: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(ServiceError.isInstance(error), `expected a ServiceError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    assert.match(error.message, message);
    return true;
  };
}

describe('preProcess', () => {
  const cases: Array<{ name: string; title: string; input: PreProcessInput; expected: unknown }> = [
    {
      name: 'connector.pre_process.openai.embedding',
      title: 'all docs as a gson JSON list in input',
      input: { text_docs: ['hello', 'wörld <b>'] },
      expected: { input: '["hello","wörld \\u003cb\\u003e"]' },
    },
    {
      name: 'connector.pre_process.default.embedding',
      title: 'default embedding is the OpenAI function',
      input: { text_docs: ['say "hi"\n'] },
      expected: { input: '["say \\"hi\\"\\n"]' },
    },
    {
      name: 'connector.pre_process.cohere.embedding',
      title: 'all docs as texts',
      input: { text_docs: ['hello', 'goodbye'] },
      expected: { texts: '["hello","goodbye"]' },
    },
    {
      name: 'connector.pre_process.bedrock.embedding',
      title: 'first doc only, JSON-escaped for a quoted template slot',
      input: { text_docs: ['Say "hé"\n', 'ignored'] },
      expected: { inputText: 'Say \\"h\\u00E9\\"\\n' },
    },
    {
      name: 'connector.pre_process.bedrock.nova.text_embedding',
      title: 'Nova text uses the Bedrock function',
      input: { text_docs: ['hello'] },
      expected: { inputText: 'hello' },
    },
    {
      name: 'connector.pre_process.bedrock.multimodal_embedding',
      title: 'text and image',
      input: { text_docs: ['a cat', 'aW1hZ2U='] },
      expected: { inputText: 'a cat', inputImage: 'aW1hZ2U=' },
    },
    {
      name: 'connector.pre_process.bedrock.multimodal_embedding',
      title: 'image only: a null text stays absent so a :-null default applies',
      input: { text_docs: [null, 'aW1hZ2U='] },
      expected: { inputImage: 'aW1hZ2U=' },
    },
    {
      name: 'connector.pre_process.cohere.multimodal_embedding',
      title: 'one image data URI as images',
      input: { text_docs: ['data:image/png;base64,aW1n'] },
      expected: { images: 'data:image\\/png;base64,aW1n' },
    },
    {
      name: 'connector.pre_process.bedrock.nova.image_embedding',
      title: 'Nova image',
      input: { text_docs: ['aW1n'] },
      expected: { inputImage: 'aW1n' },
    },
    {
      name: 'connector.pre_process.bedrock.nova.video_embedding',
      title: 'Nova video',
      input: { text_docs: ['dmlk'] },
      expected: { inputVideo: 'dmlk' },
    },
    {
      name: 'connector.pre_process.bedrock.nova.audio_embedding',
      title: 'Nova audio',
      input: { text_docs: ['YXVk'] },
      expected: { inputAudio: 'YXVk' },
    },
    {
      name: 'connector.pre_process.bedrock.nova.embedding',
      title: 'Nova picks the parameter from a quoted modality key',
      input: { text_docs: ['the "video" part'] },
      expected: { inputVideo: 'the \\"video\\" part' },
    },
    {
      name: 'connector.pre_process.bedrock.nova.embedding',
      title: 'Nova defaults to text',
      input: { text_docs: ['plain words'] },
      expected: { inputText: 'plain words' },
    },
    {
      name: 'connector.pre_process.cohere.rerank',
      title: 'query, documents and top_n',
      input: { query: 'What is "x"?', text_docs: ['x is a letter', 'y'] },
      expected: {
        query: 'What is \\"x\\"?',
        documents: '["x is a letter","y"]',
        top_n: '2',
      },
    },
    {
      name: 'connector.pre_process.default.rerank',
      title: 'default rerank is the Cohere function',
      input: { query: 'q', text_docs: ['a'] },
      expected: { query: 'q', documents: '["a"]', top_n: '1' },
    },
    {
      name: 'connector.pre_process.bedrock.rerank',
      title: 'Bedrock Rerank queries, sources and numberOfResults',
      input: { query: 'q "1"', text_docs: ['doc a', 'doc b'] },
      expected: {
        queries: '[{"textQuery":{"text":"q \\"1\\""},"type":"TEXT"}]',
        sources:
          '[{"inlineDocumentSource":{"textDocument":{"text":"doc a"},"type":"TEXT"},"type":"INLINE"},' +
          '{"inlineDocumentSource":{"textDocument":{"text":"doc b"},"type":"TEXT"},"type":"INLINE"}]',
        numberOfResults: '2',
      },
    },
    {
      name: 'connector.pre_process.openai.embedding',
      title: 'a parameters-form request passes through',
      input: {
        parameters: { input: ['a', 'b'], model: 'text-embedding-3-small', dimensions: 256 },
      },
      expected: { input: '["a","b"]', model: 'text-embedding-3-small', dimensions: '256' },
    },
    {
      name: 'connector.pre_process.cohere.rerank',
      title: 'a parameters-form request passes through rerank functions too',
      input: { parameters: { query: 'say "q"' } },
      expected: { query: 'say \\"q\\"' },
    },
  ];
  for (const { name, title, input, expected } of cases) {
    it(`${title} (${name})`, () => {
      assert.deepEqual(preProcess(name, input), expected);
    });
  }

  it('the JSON list it writes is the docs, byte-compatible with JSON.parse', () => {
    const docs = ['<script>&', 'tab\there', '😀', 'line\u2028sep'];
    const { input } = preProcess('connector.pre_process.openai.embedding', { text_docs: docs });
    assert.deepEqual(JSON.parse(input ?? ''), docs);
  });

  const refusals: Array<{ title: string; name: string; input: PreProcessInput; message: RegExp }> =
    [
      {
        title: 'unknown name',
        name: 'connector.pre_process.openai.embeddings',
        input: { text_docs: ['a'] },
        message: /not a supported built-in pre-process function; supported: .*openai\.embedding/,
      },
      {
        title: 'a rerank input given to an embedding function',
        name: 'connector.pre_process.openai.embedding',
        input: { query: 'q', text_docs: ['a'] },
        message: /takes text_docs only/,
      },
      {
        title: 'an embedding input given to a rerank function',
        name: 'connector.pre_process.cohere.rerank',
        input: { text_docs: ['a'] },
        message: /needs a text similarity input: query_text and text_docs/,
      },
      {
        title: 'no input at all',
        name: 'connector.pre_process.cohere.embedding',
        input: {},
        message: /needs a text_docs input/,
      },
      {
        title: 'empty text_docs',
        name: 'connector.pre_process.openai.embedding',
        input: { text_docs: [] },
        message: /text_docs is empty/,
      },
      {
        title: 'null text for a text-only function',
        name: 'connector.pre_process.cohere.embedding',
        input: { text_docs: ['a', null] },
        message: /text_docs\[1\] must be a string/,
      },
      {
        title: 'no first doc for Bedrock',
        name: 'connector.pre_process.bedrock.embedding',
        input: { text_docs: [] },
        message: /no input text provided/,
      },
      {
        title: 'multimodal with only a null text',
        name: 'connector.pre_process.bedrock.multimodal_embedding',
        input: { text_docs: [null] },
        message: /no input text or image provided/,
      },
      {
        title: 'Cohere multimodal without an image',
        name: 'connector.pre_process.cohere.multimodal_embedding',
        input: { text_docs: [null] },
        message: /no input image provided/,
      },
    ];
  for (const { title, name, input, message } of refusals) {
    it(`refuses with bad_request: ${title}`, () => {
      assert.throws(() => preProcess(name, input), serviceError('bad_request', 400, message));
    });
  }
});
