import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import { codeName, GrpcCallError, GrpcStatus as status } from './grpc-protocol.ts';
import { errorFromCall, isFlightTransportFailure, statusFromError } from './status.ts';

const live = new AbortController().signal;
const grpcError = (code: number, details: string, metadata: Record<string, string> = {}) =>
  new GrpcCallError({ code, details, metadata });

describe('ServiceError → gRPC status → ServiceError', () => {
  test('every field survives the round trip', () => {
    const original = new ServiceError(ErrorCode.TooManyRequests, 'Slow down', {
      status: 429,
      type: 'rate_limit_exception',
      retryable: true,
    });
    const sent = statusFromError(original);
    assert.equal(sent.code, status.RESOURCE_EXHAUSTED);
    const received = errorFromCall(grpcError(sent.code, sent.details, sent.metadata), live);
    assert.equal(received.code, ErrorCode.TooManyRequests);
    assert.equal(received.message, 'Slow down');
    assert.equal(received.status, 429);
    assert.equal(received.type, 'rate_limit_exception');
    assert.equal(received.retryable, true);
    assert.equal(isFlightTransportFailure(received), false);
  });

  test('an unknown error is sent as a generic internal error', () => {
    const sent = statusFromError(new Error('password=hunter2'));
    assert.equal(sent.code, status.INTERNAL);
    assert.equal(sent.details, 'Internal error');
  });

  test('a trailer with an unknown code is ignored', () => {
    const received = errorFromCall(
      grpcError(status.INTERNAL, 'boom', { 'sluice-error-code': 'made_up' }),
      live,
    );
    assert.equal(received.code, ErrorCode.Internal);
    assert.match(received.message, /boom/);
  });
});

describe('transport statuses', () => {
  const cases: [number, ErrorCode, RegExp, boolean][] = [
    [status.UNAVAILABLE, ErrorCode.UpstreamUnavailable, /unavailable/, true],
    [status.CANCELLED, ErrorCode.UpstreamUnavailable, /cancelled/, true],
    [status.UNAUTHENTICATED, ErrorCode.Internal, /rejected the cluster secret/, false],
    [status.DEADLINE_EXCEEDED, ErrorCode.Timeout, /timed out/, false],
    [status.UNIMPLEMENTED, ErrorCode.Internal, /Flight call failed/, false],
  ];
  for (const [code, expected, message, transport] of cases) {
    test(`gRPC ${codeName(code)} → ${expected}`, () => {
      const error = errorFromCall(grpcError(code, 'details'), live);
      assert.equal(error.code, expected);
      assert.match(error.message, message);
      assert.equal(error.retryable, transport);
      assert.equal(isFlightTransportFailure(error), transport);
    });
  }

  test('after our own abort, the abort wins over the status', () => {
    const controller = new AbortController();
    controller.abort();
    const error = errorFromCall(
      grpcError(status.CANCELLED, 'Cancelled on client'),
      controller.signal,
    );
    assert.equal(error.code, ErrorCode.Canceled);
    const timedOut = errorFromCall(
      grpcError(status.CANCELLED, 'x'),
      AbortSignal.abort(new DOMException('late', 'TimeoutError')),
    );
    assert.equal(timedOut.code, ErrorCode.Timeout);
  });
});
