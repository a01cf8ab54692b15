/**
 * Loads the recorded-format fixtures under `fixtures/<provider>/` and cuts streaming ones into
 * the events the mock writes one by one. See README.md for the file formats.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type EventStreamFixtureFrame,
  encodeFixtureFrame,
  encodeFrame,
  wirePayload,
} from './event-stream.ts';

/** Provider dialects the mock speaks; also the fixture folder names. */
export const mockProviderNames = [
  'openai',
  'anthropic',
  'bedrock-converse',
  'bedrock-invoke',
  'cohere',
  'gemini',
  'ollama',
] as const;
export type MockProviderName = (typeof mockProviderNames)[number];

/** The cases every provider has. Any other file name in the folder may be used too. */
export const fixtureCases = ['text', 'tool-call', 'usage', 'error-mid-stream'] as const;
export type FixtureCase = (typeof fixtureCases)[number];

export type StreamFraming = 'sse' | 'ndjson' | 'aws-event-stream';

export const framingOf: Record<MockProviderName, StreamFraming> = {
  openai: 'sse',
  anthropic: 'sse',
  'bedrock-converse': 'aws-event-stream',
  'bedrock-invoke': 'aws-event-stream',
  cohere: 'sse',
  gemini: 'sse',
  ollama: 'ndjson',
};

const streamExtension: Record<StreamFraming, string> = {
  sse: 'sse',
  ndjson: 'ndjson',
  'aws-event-stream': 'events.json',
};

const fixturesDirectory = fileURLToPath(new URL('./fixtures/', import.meta.url));
// Case names reach the file system from a request header; keep them to plain file names.
const caseNamePattern = /^[a-z0-9][a-z0-9-]*$/;

export function streamFixturePath(provider: MockProviderName, fixtureCase: string): string {
  return fixturePath(provider, `${fixtureCase}.${streamExtension[framingOf[provider]]}`);
}

export function jsonFixturePath(provider: MockProviderName, fixtureCase: string): string {
  return fixturePath(provider, `${fixtureCase}.json`);
}

function fixturePath(provider: MockProviderName, fileName: string): string {
  const fixtureCase = fileName.slice(0, fileName.indexOf('.'));
  if (!caseNamePattern.test(fixtureCase)) throw new Error(`invalid fixture case "${fixtureCase}"`);
  return `${fixturesDirectory}${provider}/${fileName}`;
}

export function hasStreamFixture(provider: MockProviderName, fixtureCase: string): boolean {
  return caseNamePattern.test(fixtureCase) && existsSync(streamFixturePath(provider, fixtureCase));
}

export function hasJsonFixture(provider: MockProviderName, fixtureCase: string): boolean {
  return caseNamePattern.test(fixtureCase) && existsSync(jsonFixturePath(provider, fixtureCase));
}

/** The body of a non-streaming fixture, as stored. */
export function readJsonFixture(provider: MockProviderName, fixtureCase: string): string {
  return readFileSync(jsonFixturePath(provider, fixtureCase), 'utf8');
}

/** The frames of an event-stream fixture as stored (payloads still readable). */
export function readEventStreamFixture(
  provider: MockProviderName,
  fixtureCase: string,
): EventStreamFixtureFrame[] {
  return JSON.parse(
    readFileSync(streamFixturePath(provider, fixtureCase), 'utf8'),
  ) as EventStreamFixtureFrame[];
}

const eventCache = new Map<string, readonly Uint8Array[]>();

/**
 * The events of a streaming fixture, each exactly as the server writes it: one SSE event
 * (with its blank-line terminator), one NDJSON line, or one encoded event-stream frame.
 * Concatenated, they are the whole response body.
 */
export function readStreamFixture(
  provider: MockProviderName,
  fixtureCase: string,
): readonly Uint8Array[] {
  const path = streamFixturePath(provider, fixtureCase);
  const cached = eventCache.get(path);
  if (cached) return cached;
  const framing = framingOf[provider];
  const events =
    framing === 'aws-event-stream'
      ? readEventStreamFixture(provider, fixtureCase).map(encodeFixtureFrame)
      : splitTextEvents(readFileSync(path, 'utf8'), framing).map((event) => Buffer.from(event));
  eventCache.set(path, events);
  return events;
}

/** The whole streaming body of a fixture, for feeding decoders directly. */
export function readStreamFixtureBody(provider: MockProviderName, fixtureCase: string): Buffer {
  return Buffer.concat(readStreamFixture(provider, fixtureCase));
}

/**
 * Cuts fixture text after each SSE blank line (LF or CRLF; Gemini uses CRLF) or each NDJSON
 * newline. This slices trusted files whose bytes we wrote; it is not a general SSE parser.
 */
export function splitTextEvents(text: string, framing: 'sse' | 'ndjson'): string[] {
  const separator = framing === 'sse' ? /\r\n\r\n|\n\n|\r\r/g : /\r?\n/g;
  const events: string[] = [];
  let start = 0;
  for (const match of text.matchAll(separator)) {
    const end = match.index + match[0].length;
    events.push(text.slice(start, end));
    start = end;
  }
  if (start < text.length) events.push(text.slice(start));
  return events;
}

/**
 * A broken event in the provider's own framing, modelled on `template` (normally the next event
 * of the stream): its JSON is cut in half, so framing stays valid and only the JSON is bad.
 * For event-stream the frame (prelude, headers, CRCs) is intact and the payload is cut.
 */
export function malformedEvent(
  provider: MockProviderName,
  fixtureCase: string,
  templateIndex: number,
): Uint8Array {
  const framing = framingOf[provider];
  if (framing === 'aws-event-stream') {
    const frames = readEventStreamFixture(provider, fixtureCase);
    const template = frames[Math.min(templateIndex, frames.length - 1)];
    if (!template) throw new Error(`fixture ${provider}/${fixtureCase} has no frames`);
    const json = JSON.stringify(wirePayload(template.payload));
    return encodeFrame(template.headers, Buffer.from(json.slice(0, Math.ceil(json.length / 2))));
  }
  const texts = readStreamFixture(provider, fixtureCase).map((event) =>
    Buffer.from(event).toString('utf8'),
  );
  const template =
    texts.slice(templateIndex).find(hasJsonData) ?? texts.findLast(hasJsonData) ?? '';
  return Buffer.from(framing === 'ndjson' ? cutJsonLine(template) : cutSseData(template), 'utf8');
}

function hasJsonData(event: string): boolean {
  return /^(data: )?\{/m.test(event);
}

function cutJsonLine(line: string): string {
  const json = line.trimEnd();
  return `${json.slice(0, Math.ceil(json.length / 2))}\n`;
}

function cutSseData(event: string): string {
  const newline = event.includes('\r\n') ? '\r\n' : '\n';
  const lines = event.split(newline).filter((line) => line !== '');
  const cut = lines.map((line) =>
    line.startsWith('data: {') ? line.slice(0, Math.ceil(line.length / 2)) : line,
  );
  return `${cut.join(newline)}${newline}${newline}`;
}
