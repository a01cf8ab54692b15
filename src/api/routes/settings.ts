import type { FastifyInstance } from 'fastify';
import type { SettingsService } from '../../control/settings-service.ts';

export function settingsRoutes(app: FastifyInstance, settings: SettingsService): void {
  app.put('/_cluster/settings', async (request) => settings.update(request.body));
  app.get<{ Querystring: { flat_settings?: string; include_defaults?: string } }>(
    '/_cluster/settings',
    async (request) =>
      settings.view({
        flat: request.query.flat_settings === 'true',
        includeDefaults: request.query.include_defaults === 'true',
      }),
  );
}
