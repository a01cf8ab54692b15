// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ml-commons placeholders are literal text in these tests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildHeaders, buildUrl, sensitiveHeaderNames } from './payload.ts';
import { assertBadRequest } from './template.fixtures.ts';

describe('buildUrl', () => {
  it('substitutes parameters and defaults', () => {
    assert.equal(
      buildUrl('https://${parameters.host}/model/${parameters.model:-m1}/invoke', {
        host: 'h.example',
      }),
      'https://h.example/model/m1/invoke',
    );
  });

  it('rejects unresolved placeholders', () => {
    assertBadRequest(
      () => buildUrl('https://${parameters.host}/${parameters.path}/${parameters.host}', {}),
      'Some parameter placeholder not filled in url: host, path',
    );
  });
});

describe('buildHeaders', () => {
  const credential = { openAI_key: 'sk-SECRET-123', other: 'SECRET-OTHER' };

  it('resolves credentials and non-sensitive parameters', () => {
    assert.deepEqual(
      buildHeaders(
        {
          Authorization: 'Bearer ${credential.openAI_key}',
          'Content-Type': 'application/json',
          'X-Model': '${parameters.model}-${parameters.suffix:-v1}',
        },
        { model: 'gpt' },
        credential,
      ),
      {
        Authorization: 'Bearer sk-SECRET-123',
        'Content-Type': 'application/json',
        'X-Model': 'gpt-v1',
      },
    );
  });

  it('returns no headers when the action has none', () => {
    assert.deepEqual(buildHeaders(undefined, { a: 'b' }, credential), {});
  });

  const sensitiveCases = [...sensitiveHeaderNames].flatMap((name) => [
    name,
    name.toUpperCase(),
    name.replace(
      /(^|-)([a-z])/g,
      (_match, dash: string, letter: string) => dash + letter.toUpperCase(),
    ),
  ]);
  for (const name of sensitiveCases) {
    it(`refuses \${parameters.x} in sensitive header ${name}`, () => {
      assertBadRequest(
        () =>
          buildHeaders({ [name]: 'Bearer ${parameters.token}' }, { token: 'injected' }, credential),
        `Header '${name}' is a sensitive header and cannot use \${parameters.*} placeholders`,
      );
    });
  }

  it('allows credentials in sensitive headers', () => {
    assert.deepEqual(buildHeaders({ 'x-api-key': '${credential.other}' }, {}, credential), {
      'x-api-key': 'SECRET-OTHER',
    });
  });

  it('reports a missing credential without the header value', () => {
    const error = assertBadRequest(
      () =>
        buildHeaders(
          { Authorization: 'Bearer ${credential.openAI_key} ${credential.missing}' },
          {},
          credential,
        ),
      "Header 'Authorization' contains unresolved placeholder. Required parameter is missing.",
    );
    assert.ok(!error.message.includes('SECRET'));
  });

  it('reports a missing parameter without the header value', () => {
    const error = assertBadRequest(
      () => buildHeaders({ 'X-Trace': '${credential.other}/${parameters.trace}' }, {}, credential),
      "Header 'X-Trace' contains unresolved placeholder. Required parameter is missing.",
    );
    assert.ok(!error.message.includes('SECRET'));
  });

  it('a request parameter cannot pull in a credential', () => {
    const error = assertBadRequest(
      () =>
        buildHeaders(
          { 'X-Echo': '${parameters.echo}' },
          { echo: '${credential.openAI_key}' },
          credential,
        ),
      "Header 'X-Echo' contains unresolved placeholder. Required parameter is missing.",
    );
    assert.ok(!error.message.includes('SECRET'));
  });

  it('a credential cycle does not leak credential text', () => {
    const error = assertBadRequest(
      () =>
        buildHeaders(
          { Authorization: '${credential.a}' },
          {},
          { a: 'SECRET-${credential.SECRET_NAME}', SECRET_NAME: '${credential.a}' },
        ),
      /^Header 'Authorization' contains placeholders that reference each other/,
    );
    assert.ok(!error.message.includes('SECRET'));
  });

  it('refuses line breaks in a resolved value', () => {
    const error = assertBadRequest(
      () => buildHeaders({ 'X-Model': '${parameters.model}' }, { model: '[1,\n2]' }, credential),
      "Header 'X-Model' contains a line break or NUL character",
    );
    assert.ok(!error.message.includes('[1'));
  });
});
