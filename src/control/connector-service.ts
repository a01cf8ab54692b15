/**
 * Connector use cases: create, read (credentials masked), update, delete (refused while models
 * use the connector), search, and resolution into a runtime connector with decrypted credentials.
 */
import { substitute } from '../connector/template.ts';
import {
  type ConnectorDocument,
  type ResolvedConnector,
  resolveClientConfig,
} from '../domain/connector.ts';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import type { Store } from '../store/store.ts';
import {
  checkEndpointAddress,
  checkTrustedEndpoint,
  type EndpointPolicy,
} from '../upstream/endpoint-guard.ts';
import type { ChangeCounter } from './changes.ts';
import {
  mergeConnectorUpdate,
  newConnectorDocument,
  readConnectorFields,
} from './connector-input.ts';
import { newId } from './ids.ts';
import { updateOptimistically } from './optimistic-update.ts';
import { indexNames, maskCredential, type WriteResponse, writeResponse } from './responses.ts';
import { type SearchRequest, type SearchResponse, search } from './search.ts';

export interface ConnectorServiceDependencies {
  store: Store;
  cipher: CredentialCipher;
  /** What connector URLs may reach; the upstream client applies the same policy on every call. */
  endpointPolicy: () => EndpointPolicy;
  now: () => number;
  /** Virtual origins served by this process (the demo provider), exempt from the endpoint guard. */
  builtInOrigins?: ReadonlyMap<string, string>;
  changes?: ChangeCounter;
}

export class ConnectorService {
  readonly #dependencies: ConnectorServiceDependencies;

  constructor(dependencies: ConnectorServiceDependencies) {
    this.#dependencies = dependencies;
  }

  async create(body: unknown): Promise<{ connector_id: string }> {
    const document = await this.prepareNew(body);
    const id = newId();
    await this.#dependencies.store.createConnector(id, document);
    return { connector_id: id };
  }

  /** Validates and encrypts a connector body; shared with inline connectors of models. */
  async prepareNew(body: unknown): Promise<ConnectorDocument> {
    const document = newConnectorDocument(
      readConnectorFields(body, 'create'),
      this.#dependencies.now(),
    );
    await this.checkEndpoints(document);
    return this.#encrypted(document);
  }

  /** Validates an update body and merges it into a stored document (credentials encrypted). */
  async prepareUpdate(existing: ConnectorDocument, body: unknown): Promise<ConnectorDocument> {
    const fields = readConnectorFields(body, 'update');
    if (fields.credential !== undefined) {
      fields.credential = this.#dependencies.cipher.encryptAll(fields.credential);
    }
    const document = mergeConnectorUpdate(existing, fields, this.#dependencies.now());
    await this.checkEndpoints(document);
    return document;
  }

  async get(id: string): Promise<Record<string, unknown>> {
    const stored = await this.#dependencies.store.getConnector(id);
    if (stored === undefined) throw connectorNotFound();
    return connectorView(stored.document);
  }

  async update(id: string, body: unknown): Promise<WriteResponse> {
    const { store } = this.#dependencies;
    const { version } = await updateOptimistically({
      read: () => store.getConnector(id),
      change: (stored) => this.prepareUpdate(stored.document, body),
      write: (document, expectedVersion) => store.updateConnector(id, document, expectedVersion),
      notFound: connectorNotFound,
    });
    this.#dependencies.changes?.bump();
    return writeResponse(indexNames.connector, id, version, 'updated');
  }

  async delete(id: string): Promise<WriteResponse> {
    const result = await this.#dependencies.store.deleteConnector(id);
    this.#dependencies.changes?.bump();
    switch (result.outcome) {
      case 'deleted':
        return writeResponse(indexNames.connector, id, 1, 'deleted');
      case 'not_found':
        throw connectorNotFound();
      case 'in_use':
        throw new ServiceError(
          ErrorCode.Conflict,
          `${result.modelIds.length} models are still using this connector, please delete or update the models first: [${result.modelIds.join(', ')}]`,
        );
    }
  }

  async search(request: SearchRequest): Promise<SearchResponse> {
    const stored = await this.#dependencies.store.listConnectors();
    return search(
      indexNames.connector,
      stored.map((item) => ({
        id: item.id,
        version: item.version,
        source: connectorView(item.document),
      })),
      request,
    );
  }

  async resolveById(id: string): Promise<ResolvedConnector> {
    const stored = await this.#dependencies.store.getConnector(id);
    if (stored === undefined) throw connectorNotFound();
    return this.resolve(id, stored.document);
  }

  resolve(id: string | undefined, document: ConnectorDocument): ResolvedConnector {
    return {
      id,
      name: document.name,
      protocol: document.protocol,
      parameters: document.parameters ?? {},
      credential: this.#decrypted(document.credential ?? {}),
      actions: document.actions ?? [],
      clientConfig: resolveClientConfig(document.client_config),
    };
  }

  /**
   * The trusted-endpoint regex and the private-address guard, checked at write time for an early,
   * clear error (they run again on every call). A URL that still needs request parameters cannot
   * be judged yet and is checked only at call time.
   */
  async checkEndpoints(document: ConnectorDocument): Promise<void> {
    const policy = this.#dependencies.endpointPolicy();
    for (const action of document.actions ?? []) {
      const url = substitute(action.url, document.parameters ?? {}, '${parameters.');
      // Blueprints carry placeholders such as `<your_aws_region>`; such a URL is checked (and
      // refused with a clear message) when it is called, not when it is stored.
      if (url.includes('${parameters.') || !URL.canParse(url)) continue;
      if (this.#dependencies.builtInOrigins?.has(new URL(url).origin) === true) continue;
      checkTrustedEndpoint(url, policy.trustedEndpointsRegex);
      await checkEndpointAddress(url, policy, { allowUnresolved: true });
    }
  }

  #encrypted(document: ConnectorDocument): ConnectorDocument {
    return {
      ...document,
      credential: this.#dependencies.cipher.encryptAll(document.credential ?? {}),
    };
  }

  #decrypted(credential: Record<string, string>): Record<string, string> {
    try {
      return this.#dependencies.cipher.decryptAll(credential);
    } catch (error) {
      // Never echo the ciphertext or the key: only that the key does not fit.
      throw new ServiceError(
        ErrorCode.Internal,
        'Connector credentials cannot be decrypted with the configured master key',
        { cause: error },
      );
    }
  }
}

export function connectorView(document: ConnectorDocument): Record<string, unknown> {
  const view: Record<string, unknown> = { ...document };
  const masked = maskCredential(document.credential);
  if (masked !== undefined) view['credential'] = masked;
  return view;
}

export function connectorNotFound(): ServiceError {
  return new ServiceError(ErrorCode.NotFound, 'Failed to find connector');
}
