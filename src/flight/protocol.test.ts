import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeAction,
  decodeActionType,
  decodeEmpty,
  decodeFlightData,
  decodeHandshake,
  decodeResult,
  decodeTicket,
  encodeAction,
  encodeActionType,
  encodeFlightData,
  encodeHandshake,
  encodeResult,
  encodeTicket,
  FlightDescriptorType,
  ProtocolDecodeError,
} from './protocol.ts';

const bytes = (...values: number[]) => Uint8Array.from(values);
const empty = new Uint8Array(0);
/** Encoders return Buffers (what the transport writes); decoding a plain copy keeps deepEqual simple. */
const plain = (encoded: Uint8Array) => new Uint8Array(encoded);

describe('FlightData', () => {
  test('uses the published field numbers, data_body = 1000 (key C2 3E)', () => {
    const encoded = encodeFlightData({
      dataHeader: bytes(1, 2),
      appMetadata: bytes(3),
      dataBody: bytes(4, 5, 6),
    });
    assert.deepEqual(
      [...encoded],
      [0x12, 2, 1, 2, 0x1a, 1, 3, 0xc2, 0x3e, 3, 4, 5, 6], // field 2, field 3, field 1000
    );
  });

  test('omits empty fields and decodes absent ones as empty', () => {
    const encoded = encodeFlightData({ dataHeader: empty, appMetadata: empty, dataBody: empty });
    assert.equal(encoded.length, 0);
    assert.deepEqual(decodeFlightData(encoded), {
      dataHeader: empty,
      appMetadata: empty,
      dataBody: empty,
    });
  });

  test('round-trips a descriptor, metadata-only messages and multi-byte lengths', () => {
    const body = new Uint8Array(70_000).map((_, index) => index % 251);
    const data = {
      flightDescriptor: { type: FlightDescriptorType.Path, command: empty, path: ['a', '', 'ü'] },
      dataHeader: new Uint8Array(300).fill(7),
      appMetadata: bytes(9),
      dataBody: body,
    };
    assert.deepEqual(decodeFlightData(plain(encodeFlightData(data))), data);
    const command = {
      flightDescriptor: { type: FlightDescriptorType.Command, command: bytes(1), path: [] },
      dataHeader: empty,
      appMetadata: empty,
      dataBody: empty,
    };
    assert.deepEqual(decodeFlightData(plain(encodeFlightData(command))), command);
  });

  test('decodes fields in any order and skips unknown ones of every wire type', () => {
    const encoded = bytes(
      0xc2,
      0x3e,
      1,
      0xbb, // data_body first
      0x28,
      0x96,
      0x01, // field 5, varint 150
      0x31,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // field 6, fixed64
      0x3d,
      1,
      2,
      3,
      4, // field 7, fixed32
      0x42,
      2,
      0xff,
      0xff, // field 8, bytes
      0x12,
      1,
      0xaa, // data_header last
    );
    const data = decodeFlightData(encoded);
    assert.deepEqual([...data.dataHeader], [0xaa]);
    assert.deepEqual([...data.dataBody], [0xbb]);
  });

  test('returns views into the received buffer instead of copies', () => {
    const encoded = encodeFlightData({
      dataHeader: bytes(1),
      appMetadata: empty,
      dataBody: bytes(2, 3),
    });
    assert.equal(decodeFlightData(encoded).dataBody.buffer, encoded.buffer);
  });

  test('rejects truncated input and deprecated groups', () => {
    assert.throws(() => decodeFlightData(bytes(0x12, 5, 1)), ProtocolDecodeError);
    assert.throws(() => decodeFlightData(bytes(0x12)), ProtocolDecodeError);
    assert.throws(() => decodeFlightData(bytes(0x31, 1, 2)), ProtocolDecodeError);
    assert.throws(() => decodeFlightData(bytes(0x0b)), /wire type 3/);
  });
});

describe('small messages', () => {
  test('Ticket, Action, Result, ActionType round-trip (unicode, empty)', () => {
    const ticket = { ticket: new TextEncoder().encode('{"model":"m—1"}') };
    assert.deepEqual(decodeTicket(plain(encodeTicket(ticket))), ticket);
    const action = { type: 'sluice.predict ✓', body: bytes(0, 1, 2) };
    assert.deepEqual(decodeAction(plain(encodeAction(action))), action);
    assert.deepEqual(decodeAction(plain(encodeAction({ type: '', body: empty }))), {
      type: '',
      body: empty,
    });
    assert.deepEqual(decodeResult(plain(encodeResult({ body: bytes(5) }))), { body: bytes(5) });
    const actionType = { type: 'sluice.predict', description: 'Runs a prediction — 予測' };
    assert.deepEqual(decodeActionType(plain(encodeActionType(actionType))), actionType);
  });

  test('Handshake carries a uint64 protocol version beyond 32 bits', () => {
    const handshake = { protocolVersion: 2 ** 40 + 3, payload: bytes(1) };
    assert.deepEqual(decodeHandshake(plain(encodeHandshake(handshake))), handshake);
  });

  test('Empty accepts (and ignores) unknown fields', () => {
    assert.deepEqual(decodeEmpty(bytes(0x08, 1)), {});
  });

  test('a string field that is not UTF-8 is an error, not mojibake', () => {
    assert.throws(() => decodeAction(bytes(0x0a, 1, 0xff)), /not valid UTF-8/);
  });
});
