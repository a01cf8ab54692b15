/** Small HTTP helpers for the mock server. */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Writes one event with one `write` and waits for `drain` when the socket buffer is full. */
export async function writeEvent(response: ServerResponse, bytes: Uint8Array): Promise<boolean> {
  if (response.destroyed) return false;
  if (response.write(bytes)) return true;
  const drained = once(response, 'drain').then(() => true);
  const closed = once(response, 'close').then(() => false);
  return Promise.race([drained, closed]);
}

export function sendJson(
  response: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string,
): void {
  const bytes = Buffer.from(body, 'utf8');
  response.writeHead(status, {
    'content-type': 'application/json',
    ...headers,
    'content-length': String(bytes.length),
  });
  response.end(bytes);
}

export function mockError(message: string): string {
  // Shaped so no provider decoder mistakes it for a real answer.
  return JSON.stringify({
    error: { type: 'mock_provider_error', message: `mock-provider: ${message}` },
  });
}

export async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  message: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`mock-provider: ${message}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
