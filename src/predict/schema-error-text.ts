/**
 * Schema violations worded as ml-commons reports them. ml-commons validates with networknt's
 * json-schema-validator and prints its messages as `Validation failed: [<message>, …]`, each
 * message starting with the instance location as a JSON path (`$.parameters.messages[0]`):
 * `$.parameters: required property 'messages' not found`, `$.parameters.messages: string found,
 * array expected`. Sluice validates with ajv; this turns ajv's errors into that wording.
 *
 * ml-commons also appends the whole instance and schema; Sluice does not: the instance is the
 * caller's parameters (long prompts, possibly keys) and would end up in logs. No message here
 * quotes a value of the instance, only its type, size or property names.
 */
import type { ErrorObject } from 'ajv/dist/2020.js';

/** More violations than this are counted, not listed, so an error body stays small. */
const listedErrors = 20;

export function describeSchemaErrors(errors: readonly ErrorObject[], instance: unknown): string {
  // Only the listed ones are worded: wording walks the instance for each.
  const listed = errors
    .slice(0, listedErrors)
    .map((error) => describeSchemaError(error, instance))
    .filter((message) => message !== undefined);
  if (errors.length > listedErrors) listed.push(`… and ${errors.length - listedErrors} more`);
  return `Validation failed: [${listed.join(', ')}]`;
}

/** One violation in networknt's words, or undefined for ajv's summary of an `if`/`then`. */
function describeSchemaError(error: ErrorObject, instance: unknown): string | undefined {
  const { location, value } = locate(error.instancePath, instance);
  const parameters = error.params as Record<string, unknown>;
  const parameter = (name: string) => String(parameters[name]);
  switch (error.keyword) {
    case 'required':
      return `${location}: required property '${parameter('missingProperty')}' not found`;
    case 'type':
      return `${location}: ${typeOf(value)} found, ${expectedTypes(parameters['type'])} expected`;
    case 'additionalProperties':
      return `${location}: property '${parameter('additionalProperty')}' is not defined in the schema and the schema does not allow additional properties`;
    case 'unevaluatedProperties':
      return `${location}: property '${parameter('unevaluatedProperty')}' is not evaluated and the schema does not allow unevaluated properties`;
    case 'enum':
      return `${location}: does not have a value in the enumeration ${JSON.stringify(parameters['allowedValues'])}`;
    case 'const':
      return `${location}: must be the constant value '${JSON.stringify(parameters['allowedValue'])}'`;
    case 'minLength':
      return `${location}: must be at least ${parameter('limit')} characters long`;
    case 'maxLength':
      return `${location}: must be at most ${parameter('limit')} characters long`;
    case 'minimum':
      return `${location}: must have a minimum value of ${parameter('limit')}`;
    case 'maximum':
      return `${location}: must have a maximum value of ${parameter('limit')}`;
    case 'exclusiveMinimum':
      return `${location}: must have an exclusive minimum value of ${parameter('limit')}`;
    case 'exclusiveMaximum':
      return `${location}: must have an exclusive maximum value of ${parameter('limit')}`;
    case 'minItems':
      return `${location}: expected at least ${parameter('limit')} items but found ${sizeOf(value)}`;
    case 'maxItems':
      return `${location}: must have at most ${parameter('limit')} items but found ${sizeOf(value)}`;
    case 'minProperties':
      return `${location}: must have at least ${parameter('limit')} properties`;
    case 'maxProperties':
      return `${location}: must have at most ${parameter('limit')} properties`;
    case 'pattern':
      return `${location}: does not match the regex pattern ${parameter('pattern')}`;
    case 'multipleOf':
      return `${location}: must be multiple of ${parameter('multipleOf')}`;
    case 'uniqueItems':
      return `${location}: must have only unique items in the array`;
    case 'oneOf': {
      const passing = parameters['passingSchemas'];
      const count = Array.isArray(passing) ? passing.length : 0;
      return `${location}: must be valid to one and only one schema, but ${count} are valid`;
    }
    case 'anyOf':
      return `${location}: must be valid to any of the schemas`;
    case 'not':
      return `${location}: must not be valid to the schema`;
    case 'false schema':
      return `${location}: boolean schema false is not valid`;
    case 'dependentRequired':
    case 'dependencies':
      return `${location}: has a missing property '${parameter('missingProperty')}' which is dependent required because '${parameter('property')}' is present`;
    case 'propertyNames':
      return `${location}: property '${parameter('propertyName')}' name is not valid`;
    case 'contains':
      return `${location}: does not contain an element that passes these validations`;
    case 'if':
      // networknt reports only the failing branch's own violations, which ajv lists as well.
      return undefined;
    default:
      return `${location}: ${error.message ?? 'is not valid'}`;
  }
}

/** ajv's JSON pointer as networknt's JSON path, and the instance value it points at. */
function locate(pointer: string, instance: unknown): { location: string; value: unknown } {
  let location = '$';
  let value = instance;
  if (pointer === '') return { location, value };
  for (const escaped of pointer.slice(1).split('/')) {
    const segment = escaped.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(value)) {
      location += `[${segment}]`;
      value = value[Number(segment)];
      continue;
    }
    location += /^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)
      ? `.${segment}`
      : `['${segment.replaceAll("'", "\\'")}']`;
    value =
      typeof value === 'object' && value !== null && Object.hasOwn(value, segment)
        ? (value as Record<string, unknown>)[segment]
        : undefined;
  }
  return { location, value };
}

/** networknt's names for JSON types: a whole number is an `integer`. */
function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function expectedTypes(types: unknown): string {
  return Array.isArray(types) ? `[${types.join(', ')}]` : String(types);
}

function sizeOf(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}
