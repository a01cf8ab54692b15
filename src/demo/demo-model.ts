/**
 * Registers (or re-points) the keyless demo model under the well-known id `sluice-demo`, backed by
 * the in-process demo provider. The provider's port changes on every start, so an existing demo
 * model has its connector URL updated rather than being registered again.
 */
import type { ModelService } from '../control/model-service.ts';
import type { Store } from '../store/store.ts';

export const demoModelId = 'sluice-demo';

export function demoConnector(origin: string) {
  return {
    name: 'Sluice demo provider',
    description: 'An OpenAI-compatible fake provider inside the Sluice process; needs no key.',
    protocol: 'http',
    parameters: { model: 'sluice-demo' },
    actions: [
      {
        action_type: 'predict',
        method: 'POST',
        url: `${origin}/v1/chat/completions`,
        request_body: '{ "model": "${parameters.model}", "messages": ${parameters.messages} }',
      },
    ],
  };
}

export async function ensureDemoModel(
  store: Store,
  models: ModelService,
  origin: string,
): Promise<void> {
  const existing = await store.getModel(demoModelId);
  const url = `${origin}/v1/chat/completions`;
  if (existing === undefined) {
    await models.register(
      {
        name: 'sluice-demo',
        description: 'Keyless demo model: streams a canned answer through the full Sluice path.',
        function_name: 'remote',
        connector: demoConnector(origin),
      },
      { deploy: true, modelId: demoModelId },
    );
    return;
  }
  const connector = existing.document.connector;
  if (connector === undefined) return;
  await store.updateModel(demoModelId, {
    ...existing.document,
    connector: {
      ...connector,
      actions: (connector.actions ?? []).map((action) => ({ ...action, url })),
    },
  });
}
