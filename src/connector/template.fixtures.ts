// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ml-commons placeholders are literal text in these tests.
/** Shared by the template tests: a table of substitutions, one test each. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import { substitute } from './template.ts';

interface Case {
  name: string;
  template: string;
  variables: Record<string, string>;
  expected: string;
}

export function check(cases: Case[]): void {
  for (const { name, template, variables, expected } of cases) {
    it(name, () => assert.equal(substitute(template, variables, '${parameters.'), expected));
  }
}

/** Asserts a ServiceError(bad_request, 400) whose message equals or matches `message`. */
export function assertBadRequest(action: () => unknown, message: string | RegExp): ServiceError {
  let caught: ServiceError | undefined;
  assert.throws(action, (error: unknown) => {
    assert.ok(ServiceError.isInstance(error), 'a ServiceError');
    assert.equal(error.code, 'bad_request');
    assert.equal(error.status, 400);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    caught = error;
    return true;
  });
  assert.ok(caught);
  return caught;
}
