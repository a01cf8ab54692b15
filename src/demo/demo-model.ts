/**
 * Registers the keyless demo model under the well-known id `sluice-demo`. Its connector calls the
 * virtual origin `http://sluice-demo.invalid`, which every node's upstream client maps to its own
 * in-process demo provider (`.invalid` can never resolve to a real host).
 */
import type { ModelService } from '../control/model-service.ts';
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
