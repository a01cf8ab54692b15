import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  decodeGrpcMessage,
  encodeGrpcMessage,
  GrpcStatus,
  isGrpcContentType,
  parseGrpcTimeout,
  statusFromHeaders,
  statusHeaders,
  textMetadata,
} from './grpc-protocol.ts';

describe('grpc-message', () => {
  test('percent-encodes non-printable bytes and % as UTF-8, as PROTOCOL-HTTP2 shows', () => {
    assert.equal(encodeGrpcMessage('plain text ~'), 'plain text ~');
    assert.equal(encodeGrpcMessage('100%'), '100%25');
    assert.equal(encodeGrpcMessage('a\nb'), 'a%0Ab');
    assert.equal(encodeGrpcMessage('ü'), '%C3%BC');
  });

  test('round-trips any text (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        const encoded = encodeGrpcMessage(text);
        assert.match(encoded, /^[\x20-\x7e]*$/);
        assert.equal(decodeGrpcMessage(encoded), text);
      }),
    );
  });

  test('a malformed escape is kept as it is', () => {
    assert.equal(decodeGrpcMessage('50%'), '50%');
    assert.equal(decodeGrpcMessage('%zz%4'), '%zz%4');
    assert.equal(decodeGrpcMessage('%41%'), 'A%');
  });
});

describe('grpc-timeout', () => {
  test('reads every unit', () => {
    assert.equal(parseGrpcTimeout('2H'), 7_200_000);
    assert.equal(parseGrpcTimeout('3M'), 180_000);
    assert.equal(parseGrpcTimeout('4S'), 4_000);
    assert.equal(parseGrpcTimeout('250m'), 250);
    assert.equal(parseGrpcTimeout('1500u'), 1.5);
    assert.equal(parseGrpcTimeout('99999999n'), 99.999999);
    assert.equal(parseGrpcTimeout(undefined), undefined);
  });

  test('anything else is malformed (NaN)', () => {
    for (const value of ['', '1', 'm', '123456789S', '-1S', '1.5S', '1s', ['1S', '2S']]) {
      assert.ok(Number.isNaN(parseGrpcTimeout(value)), String(value));
    }
  });
});

describe('status headers', () => {
  test('a status and its trailers survive the round trip', () => {
    const headers = statusHeaders({
      code: GrpcStatus.NOT_FOUND,
      details: 'Model “m1” not found: 100%',
      metadata: { 'sluice-error-code': 'not_found' },
    });
    assert.deepEqual(statusFromHeaders(headers), {
      code: GrpcStatus.NOT_FOUND,
      details: 'Model “m1” not found: 100%',
      metadata: { 'sluice-error-code': 'not_found' },
    });
  });

  test('a missing or bad grpc-status is UNKNOWN', () => {
    assert.equal(statusFromHeaders({}).code, GrpcStatus.UNKNOWN);
    assert.equal(statusFromHeaders({ 'grpc-status': 'x' }).code, GrpcStatus.UNKNOWN);
  });

  test('metadata leaves out pseudo-headers, protocol headers and binary values', () => {
    const metadata = textMetadata(
      {
        ':path': '/x',
        'content-type': 'application/grpc',
        'grpc-status': '0',
        'x-trace-bin': 'AAE=',
        authorization: 'Bearer s',
        'x-request-id': 'r1',
      },
      'authorization',
    );
    assert.deepEqual(metadata, { 'x-request-id': 'r1' });
  });

  test('content types', () => {
    for (const value of ['application/grpc', 'application/grpc+proto', 'application/grpc;x=1']) {
      assert.equal(isGrpcContentType(value), true, value);
    }
    for (const value of [undefined, 'application/json', 'application/grpc-web', 'text/plain']) {
      assert.equal(isGrpcContentType(value), false, String(value));
    }
  });
});
