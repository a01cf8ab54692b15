/**
 * The coordinator's side of a client that leaves early: no ML node is asked (and no upstream
 * request started) for a client that is already gone. And of a request the model's input schema
 * refuses: the coordinator answers 400 itself, before any Flight call.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import type { StreamPart } from '../domain/stream-part.ts';
import { inputSchemaErrorPrefix } from '../predict/input-schema.ts';
import { PredictService } from '../predict/predict-service.ts';
import { ModelRateLimiters } from '../predict/rate-limiter.ts';
import { ClusterExecutor } from './cluster-executor.ts';

function executorWith(
  gate: () => Promise<void>,
  calls: AbortSignal[],
  predict: unknown = {
    gate: async () => {
      await gate();
      return { model_id: 'm', model_state: 'DEPLOYED', deploy_to_all_nodes: true };
    },
  },
) {
  const flight = {
    async *doGet(_ticket: Uint8Array, signal: AbortSignal): AsyncGenerator<StreamPart[]> {
      calls.push(signal);
      yield [{ type: 'finish', finishReason: { unified: 'stop', raw: undefined } }];
    },
    async doAction(_type: string, _body: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
      calls.push(signal);
      return Buffer.from('{"inference_results":[]}');
    },
  };
  return new ClusterExecutor({
    settings: { current: () => ({ streamEnabled: true }) } as any,
    predict: predict as any,
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

describe('ClusterExecutor and the model input schema', () => {
  // The real gate, on a store that knows one deployed model declaring an input schema.
  const predict = new PredictService({
    models: {
      getDocument: async () => ({
        model_id: 'm',
        model_state: 'DEPLOYED',
        deploy_to_all_nodes: true,
        interface: {
          input: JSON.stringify({
            properties: { parameters: { required: ['messages'] } },
            required: ['parameters'],
          }),
        },
      }),
    } as any,
    connectors: {} as any,
    settings: { current: () => ({ remoteInferenceEnabled: true, modelAutoDeploy: false }) } as any,
    upstream: {} as any,
    rateLimiters: new ModelRateLimiters(),
  });
  const refused = (error: unknown) =>
    ServiceError.isInstance(error) &&
    error.status === 400 &&
    error.message ===
      `${inputSchemaErrorPrefix}Validation failed: [$.parameters: required property 'messages' not found]`;

  it('refuses a stream and a predict on the coordinator, asking no ML node', async () => {
    const calls: AbortSignal[] = [];
    const executor = executorWith(async () => {}, calls, predict);
    const body = { parameters: { prompt: 'Hello' }, textDocs: undefined };
    await assert.rejects(executor.openStream('m', body, new AbortController()), refused);
    await assert.rejects(executor.predict('m', body, new AbortController().signal), refused);
    assert.equal(calls.length, 0);
  });

  it('forwards a valid request to an ML node', async () => {
    const calls: AbortSignal[] = [];
    const executor = executorWith(async () => {}, calls, predict);
    const body = {
      parameters: { messages: [{ role: 'user', content: 'Hi' }] },
      textDocs: undefined,
    };
    const stream = await executor.openStream('m', body, new AbortController());
    const batches: StreamPart[][] = [];
    for await (const batch of stream.batches) batches.push(batch);
    assert.equal(batches.at(-1)?.at(-1)?.type, 'finish');
    await executor.predict('m', body, new AbortController().signal);
    assert.equal(calls.length, 2);
  });
});
