/**
 * For stream tests that the fixture-replaying mock provider cannot express: an upstream whose
 * answer a test writes by hand (keep-alive pings, an error as the very first event, a body large
 * enough to fill every socket buffer, a precise timestamp per write), and a `_predict/stream`
 * client that leaves reading to the test (stall, read the first event only, leave).
 */
import { once } from 'node:events';
import {
  type ClientRequest,
  createServer,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestNode } from './test-node.ts';

/** Writes one response. `closed` aborts when the response closes (the client left, or it ended). */
export type Script = (response: ServerResponse, closed: AbortSignal) => Promise<void>;

export interface ScriptedResponse {
  /** Resolves when the response closes: whether the script ended it or the client left first. */
  readonly end: Promise<'completed' | 'client-closed'>;
  readonly open: boolean;
}

export interface Route {
  url: string;
  /** The responses this route served, in arrival order. */
  readonly responses: readonly ScriptedResponse[];
}

export interface ScriptedUpstream {
  /**
   * A URL of its own for `script` (so tests can run side by side), ending in `path`, which decides
   * the inferred `_llm_interface`: `/v1/chat/completions` (default) or `/v1/messages`.
   */
  route(script: Script, path?: string): Route;
  close(): Promise<void>;
}

export async function startScriptedUpstream(): Promise<ScriptedUpstream> {
  const routes = new Map<string, { script: Script; responses: ScriptedResponse[] }>();
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true }, (incoming, response) => {
    incoming.resume();
    const route = routes.get((incoming.url ?? '').split('/')[1] ?? '');
    const closed = new AbortController();
    let open = true;
    const end = new Promise<'completed' | 'client-closed'>((resolve) => {
      response.once('close', () => {
        open = false;
        closed.abort();
        resolve(response.writableFinished ? 'completed' : 'client-closed');
      });
    });
    if (route === undefined) {
      response.writeHead(404).end();
      return;
    }
    route.responses.push({
      end,
      get open() {
        return open;
      },
    });
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.flushHeaders();
    route.script(response, closed.signal).then(
      () => {
        if (!response.writableEnded) response.end();
      },
      () => response.destroy(),
    );
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    route(script, path = '/v1/chat/completions') {
      const key = `s${routes.size}`;
      const responses: ScriptedResponse[] = [];
      routes.set(key, { script, responses });
      return { url: `http://127.0.0.1:${port}/${key}${path}`, responses };
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Sleeps, resolving false instead of throwing when the response closed meanwhile. */
export async function pause(milliseconds: number, closed: AbortSignal): Promise<boolean> {
  try {
    await sleep(milliseconds, undefined, { signal: closed });
    return true;
  } catch {
    return false;
  }
}

/** Resolves when the response closes. */
export async function untilClosed(closed: AbortSignal): Promise<void> {
  if (!closed.aborted) await once(closed, 'abort');
}

// ---- provider wire text -------------------------------------------------------------------

export const openAi = {
  /** What OpenAI sends first: the role, no content (decodes to no part). */
  role: 'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n',
  text: (text: string) =>
    `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: text } }] })}\n\n`,
  error: (error: Record<string, unknown>) => `data: ${JSON.stringify({ error })}\n\n`,
  end: 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n',
  /** An SSE comment, as OpenRouter and others send to keep a connection open. */
  ping: ': ping\n\n',
};

const anthropicEvent = (type: string, data: Record<string, unknown>) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

export const anthropic = {
  /** `message_start` and an empty text block: decodes to no part. */
  start:
    anthropicEvent('message_start', {
      message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], usage: {} },
    }) +
    anthropicEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
  text: (text: string) =>
    anthropicEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text } }),
  /** Anthropic's keep-alive: a real SSE event, exactly as sent (a space after the colon). */
  ping: 'event: ping\ndata: {"type": "ping"}\n\n',
  error: (type: string, message: string) => anthropicEvent('error', { error: { type, message } }),
};

/**
 * `total` OpenAI events of `filler` bytes, written as fast as TCP takes them (waiting for
 * `drain`), then the end; `progress.written` counts them, so a test sees when the upstream is
 * held back. Event `i` has the content `${i}|${filler}`.
 */
export function bulkScript(total: number, progress: { written: number }, filler: string): Script {
  return async (response, closed) => {
    const gone = untilClosed(closed).then(() => false);
    for (let index = 0; index < total; index += 1) {
      if (closed.aborted) return;
      if (!response.write(openAi.text(`${index}|${filler}`))) {
        const drained = once(response, 'drain').then(() => true);
        if (!(await Promise.race([drained, gone]))) return;
      }
      progress.written = index + 1;
    }
    response.end(openAi.end);
  };
}

// ---- Sluice side ----------------------------------------------------------------------------

/** A deployed model on an OpenAI- or Anthropic-format connector (inferred from the URL). */
export async function registerModel(
  node: TestNode,
  url: string,
  clientConfig: Record<string, unknown> = {},
): Promise<string> {
  const response = await node.call('POST', '/_plugins/_ml/models/_register?deploy=true', {
    name: `model ${Math.random()}`,
    function_name: 'remote',
    connector: {
      name: 'scripted upstream',
      protocol: 'http',
      client_config: clientConfig,
      actions: [
        {
          action_type: 'predict',
          method: 'POST',
          url,
          request_body: '{ "model": "m", "max_tokens": 64, "messages": ${parameters.messages} }',
        },
      ],
    },
  });
  if (response.status !== 200) throw new Error(`register: ${JSON.stringify(response.body)}`);
  return response.body.model_id;
}

export interface LiveStream {
  outgoing: ClientRequest;
  response: IncomingMessage;
}

/**
 * Posts to `_predict/stream` and resolves with the response head; the body is left unread.
 * `agent: false` for a connection of its own that is not pooled afterwards.
 */
export async function openStream(
  baseUrl: string,
  modelId: string,
  options: { headers?: Record<string, string>; agent?: false } = {},
): Promise<LiveStream> {
  const outgoing = request(new URL(`/_plugins/_ml/models/${modelId}/_predict/stream`, baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    ...(options.agent === undefined ? {} : { agent: options.agent }),
  });
  outgoing.on('error', () => {});
  outgoing.end(JSON.stringify({ parameters: { messages: [{ role: 'user', content: 'Hi' }] } }));
  const [response] = (await once(outgoing, 'response')) as [IncomingMessage];
  return { outgoing, response };
}

/** Reads the rest of the body as text. */
export async function readText(response: IncomingMessage): Promise<string> {
  let text = '';
  response.setEncoding('utf8');
  for await (const chunk of response) text += chunk;
  return text;
}

/** The `data:` payloads of an SSE body, parsed. */
export function dataEvents(raw: string): any[] {
  return raw
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => JSON.parse(block.slice('data: '.length)));
}

/** The `dataAsMap` of an ml-commons stream event (undefined for an error event). */
export function dataAsMap(event: any): any {
  return event?.inference_results?.[0]?.output?.[0]?.dataAsMap;
}

/** Polls the captured log lines until one matches (the summary is written after the response). */
export async function waitForLog(
  lines: readonly string[],
  matches: (entry: any) => boolean,
  timeoutMs = 2000,
): Promise<any> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const found = lines.map((line) => JSON.parse(line)).find(matches);
    if (found !== undefined) return found;
    if (performance.now() > deadline) throw new Error('no matching log line');
    await sleep(20);
  }
}
