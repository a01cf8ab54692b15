/**
 * Fixtures of the part codec tests: part batches that round-trip exactly, an IPC stream split
 * into messages, and the protocol-error matcher.
 */
import { Message } from 'apache-arrow';
import { ErrorCode, ServiceError } from '../../domain/errors.ts';
import type { StreamPart } from '../../domain/stream-part.ts';
import type { IpcMessage } from '../ipc.ts';
import { everyKind } from './harness.ts';

/** The long batches of record-batch.test.ts: multi-byte bitmaps, beyond the shared null columns. */
export const longBatch = (length: number): StreamPart[] =>
  Array.from({ length }, (_, index) =>
    index % 3 === 0
      ? {
          type: 'tool-call-delta',
          index,
          ...(index % 2 ? { id: `c${index}` } : {}),
          argumentsDelta: '{',
        }
      : { type: 'text-delta', text: `t${index} ✓` },
  );

/** Part sets that round-trip exactly. */
export const partBatches: StreamPart[][] = [
  ...everyKind,
  everyKind.flat(),
  ...[8, 9, 16, 17, 40].map(longBatch),
  [{ type: 'text-delta', text: 'a'.repeat(200) }],
  [{ type: 'text-delta', text: `${'ü'.repeat(100)}𝄞` }],
  Array.from({ length: 1000 }, (_, index) => ({ type: 'text-delta', text: `token ${index}` })),
  [
    {
      type: 'finish',
      finishReason: { unified: 'length', raw: 'max_tokens' },
      usage: { input_tokens: -(2 ** 31), output_tokens: 2 ** 31 - 1, total_tokens: 0 },
    },
  ],
];

export function isProtocolError(pattern: RegExp) {
  return (error: unknown) =>
    ServiceError.isInstance(error) &&
    error.code === ErrorCode.UpstreamProtocol &&
    pattern.test(error.message);
}

/** Splits an IPC stream (as RecordBatchStreamWriter or pyarrow writes it) into its messages. */
export function ipcMessages(stream: Uint8Array): IpcMessage[] {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const messages: IpcMessage[] = [];
  let at = 0;
  while (at + 8 <= stream.length) {
    const length = view.getInt32(at + 4, true);
    if (length === 0) break;
    const header = stream.subarray(at + 8, at + 8 + length);
    const bodyLength = Number(Message.decode(header).bodyLength);
    const bodyStart = at + 8 + length;
    messages.push({ header, body: stream.subarray(bodyStart, bodyStart + bodyLength) });
    at = bodyStart + bodyLength;
  }
  return messages;
}
