/**
 * The demo provider: a tiny OpenAI-compatible chat-completions server inside the Sluice process,
 * on a loopback port, so a new user sees a real stream in the first minute with no provider key.
 * It speaks the exact OpenAI wire format (chunks, usage chunk, `[DONE]`), so the demo exercises
 * the same decoder, backpressure and cancellation path as a real provider.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { drained } from '../api/sse.ts';

export interface DemoProvider {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  close(): Promise<void>;
}

const tokenDelayMs = 30;
const maxBodyBytes = 1024 * 1024;

export async function startDemoProvider(): Promise<DemoProvider> {
  const server: Server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'POST' || !request.url?.endsWith('/v1/chat/completions')) {
    sendJson(response, 404, { error: { message: 'Not found', type: 'invalid_request_error' } });
    return;
  }
  const body = await readJson(request);
  if (body === undefined) {
    sendJson(response, 400, {
      error: { message: 'The body must be JSON', type: 'invalid_request_error' },
    });
    return;
  }
  const question = lastUserMessage(body.messages);
  const tokens = answerFor(question).match(/\S+\s*/g) ?? [];
  const usage = {
    prompt_tokens: Math.max(1, question.split(/\s+/).filter(Boolean).length),
    completion_tokens: tokens.length,
    total_tokens: 0,
  };
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  const id = `chatcmpl-demo${Date.now().toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: object, finishReason: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: 'sluice-demo',
    choices: [{ index: 0, delta, finish_reason: finishReason }],
  });
  if (body.stream !== true) {
    sendJson(response, 200, {
      id,
      object: 'chat.completion',
      created,
      model: 'sluice-demo',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: tokens.join('') },
          finish_reason: 'stop',
        },
      ],
      usage,
    });
    return;
  }
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let gone = false;
  response.once('close', () => {
    gone = true;
  });
  const send = async (data: string) => {
    // Waiting for drain alone would wait forever for a client that left.
    if (!response.write(`data: ${data}\n\n`)) await drained(response);
  };
  await send(JSON.stringify(chunk({ role: 'assistant', content: '' }, null)));
  for (const token of tokens) {
    await new Promise((resolve) => setTimeout(resolve, tokenDelayMs));
    if (gone) return;
    await send(JSON.stringify(chunk({ content: token }, null)));
  }
  await send(JSON.stringify(chunk({}, 'stop')));
  if (body.stream_options?.include_usage === true) {
    await send(JSON.stringify({ ...chunk({}, null), choices: [], usage }));
  }
  response.end('data: [DONE]\n\n');
}

function answerFor(question: string): string {
  const quoted = question.length > 200 ? `${question.slice(0, 200)}…` : question;
  return [
    'Hello from Sluice! This answer comes from the built-in demo model, streamed token by token',
    'through the same path a real provider takes: connector template, upstream call, SSE decoder,',
    'and the ml-commons event format.',
    quoted === '' ? '' : `You asked: "${quoted}".`,
    'Register a connector for OpenAI, Anthropic, Bedrock, Cohere, Gemini or Ollama to stream from a real model.',
  ]
    .filter(Boolean)
    .join(' ');
}

interface ChatBody {
  messages?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown };
}

function lastUserMessage(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const message: unknown = messages[index];
    if (
      typeof message === 'object' &&
      message !== null &&
      'role' in message &&
      message.role === 'user'
    ) {
      const content = 'content' in message ? message.content : '';
      return typeof content === 'string' ? content : JSON.stringify(content);
    }
  }
  return '';
}

async function readJson(request: IncomingMessage): Promise<ChatBody | undefined> {
  let text = '';
  for await (const chunk of request) {
    text += String(chunk);
    if (text.length > maxBodyBytes) return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as ChatBody) : undefined;
  } catch {
    return undefined;
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
