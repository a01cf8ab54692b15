/**
 * A minimal Chrome DevTools Protocol client for the Sluice child, used by the memory scenarios
 * to collect garbage before reading RSS (so a reading is not inflated by garbage a later GC
 * would free) and to read the V8 heap size. Sluice starts with `--inspect-port=127.0.0.1:0`,
 * which only chooses the port: the inspector is off until the bench sends SIGUSR1.
 */
import { WebSocket } from 'undici';

export interface InspectorSession {
  collectGarbage(): Promise<void>;
  /** V8 heap in use, in bytes. */
  heapUsedBytes(): Promise<number>;
  close(): void;
}

interface ProtocolAnswer {
  id?: number;
  result?: Record<string, unknown>;
  error?: { message: string };
}

const answerTimeoutMs = 10_000;

export async function connectInspector(url: string): Promise<InspectorSession> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error(`cannot reach ${url}`)), {
      once: true,
    });
  });
  const pending = new Map<number, (answer: ProtocolAnswer) => void>();
  let nextId = 1;
  socket.addEventListener('message', (event) => {
    const answer = JSON.parse(String(event.data)) as ProtocolAnswer;
    if (answer.id === undefined) return;
    pending.get(answer.id)?.(answer);
    pending.delete(answer.id);
  });
  const call = (method: string): Promise<Record<string, unknown>> => {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${method}: no answer in ${answerTimeoutMs} ms`));
      }, answerTimeoutMs);
      pending.set(id, (answer) => {
        clearTimeout(timer);
        if (answer.error !== undefined) reject(new Error(`${method}: ${answer.error.message}`));
        else resolve(answer.result ?? {});
      });
      socket.send(JSON.stringify({ id, method }));
    });
  };
  return {
    async collectGarbage() {
      await call('HeapProfiler.collectGarbage');
    },
    async heapUsedBytes() {
      const result = await call('Runtime.getHeapUsage');
      return Number(result['usedSize'] ?? Number.NaN);
    },
    close() {
      socket.close();
    },
  };
}
