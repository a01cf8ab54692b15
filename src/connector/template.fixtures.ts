// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ml-commons placeholders are literal text in these tests.
/** Shared by the template tests: a table of substitutions, one test each. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
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
