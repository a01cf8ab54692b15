/**
 * Registers the keyless demo model under the well-known id `sluice-demo`. Its connector calls the
 * virtual origin `http://sluice-demo.invalid`, which every node's upstream client maps to its own
 * in-process demo provider (`.invalid` can never resolve to a real host).
 */
import type { ModelService } from '../control/model-service.ts';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { Store } from '../store/store.ts';

export const demoModelId = 'sluice-demo';
export const demoOrigin = 'http://sluice-demo.invalid';

export function demoConnector() {
  return {
    name: 'Sluice demo provider',
    description: 'An OpenAI-compatible fake provider inside the Sluice process; needs no key.',
    protocol: 'http',
    parameters: { model: 'sluice-demo' },
    actions: [
      {
        action_type: 'predict',
        method: 'POST',
        url: `${demoOrigin}/v1/chat/completions`,
        request_body: '{ "model": "${parameters.model}", "messages": ${parameters.messages} }',
      },
    ],
  };
}

export async function ensureDemoModel(store: Store, models: ModelService): Promise<void> {
  if ((await store.getModel(demoModelId)) !== undefined) return;
  try {
    await registerDemo(models);
  } catch (error) {
    // Several nodes of a cluster may start at once; one of them registers it.
    if (ServiceError.isInstance(error) && error.code === ErrorCode.Conflict) return;
    throw error;
  }
}

async function registerDemo(models: ModelService): Promise<void> {
  await models.register(
    {
      name: 'sluice-demo',
      description: 'Keyless demo model: streams a canned answer through the full Sluice path.',
      function_name: 'remote',
      connector: demoConnector(),
    },
    { deploy: true, modelId: demoModelId },
  );
}
