/**
 * Connector `pre_process_function` / `post_process_function` names (ml-commons-reference.md §7.6).
 *
 * ml-commons accepts either a built-in name (`connector.pre_process.*`, `connector.post_process.*`)
 * or a Painless script. Sluice runs the built-ins (./pre-process.ts, ./post-process.ts) and refuses
 * scripts up front, when the connector is created, instead of failing every predict call later.
 *
 * Names with `${parameters.x}` placeholders: ml-commons substitutes them before the built-in
 * lookup (`ConnectorUtils.fillProcessFunctionParameter`), but with gson-encoded values, i.e.
 * strings keep their quotes (`connector.post_process."cohere".embedding`). A templated name can
 * therefore never resolve to a built-in and is always a script; it is refused as such, with no
 * substitution needed from the caller.
 */

import { badRequest } from '../domain/errors.ts';
import { BUILT_IN_POST_PROCESS_FUNCTIONS, isBuiltInPostProcessFunction } from './post-process.ts';
import { BUILT_IN_PRE_PROCESS_FUNCTIONS, isBuiltInPreProcessFunction } from './pre-process.ts';

export {
  BUILT_IN_POST_PROCESS_FUNCTIONS,
  defaultResponseFilter,
  isBuiltInPostProcessFunction,
  postProcess,
  resultDataTypeOf,
} from './post-process.ts';
export {
  BUILT_IN_PRE_PROCESS_FUNCTIONS,
  isBuiltInPreProcessFunction,
  type PreProcessInput,
  preProcess,
} from './pre-process.ts';

export type ProcessFunctionKind = 'pre' | 'post';

const builtInPrefix: Record<ProcessFunctionKind, string> = {
  pre: 'connector.pre_process.',
  post: 'connector.post_process.',
};

/** Whether `name` is one of ml-commons' built-in pre- or post-process functions. */
export function isBuiltInFunction(name: string): boolean {
  return isBuiltInPreProcessFunction(name) || isBuiltInPostProcessFunction(name);
}

/**
 * Accepts a built-in function name of the given kind and refuses everything else with a 400 that
 * lists what is supported: unknown `connector.*` names, built-ins of the other kind, and Painless
 * scripts (which Sluice does not run).
 */
export function validateProcessFunction(name: string, kind: ProcessFunctionKind): void {
  const isKnown = kind === 'pre' ? isBuiltInPreProcessFunction : isBuiltInPostProcessFunction;
  if (isKnown(name)) return;
  const field = `${kind}_process_function`;
  const supported = `Supported ${field} values: ${supportedNames(kind).join(', ')}`;
  const otherKind: ProcessFunctionKind = kind === 'pre' ? 'post' : 'pre';
  if (name.startsWith(builtInPrefix[otherKind]) && !name.includes('${')) {
    throw badRequest(
      `${name} is a ${otherKind}-process function and cannot be a ${field}. ${supported}`,
    );
  }
  if (name.startsWith(builtInPrefix[kind]) && !name.includes('${')) {
    throw badRequest(`${name} is not a supported built-in function. ${supported}`);
  }
  throw badRequest(
    `${field} ${describeScript(name)} is not a built-in function name, so ml-commons would run it ` +
      `as a Painless script; Painless scripts are not supported by Sluice. ${supported}`,
  );
}

function supportedNames(kind: ProcessFunctionKind): readonly string[] {
  return kind === 'pre' ? BUILT_IN_PRE_PROCESS_FUNCTIONS : BUILT_IN_POST_PROCESS_FUNCTIONS;
}

/** Scripts can be long and multi-line; quote only their start. */
function describeScript(name: string): string {
  const oneLine = name.replace(/\s+/g, ' ').trim();
  return JSON.stringify(oneLine.length > 60 ? `${oneLine.slice(0, 60)}…` : oneLine);
}
