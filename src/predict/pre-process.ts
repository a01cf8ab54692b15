/**
 * ml-commons' built-in pre-process functions (`MLPreProcessFunction` and
 * `connector/functions/preprocess/*`, ml-commons-reference.md §7.6), ported one to one.
 *
 * A built-in turns the `text_docs` (embedding) or `query_text` + `text_docs` (rerank) form of a
 * predict request into connector parameters. Lists and objects are written as gson writes them
 * (`convertScriptStringToJsonString`), so `${parameters.input}` splices the same bytes into the
 * payload as ml-commons would. A request that already uses the `parameters` form is passed
 * through unchanged, as every built-in does (`returnDirectlyForRemoteInferenceInput`).
 */

import { escapeGsonString } from '../connector/escape.ts';
import { escapeRequestParameters, toParameterMap } from '../connector/parameters.ts';
import { badRequest } from '../domain/errors.ts';

export interface PreProcessInput {
  /** Embedding input; ml-commons' multimodal functions allow `null` as "no text". */
  text_docs?: ReadonlyArray<string | null>;
  /** Rerank query (ml-commons `query_text`); together with text_docs it selects the rerank form. */
  query?: string;
  /** The `parameters` form of a predict request. */
  parameters?: Record<string, unknown>;
}

type DocumentsFunction = (name: string, documents: ReadonlyArray<string | null>) => ParameterMap;
type RerankFunction = (query: string, documents: readonly string[]) => ParameterMap;
type ParameterMap = Record<string, string>;

type BuiltIn =
  | { kind: 'documents'; process: DocumentsFunction }
  | { kind: 'rerank'; process: RerankFunction };

/** `OpenAIEmbeddingPreProcessFunction` (also `default.embedding`): all docs as `input`. */
const openAiEmbedding: DocumentsFunction = (name, documents) => ({
  input: gsonStringList(textDocuments(name, documents)),
});

/** `CohereEmbeddingPreProcessFunction`: all docs as `texts`. */
const cohereEmbedding: DocumentsFunction = (name, documents) => ({
  texts: gsonStringList(textDocuments(name, documents)),
});

/**
 * `BedrockEmbeddingPreProcessFunction` (also `nova.text_embedding`): Titan embeds one text per
 * call, so only the first doc is used, as in ml-commons.
 */
const bedrockEmbedding: DocumentsFunction = (name, documents) => ({
  inputText: firstDocument(name, documents, 'text'),
});

/** `MultiModalConnectorPreProcessFunction`: `[text, image]`; the text may be null. */
const bedrockMultimodalEmbedding: DocumentsFunction = (name, documents) => {
  const [text, image] = documents;
  if (documents.length === 0 || (documents.length === 1 && text === null)) {
    throw badRequest(`${name}: no input text or image provided in text_docs`);
  }
  // A null entry stays absent, so a `${parameters.inputImage:-null}` template default applies.
  return {
    ...(typeof text === 'string' ? { inputText: text } : {}),
    ...(typeof image === 'string' ? { inputImage: image } : {}),
  };
};

/** `CohereMultiModalEmbeddingPreProcessFunction`: one image data URI as `images`. */
const cohereMultimodalEmbedding: DocumentsFunction = (name, documents) => ({
  images: firstDocument(name, documents, 'image'),
});

/** `ImageEmbeddingPreProcessFunction` / `Video…` / `Audio…` (Bedrock Nova): the first doc. */
function novaSingleModality(parameter: string, what: string): DocumentsFunction {
  return (name, documents) => ({ [parameter]: firstDocument(name, documents, what) });
}

/**
 * `NovaMultiModalEmbeddingPreProcessFunction`: the first doc, under the parameter its content
 * suggests (it looks for a quoted "text", "image", "video" or "audio" key, text by default).
 */
const novaEmbedding: DocumentsFunction = (name, documents) => {
  const input = firstDocument(name, documents, 'input');
  const modality = ['text', 'image', 'video', 'audio'].find((key) => input.includes(`"${key}"`));
  const parameter = `input${capitalize(modality ?? 'text')}`;
  return { [parameter]: input };
};

/** `CohereRerankPreProcessFunction` (also `default.rerank`). */
const cohereRerank: RerankFunction = (query, documents) => ({
  query,
  documents: gsonStringList(documents),
  top_n: String(documents.length),
});

/** `BedrockRerankPreProcessFunction`: the Bedrock Agent Runtime `Rerank` request pieces. */
const bedrockRerank: RerankFunction = (query, documents) => ({
  queries: `[{"textQuery":{"text":${gsonString(query)}},"type":"TEXT"}]`,
  sources: `[${documents
    .map(
      (document) =>
        `{"inlineDocumentSource":{"textDocument":{"text":${gsonString(document)}},"type":"TEXT"},` +
        '"type":"INLINE"}',
    )
    .join(',')}]`,
  numberOfResults: String(documents.length),
});

const builtIns: Readonly<Record<string, BuiltIn>> = {
  'connector.pre_process.openai.embedding': { kind: 'documents', process: openAiEmbedding },
  'connector.pre_process.default.embedding': { kind: 'documents', process: openAiEmbedding },
  'connector.pre_process.cohere.embedding': { kind: 'documents', process: cohereEmbedding },
  'connector.pre_process.cohere.multimodal_embedding': {
    kind: 'documents',
    process: cohereMultimodalEmbedding,
  },
  'connector.pre_process.bedrock.embedding': { kind: 'documents', process: bedrockEmbedding },
  'connector.pre_process.bedrock.multimodal_embedding': {
    kind: 'documents',
    process: bedrockMultimodalEmbedding,
  },
  'connector.pre_process.bedrock.nova.embedding': { kind: 'documents', process: novaEmbedding },
  'connector.pre_process.bedrock.nova.text_embedding': {
    kind: 'documents',
    process: bedrockEmbedding,
  },
  'connector.pre_process.bedrock.nova.image_embedding': {
    kind: 'documents',
    process: novaSingleModality('inputImage', 'image'),
  },
  'connector.pre_process.bedrock.nova.video_embedding': {
    kind: 'documents',
    process: novaSingleModality('inputVideo', 'video'),
  },
  'connector.pre_process.bedrock.nova.audio_embedding': {
    kind: 'documents',
    process: novaSingleModality('inputAudio', 'audio'),
  },
  'connector.pre_process.cohere.rerank': { kind: 'rerank', process: cohereRerank },
  'connector.pre_process.default.rerank': { kind: 'rerank', process: cohereRerank },
  'connector.pre_process.bedrock.rerank': { kind: 'rerank', process: bedrockRerank },
};

export const BUILT_IN_PRE_PROCESS_FUNCTIONS: readonly string[] = Object.keys(builtIns);

export function isBuiltInPreProcessFunction(name: string): boolean {
  return Object.hasOwn(builtIns, name);
}

/**
 * Runs a built-in pre-process function and returns the parameters it contributes, escaped as
 * ml-commons' `ConnectorUtils.processInput` leaves them (`escapeRemoteInferenceInputData`): JSON
 * lists stay raw for unquoted splicing, plain text is JSON-escaped for `"${parameters.x}"`. They
 * are ready for the merge of §7.1 step 4 and must not be escaped again.
 *
 * @throws ServiceError `bad_request` for an unknown name or an input form the function cannot take.
 */
export function preProcess(name: string, input: PreProcessInput): Record<string, string> {
  const builtIn = isBuiltInPreProcessFunction(name) ? builtIns[name] : undefined;
  if (builtIn === undefined) {
    throw badRequest(
      `${name} is not a supported built-in pre-process function; supported: ` +
        BUILT_IN_PRE_PROCESS_FUNCTIONS.join(', '),
    );
  }
  const { text_docs: documents, query, parameters } = input;
  if (builtIn.kind === 'rerank') {
    if (query === undefined || documents === undefined) {
      if (documents === undefined && parameters !== undefined) return passThrough(parameters);
      throw badRequest(
        `${name} needs a text similarity input: query_text and text_docs (a list of strings)`,
      );
    }
    return escapeRequestParameters(builtIn.process(query, textDocuments(name, documents)));
  }
  if (documents === undefined) {
    if (query === undefined && parameters !== undefined) return passThrough(parameters);
    throw badRequest(`${name} needs a text_docs input (a list of strings)`);
  }
  if (query !== undefined) {
    throw badRequest(`${name} takes text_docs only; a query is for rerank functions`);
  }
  return escapeRequestParameters(builtIn.process(name, documents));
}

/** A `parameters`-form request goes through untouched, escaped like any request parameters. */
function passThrough(parameters: Record<string, unknown>): Record<string, string> {
  return escapeRequestParameters(toParameterMap(parameters));
}

function textDocuments(name: string, documents: ReadonlyArray<string | null>): string[] {
  if (documents.length === 0) throw badRequest(`${name}: text_docs is empty`);
  return documents.map((document, index) => {
    if (typeof document !== 'string') {
      throw badRequest(`${name}: text_docs[${index}] must be a string`);
    }
    return document;
  });
}

function firstDocument(
  name: string,
  documents: ReadonlyArray<string | null>,
  what: string,
): string {
  const first = documents[0];
  if (typeof first !== 'string') {
    throw badRequest(`${name}: no input ${what} provided; text_docs[0] must be a string`);
  }
  return first;
}

/** `gson.toJson(String)`, quotes included. */
function gsonString(value: string): string {
  return `"${escapeGsonString(value)}"`;
}

/** `gson.toJson(List<String>)`: compact, with gson's HTML-safe escaping. */
function gsonStringList(values: readonly string[]): string {
  return `[${values.map(gsonString).join(',')}]`;
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
