/**
 * The coordinator's side of a client that leaves early: no ML node is asked (and no upstream
 * request started) for a client that is already gone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { ClusterExecutor } from './cluster-executor.ts';

function executorWith(gate: () => Promise<void>, calls: AbortSignal[]) {
  const flight = {
    async *doGet(_ticket: Uint8Array, signal: AbortSignal): AsyncGenerator<StreamPart[]> {
      calls.push(signal);
      yield [{ type: 'finish', finishReason: { unified: 'stop', raw: undefined } }];
    },
  };
  return new ClusterExecutor({
    settings: { current: () => ({ streamEnabled: true }) } as any,
    predict: {
      gate: async () => {
        await gate();
        return { model_id: 'm', model_state: 'DEPLOYED', deploy_to_all_nodes: true };
      },
    } as any,
    membership: {
      self: { id: 'coordinator' },
      liveMlNodes: () => [
        { id: 'ml-1', name: 'ml-1', roles: ['ml'], flightAddress: '127.0.0.1:1' },
        { id: 'ml-2', name: 'ml-2', roles: ['ml'], flightAddress: '127.0.0.1:2' },
      ],
    } as any,
    router: { order: (nodes: unknown[]) => nodes, track: () => () => {} } as any,
    local: undefined,
    flightClient: () => flight as any,
  });
}

const canceled = (error: unknown) => ServiceError.isInstance(error) && error.code === 'canceled';

describe('ClusterExecutor and a client that left', () => {
  it('asks no ML node when the client left while the model was checked', async () => {
    const controller = new AbortController();
    const calls: AbortSignal[] = [];
    const executor = executorWith(async () => {
      controller.abort(new DOMException('Client disconnected', 'AbortError'));
    }, calls);
    await assert.rejects(
      executor.openStream('m', { parameters: {}, textDocs: undefined }, controller),
      canceled,
    );
    assert.equal(calls.length, 0);
  });

  it('streams normally while the client stays', async () => {
    const controller = new AbortController();
    const calls: AbortSignal[] = [];
    const executor = executorWith(async () => {}, calls);
    const stream = await executor.openStream(
      'm',
      { parameters: {}, textDocs: undefined },
      controller,
    );
    const batches: StreamPart[][] = [];
    for await (const batch of stream.batches) batches.push(batch);
    assert.equal(batches.at(-1)?.at(-1)?.type, 'finish');
    assert.equal(calls.length, 1);
  });
});
