/**
 * The Arrow Flight protobuf messages Sluice speaks, written by hand from the published protocol
 * (`format/Flight.proto`, package `arrow.flight.protocol`) instead of generated code: we need a
 * handful of messages, and FlightData is on the hot path, where a dedicated encoder avoids the
 * copies and allocations of a generic protobuf runtime.
 *
 * Wire format: every field is a varint key `(field << 3) | wireType` followed by a varint (wire
 * type 0) or a varint length and that many bytes (wire type 2). Proto3 omits empty/zero fields;
 * decoders skip fields they do not know, as protobuf requires.
 */

const wireVarint = 0;
const wireFixed64 = 1;
const wireLengthDelimited = 2;
const wireFixed32 = 5;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });
const empty = new Uint8Array(0);

export const FlightDescriptorType = { Unknown: 0, Path: 1, Command: 2 } as const;
export type FlightDescriptorType = (typeof FlightDescriptorType)[keyof typeof FlightDescriptorType];

/** `FlightDescriptor`: type=1 (enum), cmd=2 (bytes), path=3 (repeated string). */
export interface FlightDescriptor {
  type: FlightDescriptorType;
  command: Uint8Array;
  path: string[];
}

/**
 * `FlightData`: flight_descriptor=1, data_header=2 (an Arrow IPC Message flatbuffer without the
 * IPC prefix), app_metadata=3, data_body=1000 (the message body). Absent bytes are empty arrays.
 */
export interface FlightData {
  flightDescriptor?: FlightDescriptor;
  dataHeader: Uint8Array;
  appMetadata: Uint8Array;
  dataBody: Uint8Array;
}

/** `Ticket`: ticket=1 (opaque bytes; for Sluice, the prediction request). */
export interface Ticket {
  ticket: Uint8Array;
}

/** `Action`: type=1 (string), body=2 (bytes). */
export interface Action {
  type: string;
  body: Uint8Array;
}

/** `Result` (of DoAction): body=1 (bytes). */
export interface Result {
  body: Uint8Array;
}

/** `ActionType` (of ListActions): type=1 (string), description=2 (string). */
export interface ActionType {
  type: string;
  description: string;
}

/** `HandshakeRequest` and `HandshakeResponse`: protocol_version=1 (uint64), payload=2 (bytes). */
export interface Handshake {
  protocolVersion: number;
  payload: Uint8Array;
}

// ---- encoding -------------------------------------------------------------------------------

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeVarint(target: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    target[offset++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  target[offset++] = value;
  return offset;
}

/**
 * Size of a length-delimited field. A singular empty field is omitted (0); an element of a
 * repeated field is a real list entry even when empty, so `keepEmpty` writes it.
 */
function bytesFieldSize(field: number, length: number, keepEmpty = false): number {
  if (length === 0 && !keepEmpty) return 0;
  return varintSize(field << 3) + varintSize(length) + length;
}

function writeBytesField(
  target: Uint8Array,
  offset: number,
  field: number,
  bytes: Uint8Array,
  keepEmpty = false,
): number {
  if (bytes.length === 0 && !keepEmpty) return offset;
  offset = writeVarint(target, offset, (field << 3) | wireLengthDelimited);
  offset = writeVarint(target, offset, bytes.length);
  target.set(bytes, offset);
  return offset + bytes.length;
}

function varintFieldSize(field: number, value: number): number {
  return value === 0 ? 0 : varintSize(field << 3) + varintSize(value);
}

function writeVarintField(target: Uint8Array, offset: number, field: number, value: number) {
  if (value === 0) return offset;
  offset = writeVarint(target, offset, (field << 3) | wireVarint);
  return writeVarint(target, offset, value);
}

type FieldValue =
  | { field: number; bytes: Uint8Array; repeated?: true }
  | { field: number; varint: number };

/** Encodes fields in the given order, into a Buffer (what the transport writes). */
function encodeFields(fields: readonly FieldValue[]): Buffer {
  let size = 0;
  for (const value of fields) {
    size +=
      'bytes' in value
        ? bytesFieldSize(value.field, value.bytes.length, value.repeated)
        : varintFieldSize(value.field, value.varint);
  }
  const target = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const value of fields) {
    offset =
      'bytes' in value
        ? writeBytesField(target, offset, value.field, value.bytes, value.repeated)
        : writeVarintField(target, offset, value.field, value.varint);
  }
  return target;
}

const utf8 = (text: string): Uint8Array => (text === '' ? empty : textEncoder.encode(text));

export function encodeFlightDescriptor(descriptor: FlightDescriptor): Buffer {
  return encodeFields([
    { field: 1, varint: descriptor.type },
    { field: 2, bytes: descriptor.command },
    ...descriptor.path.map((segment) => ({
      field: 3,
      bytes: utf8(segment),
      repeated: true as const,
    })),
  ]);
}

/**
 * The hot path: one exactly sized allocation, body copied once. `headroom` bytes are left free
 * at the start, so that the transport can write its message prefix there instead of copying.
 */
export function encodeFlightData(data: FlightData, headroom = 0): Buffer {
  const descriptor =
    data.flightDescriptor === undefined ? empty : encodeFlightDescriptor(data.flightDescriptor);
  const target = Buffer.allocUnsafe(
    headroom +
      bytesFieldSize(1, descriptor.length) +
      bytesFieldSize(2, data.dataHeader.length) +
      bytesFieldSize(3, data.appMetadata.length) +
      bytesFieldSize(1000, data.dataBody.length),
  );
  let offset = writeBytesField(target, headroom, 1, descriptor);
  offset = writeBytesField(target, offset, 2, data.dataHeader);
  offset = writeBytesField(target, offset, 3, data.appMetadata);
  writeBytesField(target, offset, 1000, data.dataBody);
  return target;
}

export const encodeTicket = (ticket: Ticket): Buffer =>
  encodeFields([{ field: 1, bytes: ticket.ticket }]);

export const encodeAction = (action: Action): Buffer =>
  encodeFields([
    { field: 1, bytes: utf8(action.type) },
    { field: 2, bytes: action.body },
  ]);

export const encodeResult = (result: Result): Buffer =>
  encodeFields([{ field: 1, bytes: result.body }]);

export const encodeActionType = (actionType: ActionType): Buffer =>
  encodeFields([
    { field: 1, bytes: utf8(actionType.type) },
    { field: 2, bytes: utf8(actionType.description) },
  ]);

export const encodeHandshake = (handshake: Handshake): Buffer =>
  encodeFields([
    { field: 1, varint: handshake.protocolVersion },
    { field: 2, bytes: handshake.payload },
  ]);

export const encodeEmpty = (): Buffer => Buffer.alloc(0);

// ---- decoding -------------------------------------------------------------------------------

/** A malformed protobuf message; the call that carried it fails. */
export class ProtocolDecodeError extends Error {
  override readonly name = 'ProtocolDecodeError';
}

function readVarint(bytes: Uint8Array, offset: number): [value: number, next: number] {
  let value = 0;
  let multiplier = 1;
  for (let index = 0; index < 10; index++) {
    const byte = bytes[offset + index];
    if (byte === undefined) throw new ProtocolDecodeError('Truncated varint');
    value += (byte & 0x7f) * multiplier;
    if (byte < 0x80) return [value, offset + index + 1];
    multiplier *= 128;
  }
  throw new ProtocolDecodeError('Varint longer than 10 bytes');
}

/**
 * Calls `visit` for every field: length-delimited values as zero-copy subarrays, varints as
 * numbers (exact up to 2^53, plenty for the versions and enums here). Fixed-width fields are
 * skipped because none of our messages use them; groups are long deprecated and rejected.
 */
function forEachField(
  bytes: Uint8Array,
  visit: (field: number, value: Uint8Array | number) => void,
): void {
  let offset = 0;
  while (offset < bytes.length) {
    const [key, afterKey] = readVarint(bytes, offset);
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    offset = afterKey;
    if (wireType === wireVarint) {
      const [value, next] = readVarint(bytes, offset);
      visit(field, value);
      offset = next;
    } else if (wireType === wireLengthDelimited) {
      const [length, start] = readVarint(bytes, offset);
      const end = start + length;
      if (end > bytes.length) throw new ProtocolDecodeError(`Truncated field ${field}`);
      visit(field, bytes.subarray(start, end));
      offset = end;
    } else if (wireType === wireFixed64) {
      offset += 8;
    } else if (wireType === wireFixed32) {
      offset += 4;
    } else {
      throw new ProtocolDecodeError(`Unsupported wire type ${wireType} for field ${field}`);
    }
  }
  if (offset !== bytes.length) throw new ProtocolDecodeError('Truncated fixed-width field');
}

const asBytes = (value: Uint8Array | number): Uint8Array =>
  typeof value === 'number' ? empty : value;
const asNumber = (value: Uint8Array | number): number => (typeof value === 'number' ? value : 0);

function asText(value: Uint8Array | number): string {
  if (typeof value === 'number') return '';
  try {
    return textDecoder.decode(value);
  } catch {
    throw new ProtocolDecodeError('A string field is not valid UTF-8');
  }
}

function asDescriptorType(value: number): FlightDescriptorType {
  return value === FlightDescriptorType.Path || value === FlightDescriptorType.Command
    ? value
    : FlightDescriptorType.Unknown;
}

export function decodeFlightDescriptor(bytes: Uint8Array): FlightDescriptor {
  const descriptor: FlightDescriptor = { type: 0, command: empty, path: [] };
  forEachField(bytes, (field, value) => {
    if (field === 1) descriptor.type = asDescriptorType(asNumber(value));
    else if (field === 2) descriptor.command = asBytes(value);
    else if (field === 3) descriptor.path.push(asText(value));
  });
  return descriptor;
}

export function decodeFlightData(bytes: Uint8Array): FlightData {
  const data: FlightData = { dataHeader: empty, appMetadata: empty, dataBody: empty };
  forEachField(bytes, (field, value) => {
    if (field === 2) data.dataHeader = asBytes(value);
    else if (field === 1000) data.dataBody = asBytes(value);
    else if (field === 3) data.appMetadata = asBytes(value);
    else if (field === 1) data.flightDescriptor = decodeFlightDescriptor(asBytes(value));
  });
  return data;
}

export function decodeTicket(bytes: Uint8Array): Ticket {
  const ticket: Ticket = { ticket: empty };
  forEachField(bytes, (field, value) => {
    if (field === 1) ticket.ticket = asBytes(value);
  });
  return ticket;
}

export function decodeAction(bytes: Uint8Array): Action {
  const action: Action = { type: '', body: empty };
  forEachField(bytes, (field, value) => {
    if (field === 1) action.type = asText(value);
    else if (field === 2) action.body = asBytes(value);
  });
  return action;
}

export function decodeResult(bytes: Uint8Array): Result {
  const result: Result = { body: empty };
  forEachField(bytes, (field, value) => {
    if (field === 1) result.body = asBytes(value);
  });
  return result;
}

export function decodeActionType(bytes: Uint8Array): ActionType {
  const actionType: ActionType = { type: '', description: '' };
  forEachField(bytes, (field, value) => {
    if (field === 1) actionType.type = asText(value);
    else if (field === 2) actionType.description = asText(value);
  });
  return actionType;
}

export function decodeHandshake(bytes: Uint8Array): Handshake {
  const handshake: Handshake = { protocolVersion: 0, payload: empty };
  forEachField(bytes, (field, value) => {
    if (field === 1) handshake.protocolVersion = asNumber(value);
    else if (field === 2) handshake.payload = asBytes(value);
  });
  return handshake;
}

/** `Empty` has no fields; anything present is an unknown field and skipped. */
export function decodeEmpty(bytes: Uint8Array): Record<string, never> {
  forEachField(bytes, () => {});
  return {};
}
