/**
 * ml-commons' built-in post-process functions (`MLPostProcessFunction` and
 * `connector/functions/postprocess/*`, ml-commons-reference.md §7.6), ported one to one.
 *
 * As in `ConnectorUtils.processOutput`, each function first reads the provider response with its
 * default JSONPath (or with `response_filter` when the connector or request sets one), derives the
 * tensor data type from that path (`parseMLResultDataTypeFromResponseFilter`: `$.embeddings.int8`
 * gives INT8), then shapes ModelTensors. Where ml-commons would crash on an unexpected shape (a
 * ClassCastException or NullPointerException deep in Java), Sluice checks every element and fails
 * with `upstream_protocol`, naming the function, the path and what was found.
 */

import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { ModelTensor } from '../domain/inference.ts';
import { applyResponseFilter, isPlainObject, toModelTensor } from './response-filter.ts';

type PostProcessor = (
  filtered: unknown,
  dataType: string | undefined,
  context: Context,
) => ModelTensor[];

interface Context {
  name: string;
  filter: string;
}

/**
 * ml-commons' `MLResultDataType` names in declaration order; the order matters because the first
 * name found in the filter wins (`$.embeddings.uint8` must not read as INT8).
 */
const RESULT_DATA_TYPES = [
  'FLOAT32',
  'FLOAT64',
  'FLOAT16',
  'UINT8',
  'INT32',
  'INT8',
  'INT64',
  'BOOLEAN',
  'UNKNOWN',
  'STRING',
] as const;

/**
 * Runs a built-in post-process function on a parsed provider response.
 *
 * @param responseFilter the effective `response_filter` parameter; blank or absent means the
 *   function's default path, exactly as ml-commons decides.
 * @throws ServiceError `bad_request` for an unknown name or invalid filter; `upstream_protocol`
 *   when the response does not have the shape the function needs.
 */
export function postProcess(
  name: string,
  response: unknown,
  responseFilter?: string,
): ModelTensor[] {
  const builtIn = isBuiltInPostProcessFunction(name) ? builtIns[name] : undefined;
  if (builtIn === undefined) {
    throw new ServiceError(
      ErrorCode.BadRequest,
      `${name} is not a supported built-in post-process function; supported: ` +
        BUILT_IN_POST_PROCESS_FUNCTIONS.join(', '),
    );
  }
  const filter =
    responseFilter === undefined || responseFilter.trim() === ''
      ? builtIn.defaultFilter
      : responseFilter;
  const filtered = applyResponseFilter(response, filter);
  if (filtered === null || filtered === undefined) {
    throw shapeError({ name, filter }, 'a value', filtered);
  }
  return builtIn.processor(filtered, resultDataTypeOf(filter), { name, filter });
}

/** `ConnectorUtils.parseMLResultDataTypeFromResponseFilter`: the first `.<TYPE>` in the path. */
export function resultDataTypeOf(filter: string): string | undefined {
  const lowerCaseFilter = filter.toLowerCase();
  return RESULT_DATA_TYPES.find((type) => lowerCaseFilter.includes(`.${type.toLowerCase()}`));
}

/** `EmbeddingPostProcessFunction`: a list of embeddings, one `sentence_embedding` tensor each. */
const embeddings: PostProcessor = (filtered, dataType, context) => {
  if (!Array.isArray(filtered)) throw shapeError(context, 'a list of embeddings', filtered);
  return filtered.map((embedding, index) => {
    if (!isNumberList(embedding) || embedding.length === 0) {
      throw shapeError(context, `embedding ${index} as a non-empty list of numbers`, embedding);
    }
    return embeddingTensor(embedding, dataType);
  });
};

/** `BedrockEmbeddingPostProcessFunction`: one embedding (Titan answers a single vector). */
const singleEmbedding: PostProcessor = (filtered, dataType, context) => {
  if (!isNumberList(filtered)) {
    throw shapeError(context, 'one embedding (a list of numbers)', filtered);
  }
  return [embeddingTensor(filtered, dataType)];
};

function embeddingTensor(embedding: number[], dataType: string | undefined): ModelTensor {
  return {
    name: 'sentence_embedding',
    data_type: dataType ?? 'FLOAT32',
    shape: [embedding.length],
    data: embedding,
  };
}

/**
 * `CohereRerankPostProcessFunction` / `BedrockRerankPostProcessFunction`: one `similarity` tensor
 * per result, placed by the result's document `index` (so tensors follow document order, not score
 * order, and line up with the request's text_docs).
 */
function rerank(scoreKey: 'relevance_score' | 'relevanceScore'): PostProcessor {
  return (filtered, _dataType, context) => {
    if (!Array.isArray(filtered)) throw shapeError(context, 'a list of rerank results', filtered);
    const scores: number[] = [];
    filtered.forEach((result, position) => {
      const index = isPlainObject(result) ? result['index'] : undefined;
      const score = isPlainObject(result) ? result[scoreKey] : undefined;
      if (typeof index !== 'number' || !Number.isInteger(index) || !isFiniteNumber(score)) {
        throw shapeError(
          context,
          `result ${position} with an integer index and a numeric ${scoreKey}`,
          result,
        );
      }
      // ml-commons sizes the score array by the result count, so top_n below the document count
      // cannot work there either; say so instead of failing with an index error.
      if (index < 0 || index >= filtered.length || scores[index] !== undefined) {
        throw new ServiceError(
          ErrorCode.UpstreamProtocol,
          `${context.name}: rerank result ${position} has document index ${index}, but the ` +
            `${filtered.length} results must cover indexes 0..${filtered.length - 1} once each ` +
            '(ask the provider for every document, e.g. top_n equal to the number of documents)',
        );
      }
      scores[index] = score;
    });
    return scores.map((score) => ({
      name: 'similarity',
      data_type: 'FLOAT32',
      shape: [1],
      data: [score],
    }));
  };
}

/** `BedrockBatchJobArnPostProcessFunction`: adds the URL-encoded ARN used by status/cancel URLs. */
const batchJobArn: PostProcessor = (filtered, _dataType, context) => {
  if (!isPlainObject(filtered)) throw shapeError(context, 'an object with jobArn', filtered);
  const jobArn = filtered['jobArn'];
  if (typeof jobArn !== 'string') throw shapeError(context, 'a string jobArn', jobArn);
  return [
    {
      name: 'response',
      dataAsMap: { ...filtered, processedJobArn: jobArn.replaceAll('/', '%2F') },
    },
  ];
};

/**
 * `RemoteMlCommonsPassthroughPostProcessFunction`: when the remote is itself ml-commons (or
 * answers in its envelope), its tensors are rebuilt as ours instead of being nested one level
 * deeper; anything else becomes a plain `response` tensor.
 */
const passthrough: PostProcessor = (filtered, _dataType, context) => {
  if (Array.isArray(filtered)) {
    // ml-commons accepts a list in validate() and then fails casting it to a Map; wrapping it like
    // an unfiltered response is the evident intent.
    return [toModelTensor(filtered)];
  }
  if (!isPlainObject(filtered)) throw shapeError(context, 'an object or a list', filtered);
  const inferenceResults = filtered['inference_results'];
  if (!Array.isArray(inferenceResults)) return [{ name: 'response', dataAsMap: filtered }];
  const tensors: ModelTensor[] = [];
  inferenceResults.forEach((result, resultIndex) => {
    if (!isPlainObject(result)) {
      throw shapeError(context, `inference_results[${resultIndex}] as an object`, result);
    }
    const outputs = result['output'];
    if (!Array.isArray(outputs)) return;
    outputs.forEach((output, outputIndex) => {
      const where = `inference_results[${resultIndex}].output[${outputIndex}]`;
      if (!isPlainObject(output)) throw shapeError(context, `${where} as an object`, output);
      const tensor = tensorFromMap(output, where, context);
      if (tensor !== undefined) tensors.push(tensor);
    });
  });
  return tensors;
};

function tensorFromMap(
  map: Record<string, unknown>,
  where: string,
  context: Context,
): ModelTensor | undefined {
  if (Object.keys(map).length === 0) return undefined;
  const name = map['name'];
  const dataType = map['data_type'];
  const shape = map['shape'];
  const data = map['data'];
  const result = map['result'];
  const dataAsMap = map['dataAsMap'];
  if (result !== undefined && result !== null && typeof result !== 'string') {
    throw shapeError(context, `${where}.result as a string`, result);
  }
  if (dataAsMap !== undefined && dataAsMap !== null && !isPlainObject(dataAsMap)) {
    throw shapeError(context, `${where}.dataAsMap as an object`, dataAsMap);
  }
  if (Array.isArray(shape) && !isNumberList(shape)) {
    throw shapeError(context, `${where}.shape as a list of numbers`, shape);
  }
  if (Array.isArray(data) && !isNumberList(data)) {
    throw shapeError(context, `${where}.data as a list of numbers`, data);
  }
  return {
    // ml-commons falls back to "output" (ModelTensors.OUTPUT_FIELD) for a missing name.
    name: typeof name === 'string' ? name : 'output',
    // Unknown data types are dropped, not rejected, as in ml-commons.
    ...(typeof dataType === 'string' && isResultDataType(dataType) ? { data_type: dataType } : {}),
    // Java reads shape entries with longValue(), which truncates.
    ...(Array.isArray(shape) ? { shape: shape.map((size) => Math.trunc(size)) } : {}),
    ...(Array.isArray(data) ? { data } : {}),
    ...(typeof result === 'string' ? { result } : {}),
    ...(isPlainObject(dataAsMap) ? { dataAsMap } : {}),
  };
}

const rerankCohere = rerank('relevance_score');

/** Built-in post-process functions with their default JSONPath, exactly as in ml-commons. */
const builtIns: Readonly<Record<string, { defaultFilter: string; processor: PostProcessor }>> = {
  'connector.post_process.openai.embedding': {
    defaultFilter: '$.data[*].embedding',
    processor: embeddings,
  },
  'connector.post_process.cohere.embedding': {
    defaultFilter: '$.embeddings',
    processor: embeddings,
  },
  'connector.post_process.cohere_v2.embedding.float': {
    defaultFilter: '$.embeddings.float',
    processor: embeddings,
  },
  'connector.post_process.cohere_v2.embedding.int8': {
    defaultFilter: '$.embeddings.int8',
    processor: embeddings,
  },
  'connector.post_process.cohere_v2.embedding.uint8': {
    defaultFilter: '$.embeddings.uint8',
    processor: embeddings,
  },
  'connector.post_process.cohere_v2.embedding.binary': {
    defaultFilter: '$.embeddings.binary',
    processor: embeddings,
  },
  'connector.post_process.cohere_v2.embedding.ubinary': {
    defaultFilter: '$.embeddings.ubinary',
    processor: embeddings,
  },
  'connector.post_process.default.embedding': { defaultFilter: '$[*]', processor: embeddings },
  'connector.post_process.bedrock.embedding': {
    defaultFilter: '$.embedding',
    processor: singleEmbedding,
  },
  'connector.post_process.bedrock_v2.embedding.float': {
    defaultFilter: '$.embeddingsByType.float',
    processor: singleEmbedding,
  },
  'connector.post_process.bedrock_v2.embedding.binary': {
    defaultFilter: '$.embeddingsByType.binary',
    processor: singleEmbedding,
  },
  'connector.post_process.bedrock.nova.embedding': {
    defaultFilter: '$.embeddings[*].embedding',
    processor: embeddings,
  },
  'connector.post_process.bedrock.batch_job_arn': { defaultFilter: '$', processor: batchJobArn },
  'connector.post_process.cohere.rerank': { defaultFilter: '$.results', processor: rerankCohere },
  'connector.post_process.bedrock.rerank': {
    defaultFilter: '$.results',
    processor: rerank('relevanceScore'),
  },
  'connector.post_process.default.rerank': { defaultFilter: '$[*]', processor: rerankCohere },
  'connector.post_process.mlcommons.passthrough': { defaultFilter: '$', processor: passthrough },
};

export const BUILT_IN_POST_PROCESS_FUNCTIONS: readonly string[] = Object.keys(builtIns);

export function isBuiltInPostProcessFunction(name: string): boolean {
  return Object.hasOwn(builtIns, name);
}

/** The JSONPath a built-in applies when no response_filter is set, or undefined. */
export function defaultResponseFilter(name: string): string | undefined {
  return isBuiltInPostProcessFunction(name) ? builtIns[name]?.defaultFilter : undefined;
}

function isResultDataType(value: string): boolean {
  return (RESULT_DATA_TYPES as readonly string[]).includes(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isNumberList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every(isFiniteNumber);
}

function shapeError(context: Context, expected: string, found: unknown): ServiceError {
  return new ServiceError(
    ErrorCode.UpstreamProtocol,
    `${context.name} expected ${expected} at ${context.filter} in the remote model response, ` +
      `but found ${describeValue(found)}`,
  );
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length} item(s)`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.slice(0, 40))})`;
  return `${typeof value} ${String(value)}`;
}
