/**
 * A minimal test client for `_predict/stream`: posts JSON over a real socket and collects the
 * `data:` events as parsed JSON, with the raw text kept for exact-format assertions.
 */
import { request } from 'node:http';

export interface StreamResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  /** Parsed `data:` payloads, in order. */
  events: any[];
}

export function postStream(baseUrl: string, path: string, body: unknown): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, baseUrl);
    const outgoing = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      (response) => {
        let raw = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          raw += chunk;
        });
        response.on('end', () => {
          const events = raw
            .split('\n\n')
            .filter((block) => block.startsWith('data: '))
            .map((block) => JSON.parse(block.slice('data: '.length)));
          resolve({ status: response.statusCode ?? 0, headers: response.headers, raw, events });
        });
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(JSON.stringify(body));
  });
}

/** The content strings of a stream, and its final event. */
export function contentOf(events: any[]): { text: string; last: any } {
  let text = '';
  for (const event of events) {
    const data = event.inference_results?.[0]?.output?.[0]?.dataAsMap;
    if (data !== undefined) text += data.content;
  }
  return { text, last: events.at(-1) };
}
