/**
 * The predict use case: resolve and gate the model (enabled, deployed, input schema, rate limit),
 * build the upstream call from its connector, call the provider, and shape the answer as
 * ml-commons does.
 * Streaming lives in stream-service.ts and shares `admit` and `prepareCall`.
 */

import type { ChangeCounter } from '../control/changes.ts';
import type { ConnectorService } from '../control/connector-service.ts';
import type { ModelService } from '../control/model-service.ts';
import type { SettingsService } from '../control/settings-service.ts';
import type { ResolvedConnector } from '../domain/connector.ts';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { InferenceResponse, ModelTensor } from '../domain/inference.ts';
import type { ModelDocument } from '../domain/model.ts';
import type { UpstreamClient } from '../upstream/client.ts';
import { redactSecrets } from '../upstream/upstream-error.ts';
import { InputSchemaValidator, type PredictKind } from './input-schema.ts';
import { type PredictBody, prepareCall } from './prepare.ts';
import { postProcess } from './process-functions.ts';
import type { ModelRateLimiters } from './rate-limiter.ts';
import { applyResponseFilter, toModelTensor } from './response-filter.ts';

export interface PredictServiceDependencies {
  models: ModelService;
  connectors: ConnectorService;
  settings: SettingsService;
  upstream: UpstreamClient;
  rateLimiters: ModelRateLimiters;
  /** How many nodes share the model's rate limit (ml-commons splits it across them). */
  eligibleNodeCount?: (model: ModelDocument) => number;
  /** Writes made through this node; any change empties the admission cache. */
  changes?: ChangeCounter;
  /** How long an admitted model and its connector are reused (other nodes' writes). */
  cacheMs?: number;
}

interface CachedAdmission {
  model: ModelDocument;
  connector: ResolvedConnector | undefined;
  changes: number;
  expiresAt: number;
}

export interface AdmittedModel {
  modelId: string;
  model: ModelDocument;
  connector: ResolvedConnector;
}

export class PredictService {
  readonly #dependencies: PredictServiceDependencies;
  // The hot path reads the model and its connector (and decrypts credentials) on every call;
  // they change rarely, so they are kept briefly. Bounded: one entry per model id.
  readonly #cache = new Map<string, CachedAdmission>();
  readonly #inputSchemas = new InputSchemaValidator();

  constructor(dependencies: PredictServiceDependencies) {
    this.#dependencies = dependencies;
  }

  /**
   * The checks a coordinator makes before choosing where a model runs: remote inference on, the
   * model known and enabled, the request valid against the model's `interface.input` schema, and
   * the model deployed (or deployed now, when auto-deploy is on). An ML node makes them again
   * (`admit`): any Flight client can send it a ticket.
   */
  async gate(modelId: string, body: PredictBody, kind: PredictKind): Promise<ModelDocument> {
    const model = await this.#enabledModel(modelId);
    // Before an auto-deploy and before the rate limit token: a request the schema refuses
    // changes nothing and costs nothing.
    this.#inputSchemas.check(model.interface, body, kind);
    return this.#deployed(modelId, model);
  }

  async #enabledModel(modelId: string): Promise<ModelDocument> {
    const current = this.#dependencies.settings.current();
    if (!current.remoteInferenceEnabled) {
      throw new ServiceError(
        ErrorCode.BadRequest,
        'Remote Inference is currently disabled. To enable it, update the setting "plugins.ml_commons.remote_inference.enabled" to true.',
      );
    }
    const model = await this.#model(modelId);
    if (model.is_enabled === false) {
      throw new ServiceError(ErrorCode.Forbidden, 'Model is disabled.');
    }
    return model;
  }

  /** The model, deployed now if it was not and auto-deploy is on. */
  async #deployed(modelId: string, model: ModelDocument): Promise<ModelDocument> {
    if (model.model_state !== 'DEPLOYED' && model.model_state !== 'PARTIALLY_DEPLOYED') {
      if (!this.#dependencies.settings.current().modelAutoDeploy) {
        throw new ServiceError(
          ErrorCode.BadRequest,
          'Model not ready yet. Please deploy the model first.',
        );
      }
      await this.#dependencies.models.autoDeploy(modelId);
      this.#cache.delete(modelId);
      return this.#model(modelId);
    }
    return model;
  }

  async #model(modelId: string): Promise<ModelDocument> {
    const cached = this.#fresh(modelId);
    if (cached !== undefined) return cached.model;
    const model = await this.#dependencies.models.getDocument(modelId);
    this.#remember(modelId, { model, connector: undefined });
    return model;
  }

  async #connector(modelId: string, model: ModelDocument): Promise<ResolvedConnector> {
    const cached = this.#fresh(modelId);
    if (cached?.connector !== undefined && cached.model === model) return cached.connector;
    const { connectors } = this.#dependencies;
    const connector =
      model.connector !== undefined
        ? connectors.resolve(undefined, model.connector)
        : await connectors.resolveById(model.connector_id ?? '');
    this.#remember(modelId, { model, connector });
    return connector;
  }

  #fresh(modelId: string): CachedAdmission | undefined {
    const cached = this.#cache.get(modelId);
    if (cached === undefined) return undefined;
    if (
      cached.expiresAt > Date.now() &&
      cached.changes === (this.#dependencies.changes?.value ?? 0)
    ) {
      return cached;
    }
    this.#cache.delete(modelId);
    return undefined;
  }

  #remember(modelId: string, entry: Pick<CachedAdmission, 'model' | 'connector'>): void {
    const cacheMs = this.#dependencies.cacheMs ?? 1000;
    if (cacheMs <= 0) return;
    if (this.#cache.size >= 10_000) this.#cache.clear();
    this.#cache.set(modelId, {
      ...entry,
      changes: this.#dependencies.changes?.value ?? 0,
      expiresAt: Date.now() + cacheMs,
    });
  }

  /**
   * The checks this node makes before it builds a provider call for the model: the gate, and the
   * model's connector. The rate limit comes later (`takeToken`), once the call is built.
   */
  async admit(modelId: string, body: PredictBody, kind: PredictKind): Promise<AdmittedModel> {
    const model = await this.gate(modelId, body, kind);
    return { modelId, model, connector: await this.#connector(modelId, model) };
  }

  /**
   * The model's rate limit, taken once the provider call is built, right before it is made (as
   * ml-commons does, after the payload and its placeholders are checked): a request refused for
   * its own mistakes (unknown interface, missing parameter, n > 1) costs no token.
   */
  takeToken({ modelId, model }: AdmittedModel): void {
    const { rateLimiters, eligibleNodeCount } = this.#dependencies;
    // Counting nodes walks the membership: only a model with a limit needs it.
    const nodes = model.rate_limiter === undefined ? 1 : (eligibleNodeCount?.(model) ?? 1);
    if (!rateLimiters.tryAcquire(modelId, model.rate_limiter, nodes)) {
      throw new ServiceError(ErrorCode.TooManyRequests, 'Request is throttled at model level.');
    }
  }

  async predict(
    modelId: string,
    body: PredictBody,
    signal: AbortSignal,
  ): Promise<InferenceResponse> {
    const admitted = await this.admit(modelId, body, 'predict');
    const { connector } = admitted;
    const prepared = prepareCall(connector, body);
    this.takeToken(admitted);
    const response = await this.#dependencies.upstream.send(
      prepared.call,
      connector.clientConfig,
      signal,
      prepared.sign,
    );
    if (response.status < 200 || response.status >= 300) {
      // Some providers echo the rejected key; it must reach neither the client nor the logs.
      const body = redactSecrets(response.body, prepared.call.headers);
      throw new ServiceError(ErrorCode.Upstream, `Error from remote service: ${body}`, {
        status: response.status,
      });
    }
    const output = toTensors(
      response.body,
      prepared.action.post_process_function,
      prepared.parameters['response_filter'],
    );
    return { inference_results: [{ output, status_code: response.status }] };
  }
}

function toTensors(
  body: string,
  postProcessFunction: string | undefined,
  responseFilter: string | undefined,
): ModelTensor[] {
  let parsed: unknown;
  try {
    parsed = body.trim() === '' ? {} : JSON.parse(body);
  } catch {
    // A provider that answers plain text still gets its answer through, as ml-commons does.
    return [toModelTensor(body)];
  }
  if (postProcessFunction !== undefined) {
    // ml-commons lets response_filter override the function's default path.
    return postProcess(postProcessFunction, parsed, responseFilter);
  }
  if (responseFilter !== undefined && responseFilter !== '') {
    return [toModelTensor(applyResponseFilter(parsed, responseFilter))];
  }
  return [toModelTensor(parsed)];
}
