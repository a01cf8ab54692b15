/**
 * Turns a recorded Bedrock event-stream body (binary) into a `*.events.json` fixture:
 *   node --import tsx test/mock-provider/event-stream-to-fixture.ts < recorded.bin > case.events.json
 * Invoke `bytes` are base64-decoded back to the readable event object the fixtures keep.
 */
import { readFileSync } from 'node:fs';
import { decodeFrames } from './event-stream.ts';

const frames = decodeFrames(readFileSync(0)).map(({ headers, payload }) => {
  const json = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
  const bytes = json['bytes'];
  if (typeof bytes === 'string') {
    json['bytes'] = JSON.parse(Buffer.from(bytes, 'base64').toString('utf8')) as unknown;
  }
  return { headers, payload: json };
});
process.stdout.write(`${JSON.stringify(frames, null, 2)}\n`);
