/**
 * ml-commons checks every predict request (`_predict` and `_predict/stream`) against the JSON
 * schema a model declares in `interface.input` before calling the provider
 * (TransportPredictionTaskAction#validateInputSchema), and answers 400 with
 * "Error validating input schema, … for this model: <details>". Sluice does the same.
 *
 * What is validated is not the request body but ml-commons' MLInput written as JSON:
 * `{"algorithm":"REMOTE","parameters":{…},"action_type":"PREDICT"}`, whose parameters went
 * through two conversions (MLNodeUtils#processRemoteInferenceInputDataSetParametersValue):
 * - parsing kept every parameter as text (a `messages` array becomes its JSON text, gson-style);
 * - before validating, each text is read back as JSON (Jackson's lenient `readTree`, see
 *   leading-json.ts) unless the schema declares that very parameter (`properties.parameters.
 *   properties.<name>.type`) as `"string"`; text that is not JSON stays text.
 * So `"max_tokens": "5"` is the number 5 for the schema, and a `messages` array declared as a
 * string is accepted as its JSON text. A stream also carries `"stream": "true"`, which ml-commons'
 * stream endpoint adds to the parameters.
 *
 * The schema dialect is JSON Schema 2020-12 (ml-commons uses networknt with V202012); a schema
 * naming draft 2019-09 or draft-07 in `$schema` is read as that draft. Formats are annotations
 * (2020-12's default), unknown keywords are ignored, and `$ref` resolves only inside the schema
 * (nothing is fetched). Each schema is compiled once and kept, keyed by its text.
 */
import { Ajv } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { ModelDocument } from '../domain/model.ts';
import { readLeadingJson } from './leading-json.ts';
import type { PredictBody } from './prepare.ts';
import { describeSchemaErrors } from './schema-error-text.ts';

/** Which endpoint a request came through: a stream's parameters carry `stream: "true"`. */
export type PredictKind = 'predict' | 'stream';

export const inputSchemaErrorPrefix =
  "Error validating input schema, if you think this is expected, please update your 'input' field in the 'interface' field for this model: ";

type Compiler = Ajv | Ajv2019 | Ajv2020;
type Dialect = '2020-12' | '2019-09' | 'draft-07';

const dialects: Record<string, Dialect> = {
  'json-schema.org/draft/2020-12/schema': '2020-12',
  'json-schema.org/draft/2019-09/schema': '2019-09',
  'json-schema.org/draft-07/schema': 'draft-07',
};

type CompiledSchema =
  | {
      usable: true;
      validate: ValidateFunction;
      /** Parameters the schema declares as strings: ml-commons does not read those as JSON. */
      stringParameters: ReadonlySet<string>;
      release: () => void;
    }
  | { usable: false; reason: string };

export class InputSchemaValidator {
  readonly #maxSchemas: number;
  // Insertion order is recency: a hit moves the entry to the end, the first one is evicted.
  readonly #schemas = new Map<string, CompiledSchema>();
  readonly #compilers = new Map<Dialect, Compiler>();
  #compilations = 0;

  constructor(options: { maxSchemas?: number } = {}) {
    this.#maxSchemas = Math.max(1, options.maxSchemas ?? 256);
  }

  /** How many schemas were compiled so far; a request whose schema is kept compiles none. */
  get compilations(): number {
    return this.#compilations;
  }

  /**
   * Throws a 400 ServiceError when the model declares an input schema that the request does not
   * satisfy, or that cannot be compiled. A model without one costs a property read.
   */
  check(modelInterface: ModelDocument['interface'], body: PredictBody, kind: PredictKind): void {
    const schemaText = inputSchemaText(modelInterface);
    if (schemaText === undefined) return;
    const schema = this.#schema(schemaText);
    if (!schema.usable) throw refusal(schema.reason);
    const instance = inputSchemaInstance(body, kind, schema.stringParameters);
    if (schema.validate(instance)) return;
    throw refusal(describeSchemaErrors(schema.validate.errors ?? [], instance));
  }

  #schema(text: string): CompiledSchema {
    const kept = this.#schemas.get(text);
    if (kept !== undefined) {
      this.#schemas.delete(text);
      this.#schemas.set(text, kept);
      return kept;
    }
    const compiled = this.#compile(text);
    this.#schemas.set(text, compiled);
    if (this.#schemas.size > this.#maxSchemas) {
      const [oldestText, oldest] = this.#schemas.entries().next().value as [string, CompiledSchema];
      this.#schemas.delete(oldestText);
      if (oldest.usable) oldest.release();
    }
    return compiled;
  }

  #compile(text: string): CompiledSchema {
    this.#compilations += 1;
    let schema: unknown;
    try {
      schema = JSON.parse(text);
    } catch (error) {
      return { usable: false, reason: `the schema is not JSON: ${messageOf(error)}` };
    }
    if (typeof schema === 'boolean') {
      // `true` accepts everything and `false` nothing; ajv keeps one entry for each, never more.
      return {
        usable: true,
        validate: this.#compiler('2020-12').compile(schema),
        stringParameters: new Set(),
        release: () => {},
      };
    }
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      return { usable: false, reason: 'the schema must be a JSON object' };
    }
    const declared = (schema as Record<string, unknown>)['$schema'];
    const dialect = dialectOf(declared);
    if (dialect === undefined) {
      return {
        usable: false,
        reason: `unsupported $schema ${JSON.stringify(declared)}: Sluice validates JSON Schema 2020-12 (the default), 2019-09 and draft-07`,
      };
    }
    const compiler = this.#compiler(dialect);
    const release = () => forget(compiler, schema as Record<string, unknown>);
    try {
      const validate = compiler.compile(schema);
      return { usable: true, validate, stringParameters: stringParametersOf(schema), release };
    } catch (error) {
      release();
      return {
        usable: false,
        reason: `the 'input' schema cannot be compiled: ${messageOf(error)}`,
      };
    }
  }

  #compiler(dialect: Dialect): Compiler {
    const existing = this.#compilers.get(dialect);
    if (existing !== undefined) return existing;
    // Like networknt, which ml-commons uses, unknown keywords are ignored. Unlike it, validation
    // stops at the first violation: listing all of them made a large request against a simple
    // schema (a million-item array) hold the event loop for seconds. Schemas are not registered
    // by `$id` (none is shared).
    const options = {
      strict: false,
      allErrors: false,
      validateFormats: false,
      addUsedSchema: false,
    };
    const compiler =
      dialect === '2020-12'
        ? new Ajv2020(options)
        : dialect === '2019-09'
          ? new Ajv2019(options)
          : new Ajv(options);
    this.#compilers.set(dialect, compiler);
    return compiler;
  }
}

/**
 * The JSON instance ml-commons validates for a request (see the module comment). The text_docs
 * form is written as ml-commons writes a text-docs input: the documents and its default result
 * filter, with the parameters only when there are some.
 */
export function inputSchemaInstance(
  body: PredictBody,
  kind: PredictKind,
  stringParameters: ReadonlySet<string>,
): Record<string, unknown> {
  const entries = Object.entries(body.parameters).filter(
    ([key]) => kind !== 'stream' || key !== 'stream',
  );
  if (kind === 'stream') entries.push(['stream', 'true']);
  const parameters = Object.fromEntries(
    entries.map(([key, value]): [string, unknown] => [
      key,
      instanceValue(value, stringParameters.has(key)),
    ]),
  );
  if (body.textDocs === undefined) {
    return { algorithm: 'REMOTE', parameters, action_type: 'PREDICT' };
  }
  return {
    algorithm: 'REMOTE',
    ...(entries.length === 0 ? {} : { parameters }),
    text_docs: body.textDocs,
    return_bytes: false,
    return_number: true,
  };
}

function instanceValue(value: unknown, declaredString: boolean): unknown {
  if (typeof value === 'string') {
    if (declaredString) return value;
    const json = readLeadingJson(value);
    return json === undefined ? value : json.value;
  }
  // ml-commons kept a non-string value as gson's JSON text, then read that text back.
  const text = gsonText(value);
  return declaredString ? text : JSON.parse(text);
}

/** gson's default `toJson`: object members whose value is null are left out (array items stay). */
function gsonText(value: unknown): string {
  return (
    JSON.stringify(value, (_key, member: unknown) => (member === null ? undefined : member)) ??
    'null'
  );
}

/** The schema text of `interface.input`, or undefined when there is none (blank counts as none). */
function inputSchemaText(modelInterface: ModelDocument['interface']): string | undefined {
  const input = modelInterface?.['input'];
  if (input === undefined || input === null) return undefined;
  if (typeof input === 'string') return input.trim() === '' ? undefined : input;
  // ml-commons stores an object given for `input` as its JSON text.
  return JSON.stringify(input);
}

function dialectOf(declared: unknown): Dialect | undefined {
  if (declared === undefined) return '2020-12';
  if (typeof declared !== 'string') return undefined;
  return dialects[declared.replace(/^https?:\/\//, '').replace(/#$/, '')];
}

/** Mirrors networknt's `schema.path("properties").path("parameters").path("properties")`. */
function stringParametersOf(schema: object): ReadonlySet<string> {
  const names = new Set<string>();
  const parameters = objectAt(objectAt(objectAt(schema, 'properties'), 'parameters'), 'properties');
  for (const [name, property] of Object.entries(parameters ?? {})) {
    if (objectOf(property)?.['type'] === 'string') names.add(name);
  }
  return names;
}

function objectAt(value: unknown, name: string): Record<string, unknown> | undefined {
  const object = objectOf(value);
  return object !== undefined && Object.hasOwn(object, name) ? objectOf(object[name]) : undefined;
}

function objectOf(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

/**
 * Drops a schema ajv keeps (by object) after compiling it, so the bounded map above bounds
 * memory. ajv's removeSchema also unregisters the schema's `$id`, which could be the id of a
 * meta-schema it relies on; this schema was never registered by id, so the id is cleared first.
 */
function forget(compiler: Compiler, schema: Record<string, unknown>): void {
  delete schema['$id'];
  compiler.removeSchema(schema);
}

function refusal(details: string): ServiceError {
  return new ServiceError(ErrorCode.BadRequest, `${inputSchemaErrorPrefix}${details}`, {
    type: 'status_exception',
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
