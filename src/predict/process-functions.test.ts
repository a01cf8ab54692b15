import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import {
  BUILT_IN_POST_PROCESS_FUNCTIONS,
  BUILT_IN_PRE_PROCESS_FUNCTIONS,
  isBuiltInFunction,
  postProcess,
  preProcess,
  validateProcessFunction,
} from './process-functions.ts';

function serviceError(code: string, status: number, message: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(ServiceError.isInstance(error), `expected a ServiceError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    assert.match(error.message, message);
    return true;
  };
}

describe('validateProcessFunction', () => {
  it('knows exactly the ml-commons built-ins', () => {
    assert.equal(BUILT_IN_PRE_PROCESS_FUNCTIONS.length, 14);
    assert.equal(BUILT_IN_POST_PROCESS_FUNCTIONS.length, 17);
    for (const name of BUILT_IN_PRE_PROCESS_FUNCTIONS) {
      assert.doesNotThrow(() => validateProcessFunction(name, 'pre'));
      assert.equal(isBuiltInFunction(name), true);
    }
    for (const name of BUILT_IN_POST_PROCESS_FUNCTIONS) {
      assert.doesNotThrow(() => validateProcessFunction(name, 'post'));
      assert.equal(isBuiltInFunction(name), true);
    }
  });

  const painless =
    '\n    def name = "sentence_embedding";\n    def dataType = "FLOAT32";\n' +
    '    if (params.embeddings == null || params.embeddings.length == 0) {\n' +
    '      return params.message;\n    }\n    return "{}";\n';

  const refusals: Array<{ title: string; name: string; kind: 'pre' | 'post'; message: RegExp }> = [
    {
      title: 'a Painless script',
      name: painless,
      kind: 'post',
      message: /Painless scripts are not supported by Sluice/,
    },
    {
      title: 'a Painless pre-process script',
      name: 'return params.text_docs[0];',
      kind: 'pre',
      message: /pre_process_function "return params\.text_docs\[0\];" .*Painless/,
    },
    {
      title: 'a templated name (ml-commons substitutes quoted values, so it is a script)',
      name: 'connector.post_process.${parameters.provider}.embedding',
      kind: 'post',
      message: /Painless scripts are not supported/,
    },
    {
      title: 'a misspelt built-in',
      name: 'connector.post_process.openai.embeddings',
      kind: 'post',
      message: /connector\.post_process\.openai\.embeddings is not a supported built-in function/,
    },
    {
      title: 'a post-process name as pre_process_function',
      name: 'connector.post_process.openai.embedding',
      kind: 'pre',
      message: /is a post-process function and cannot be a pre_process_function/,
    },
    {
      title: 'a pre-process name as post_process_function',
      name: 'connector.pre_process.openai.embedding',
      kind: 'post',
      message: /is a pre-process function and cannot be a post_process_function/,
    },
  ];
  for (const { title, name, kind, message } of refusals) {
    it(`refuses ${title} with a 400 listing the supported built-ins`, () => {
      const supported =
        kind === 'pre' ? BUILT_IN_PRE_PROCESS_FUNCTIONS : BUILT_IN_POST_PROCESS_FUNCTIONS;
      assert.throws(
        () => validateProcessFunction(name, kind),
        (error: unknown) => {
          serviceError('bad_request', 400, message)(error);
          assert.ok(ServiceError.isInstance(error));
          assert.equal(error.type, 'illegal_argument_exception');
          for (const builtIn of supported) assert.ok(error.message.includes(builtIn), builtIn);
          return true;
        },
      );
    });
  }

  it('quotes only the start of a long script, on one line', () => {
    assert.throws(
      () => validateProcessFunction(painless, 'post'),
      serviceError(
        'bad_request',
        400,
        /"def name = \\"sentence_embedding\\"; def dataType = \\"FLOAT32\\"; i…" is not/,
      ),
    );
  });

  it('the re-exported functions run every name it accepts', () => {
    for (const name of BUILT_IN_PRE_PROCESS_FUNCTIONS) {
      assert.deepEqual(preProcess(name, { parameters: { inputText: 'x' } }), { inputText: 'x' });
    }
    for (const name of BUILT_IN_POST_PROCESS_FUNCTIONS) {
      try {
        assert.ok(Array.isArray(postProcess(name, {})));
      } catch (error) {
        // An empty response may not fit the function, but the name itself is never refused.
        assert.ok(ServiceError.isInstance(error));
        assert.equal(error.code, 'upstream_protocol', `${name}: ${error.message}`);
      }
    }
  });

  it('isBuiltInFunction is false for scripts, unknown names and prototype keys', () => {
    assert.equal(isBuiltInFunction(painless), false);
    assert.equal(isBuiltInFunction('connector.post_process.openai.embeddings'), false);
    assert.equal(isBuiltInFunction('toString'), false);
    assert.equal(isBuiltInFunction('__proto__'), false);
  });
});
