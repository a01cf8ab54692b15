/**
 * Nothing outlives a stream (ARCHITECTURE.md: "Listeners and timers are removed when the stream
 * ends, whichever way"): after streams that complete, fail mid-stream, lose their client, are
 * refused before the first byte or hit the read timeout, the process holds no more timers or
 * sockets than before (beyond a few pooled keep-alive connections to the provider), and no
 * AbortSignal that is still live keeps a listener. With 10 rounds, one leak per stream of any
 * kind shows as +10.
 *
 * Everything runs in this process: client, Sluice and mock provider. Client requests use a
 * connection of their own (`agent: false`), so the only pooled sockets are Sluice's to the
 * provider. Every AbortController created during the measured part is recorded (a subclass
 * installed globally for this file) so that its listeners can be counted with
 * `getEventListeners`.
 */
import assert from 'node:assert/strict';
import { getEventListeners, once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  dataAsMap,
  dataEvents,
  openStream,
  readText,
  registerModel,
} from '../../test/helpers/scripted-upstream.ts';
import { startTestNode, type TestNode } from '../../test/helpers/test-node.ts';
import {
  type MockProvider,
  type Scenario,
  startMockProvider,
} from '../../test/mock-provider/server.ts';

/** A regression must fail the test, not hang the suite. */
const timeout = 30_000;

const rounds = 10;
const noPooling = { agent: false } as const;

const OriginalAbortController = globalThis.AbortController;
const controllers: AbortController[] = [];
class RecordedAbortController extends OriginalAbortController {
  constructor() {
    super();
    controllers.push(this);
  }
}

/** Counts of what keeps the event loop alive, by type (Timeout, TCPSocketWrap, …). */
function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo())
    counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Abort listeners left on signals that never fired (on a fired one they can do nothing). */
function liveAbortListeners(): number {
  let count = 0;
  for (const controller of controllers) {
    if (!controller.signal.aborted) count += getEventListeners(controller.signal, 'abort').length;
  }
  return count;
}

/** What grew since `baseline`, beyond what each type is allowed. */
function growth(baseline: Map<string, number>, allowed: Record<string, number>): string[] {
  const grown: string[] = [];
  for (const [type, count] of resources()) {
    const extra = count - (baseline.get(type) ?? 0);
    if (extra > (allowed[type] ?? 0)) grown.push(`${type} +${extra}`);
  }
  const listeners = liveAbortListeners();
  if (listeners > 0) grown.push(`abort listeners on live signals: ${listeners}`);
  return grown;
}

describe('stream leaks', () => {
  let node: TestNode;
  let mock: MockProvider;
  let baseUrl: string;
  let modelId: string;
  let slowModelId: string;
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);

  before(async () => {
    mock = await startMockProvider();
    node = await startTestNode();
    await node.allowLoopback();
    baseUrl = await node.node.app.listen({ host: '127.0.0.1', port: 0 });
    // A long read_timeout, so that a timer left behind is still there when counted.
    modelId = await registerModel(node, mock.urlFor('openai'), { read_timeout: 30 });
    slowModelId = await registerModel(node, mock.urlFor('openai'), { read_timeout: 1 });
    globalThis.AbortController = RecordedAbortController;
    process.on('warning', onWarning);
  });
  after(async () => {
    globalThis.AbortController = OriginalAbortController;
    process.off('warning', onWarning);
    await node.close();
    await mock.close();
  });

  /** One stream read to its end; returns the final event. */
  async function complete(scenario: Scenario, model = modelId): Promise<any> {
    mock.setScenario('openai', scenario);
    const { response } = await openStream(baseUrl, model, noPooling);
    const events = dataEvents(await readText(response));
    return { status: response.statusCode, last: events.at(-1) };
  }

  async function completed(): Promise<void> {
    const { status, last } = await complete({});
    assert.equal(status, 200);
    assert.equal(dataAsMap(last).is_last, true);
  }

  const failures: Scenario[] = [
    { fixture: 'error-mid-stream' },
    { resetAfterEvents: 3, delayBetweenEventsMs: 5 },
    { malformedEventAfter: 3 },
  ];
  async function failedMidStream(index: number): Promise<void> {
    const { status, last } = await complete(failures[index % failures.length] ?? {});
    assert.equal(status, 200);
    assert.equal(typeof last.error, 'string');
  }

  async function clientLeft(): Promise<void> {
    mock.setScenario('openai', { delayBetweenEventsMs: 20 });
    const { outgoing, response } = await openStream(baseUrl, modelId, noPooling);
    await once(response, 'data');
    outgoing.destroy();
    assert.equal((await mock.waitForClose()).end, 'client-closed');
  }

  async function refused(): Promise<void> {
    mock.setScenario('openai', { status: 503 });
    const { response } = await openStream(baseUrl, modelId, noPooling);
    await readText(response);
    assert.equal(response.statusCode, 503);
  }

  /** Read timeouts, side by side (each waits 1 s). */
  async function timedOut(count: number): Promise<void> {
    const results = await Promise.all(
      Array.from({ length: count }, () => complete({ hangAfterEvents: 3 }, slowModelId)),
    );
    for (const { last } of results) assert.match(last.error, /read timeout/);
  }

  async function everyKind(count: number, withTimeouts = true): Promise<void> {
    for (let index = 0; index < count; index += 1) {
      await completed();
      await failedMidStream(index);
      await failedMidStream(index + 1);
      await clientLeft();
      await refused();
    }
    if (withTimeouts) await timedOut(3);
  }

  it(`${rounds}× each of completed, failed mid-stream, client gone, refused, timed out: nothing left behind`, {
    timeout,
  }, async () => {
    // Warm up: the pooled provider connection, lazily created timers, module caches.
    await everyKind(1, false);
    await sleep(100);
    controllers.length = 0;
    const baseline = resources();

    await everyKind(rounds);

    // Sockets take a moment to close on both ends; a real leak never settles. Sluice's pool
    // keeps a few idle connections to the mock (one per stream that overlapped the previous
    // one's last bytes); undici unrefs its ends, the mock's ends are counted here.
    const allowed = { TCPSocketWrap: 4 };
    let grown = growth(baseline, allowed);
    for (let attempt = 0; attempt < 60 && grown.length > 0; attempt += 1) {
      await sleep(50);
      grown = growth(baseline, allowed);
    }
    const now = JSON.stringify([...resources()]);
    assert.deepEqual(grown, [], `before: ${JSON.stringify([...baseline])}, after: ${now}`);
    assert.ok(controllers.length >= rounds * 5, `only ${controllers.length} controllers seen`);
    assert.deepEqual(warnings, []);
  });
});
