/**
 * Checks the smithy-based signer against an independent SigV4 computation written from the AWS
 * specification (canonical request → string to sign → HMAC chain) with node:crypto.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import type { UpstreamCall } from '../domain/provider.ts';
import { signCall } from './sigv4.ts';

const credentials = {
  accessKey: 'AKIDEXAMPLE',
  secretKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const signingDate = new Date('2024-05-01T12:34:56Z');
const longDate = '20240501T123456Z';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const hmac = (key: string | Buffer, text: string): Buffer =>
  createHmac('sha256', key).update(text).digest();

/** RFC 3986 encoding, as SigV4 requires. */
const encode = (text: string): string =>
  encodeURIComponent(text).replace(
    /[!'()*]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );

interface Expected {
  method: string;
  /** The path exactly as sent. */
  path: string;
  /** Decoded query pairs. */
  query: [string, string][];
  /** Lower-case names → values of the headers that are signed. */
  headers: Record<string, string>;
  body: string;
  region: string;
  service: string;
}

function expectedAuthorization(expected: Expected): string {
  // Every service but S3 encodes the (already encoded) path segments once more.
  const canonicalUri = expected.path
    .split('/')
    .map((segment) => encode(segment))
    .join('/');
  const canonicalQuery = expected.query
    .map(([name, value]) => `${encode(name)}=${encode(value)}`)
    .sort()
    .join('&');
  const names = Object.keys(expected.headers).sort();
  const canonicalHeaders = names
    .map((name) => `${name}:${expected.headers[name]?.trim()}\n`)
    .join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    expected.method,
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    sha256(expected.body),
  ].join('\n');
  const scope = `${longDate.slice(0, 8)}/${expected.region}/${expected.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', longDate, scope, sha256(canonicalRequest)].join('\n');
  const dateKey = hmac(`AWS4${credentials.secretKey}`, longDate.slice(0, 8));
  const signingKey = hmac(hmac(hmac(dateKey, expected.region), expected.service), 'aws4_request');
  const signature = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${credentials.accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

const host = 'bedrock-runtime.us-east-1.amazonaws.com';
const body = '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}';

function bedrockCall(path: string, headers: Record<string, string> = {}): UpstreamCall {
  return {
    method: 'POST',
    url: `https://${host}${path}`,
    headers: { 'Content-Type': 'application/json', ...headers },
    body,
  };
}

describe('signCall', () => {
  it('signs a Bedrock call whose model id holds a literal colon', async () => {
    const path = '/model/anthropic.claude-3-haiku-20240307-v1:0/converse-stream';
    const signed = await signCall(bedrockCall(path), credentials, 'us-east-1', 'bedrock', {
      signingDate,
    });
    assert.equal(signed.headers['host'], host);
    assert.equal(signed.headers['x-amz-date'], longDate);
    assert.equal(signed.headers['x-amz-content-sha256'], sha256(body));
    assert.equal(signed.headers['x-amz-security-token'], undefined);
    assert.equal(
      signed.headers['authorization'],
      expectedAuthorization({
        method: 'POST',
        path,
        query: [],
        headers: {
          'content-type': 'application/json',
          host,
          'x-amz-content-sha256': sha256(body),
          'x-amz-date': longDate,
        },
        body,
        region: 'us-east-1',
        service: 'bedrock',
      }),
    );
    assert.equal(signed.url, bedrockCall(path).url);
    assert.equal(signed.body, body);
  });

  it('signs an already-encoded colon as sent (double encoded in the canonical path)', async () => {
    const path = '/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream';
    const signed = await signCall(bedrockCall(path), credentials, 'us-east-1', 'bedrock', {
      signingDate,
    });
    const authorization = expectedAuthorization({
      method: 'POST',
      path,
      query: [],
      headers: {
        'content-type': 'application/json',
        host,
        'x-amz-content-sha256': sha256(body),
        'x-amz-date': longDate,
      },
      body,
      region: 'us-east-1',
      service: 'bedrock',
    });
    assert.equal(signed.headers['authorization'], authorization);
  });

  it('adds and signs x-amz-security-token when a session token is given', async () => {
    const path = '/model/m/invoke';
    const signed = await signCall(
      bedrockCall(path),
      { ...credentials, sessionToken: 'session-token-value' },
      'eu-west-1',
      'bedrock',
      { signingDate },
    );
    assert.equal(signed.headers['x-amz-security-token'], 'session-token-value');
    const authorization = signed.headers['authorization'] ?? '';
    assert.match(
      authorization,
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20240501\/eu-west-1\/bedrock\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
    assert.equal(
      authorization,
      expectedAuthorization({
        method: 'POST',
        path,
        query: [],
        headers: {
          'content-type': 'application/json',
          host,
          'x-amz-content-sha256': sha256(body),
          'x-amz-date': longDate,
          'x-amz-security-token': 'session-token-value',
        },
        body,
        region: 'eu-west-1',
        service: 'bedrock',
      }),
    );
  });

  it('keeps caller headers, replaces stale signer headers, signs the query as sent', async () => {
    const call: UpstreamCall = {
      method: 'post',
      url: 'https://runtime.sagemaker.us-east-1.amazonaws.com:8443/endpoints/e/invocations?b=2&a=x+y&a=%2F',
      headers: {
        'Content-Type': 'application/json',
        'X-Custom': '  spaced   value ',
        Authorization: 'stale',
        'X-Amz-Date': '19990101T000000Z',
        Host: 'wrong.example.com',
      },
      body,
    };
    const signed = await signCall(call, credentials, 'us-east-1', 'sagemaker', { signingDate });
    const names = Object.keys(signed.headers).map((name) => name.toLowerCase());
    assert.equal(names.filter((name) => name === 'authorization').length, 1);
    assert.equal(names.filter((name) => name === 'x-amz-date').length, 1);
    assert.equal(names.filter((name) => name === 'host').length, 1);
    assert.equal(signed.headers['X-Custom'], '  spaced   value ');
    assert.equal(signed.headers['host'], 'runtime.sagemaker.us-east-1.amazonaws.com:8443');
    assert.equal(
      signed.headers['authorization'],
      expectedAuthorization({
        method: 'POST',
        path: '/endpoints/e/invocations',
        // `+` is a literal plus on the wire, not a space.
        query: [
          ['b', '2'],
          ['a', 'x+y'],
          ['a', '/'],
        ],
        headers: {
          'content-type': 'application/json',
          host: 'runtime.sagemaker.us-east-1.amazonaws.com:8443',
          'x-amz-content-sha256': sha256(body),
          'x-amz-date': longDate,
          'x-custom': 'spaced value',
        },
        body,
        region: 'us-east-1',
        service: 'sagemaker',
      }),
    );
  });

  it('produces a fresh date and signature for each attempt', async () => {
    const call = bedrockCall('/model/m/invoke');
    const first = await signCall(call, credentials, 'us-east-1', 'bedrock', { signingDate });
    const later = await signCall(call, credentials, 'us-east-1', 'bedrock', {
      signingDate: new Date(signingDate.getTime() + 60_000),
    });
    assert.notEqual(first.headers['x-amz-date'], later.headers['x-amz-date']);
    assert.notEqual(first.headers['authorization'], later.headers['authorization']);
    assert.equal(call.headers['authorization'], undefined, 'the input call is left untouched');
  });
});
