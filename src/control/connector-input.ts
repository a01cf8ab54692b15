/**
 * Reading a connector from a request body (create, update, or inline in a model registration)
 * into the stored document shape, with ml-commons' validation rules (reference §6.1).
 * Credentials come out in plain text; the caller encrypts them.
 */
import {
  backoffPolicies,
  type ClientConfig,
  type ConnectorAction,
  type ConnectorDocument,
  type ConnectorProtocol,
  connectorProtocols,
} from '../domain/connector.ts';
import { badRequest } from '../domain/errors.ts';
import { validateProcessFunction } from '../predict/process-functions.ts';
import {
  type JsonObject,
  optionalBoolean,
  optionalNumber,
  optionalObject,
  optionalStringList,
  optionalText,
  requireObject,
  requireText,
  textMap,
} from './input.ts';

const actionTypes = [
  'predict',
  'execute',
  'batch_predict',
  'cancel_batch_predict',
  'batch_predict_status',
] as const;

/** Fields a connector body may set; everything else is ignored, as ml-commons' parser does. */
export type ConnectorFields = Partial<
  Omit<ConnectorDocument, 'created_time' | 'last_updated_time'>
>;

export function readConnectorFields(body: unknown, mode: 'create' | 'update'): ConnectorFields {
  const input = requireObject(body, 'The connector');
  const fields: ConnectorFields = {};
  const name =
    mode === 'create' ? requireText(input['name'], 'name') : optionalText(input['name'], 'name');
  if (name !== undefined) fields.name = name;
  const description = optionalText(input['description'], 'description');
  if (description !== undefined) fields.description = description;
  const version = optionalText(input['version'], 'version');
  if (version !== undefined) fields.version = version;
  const protocol = readProtocol(input['protocol'], mode);
  if (protocol !== undefined) fields.protocol = protocol;
  const parameters = textMap(input['parameters'], 'parameters');
  if (parameters !== undefined) fields.parameters = parameters;
  const credential = textMap(input['credential'], 'credential');
  if (credential !== undefined) fields.credential = credential;
  if (input['actions'] !== undefined && input['actions'] !== null) {
    if (!Array.isArray(input['actions'])) throw badRequest('actions must be a list');
    fields.actions = input['actions'].map((action, index) => readAction(action, index));
  }
  const clientConfig = readClientConfig(input['client_config']);
  if (clientConfig !== undefined) fields.client_config = clientConfig;
  const backendRoles = optionalStringList(input['backend_roles'], 'backend_roles');
  if (backendRoles !== undefined) fields.backend_roles = backendRoles;
  const access = optionalText(input['access_mode'] ?? input['access'], 'access_mode');
  if (access !== undefined) fields.access = access;
  return fields;
}

/** Builds the new document from a create body (credentials still plain). */
export function newConnectorDocument(fields: ConnectorFields, now: number): ConnectorDocument {
  if (fields.name === undefined || fields.protocol === undefined) {
    throw badRequest('name and protocol are required');
  }
  const document: ConnectorDocument = {
    name: fields.name,
    protocol: fields.protocol,
    parameters: fields.parameters ?? {},
    credential: fields.credential ?? {},
    actions: fields.actions ?? [],
    created_time: now,
    last_updated_time: now,
  };
  assignOptional(document, fields);
  validateCredentialForm(document);
  return document;
}

/**
 * Applies an update as ml-commons does: given fields replace the stored ones, except
 * `parameters`, which are merged key by key. `credential`, when given, replaces all credentials
 * and arrives here already encrypted by the caller.
 */
export function mergeConnectorUpdate(
  existing: ConnectorDocument,
  fields: ConnectorFields,
  now: number,
): ConnectorDocument {
  const document: ConnectorDocument = {
    ...existing,
    parameters: { ...existing.parameters, ...fields.parameters },
    last_updated_time: now,
  };
  if (fields.name !== undefined) document.name = fields.name;
  if (fields.protocol !== undefined) document.protocol = fields.protocol;
  if (fields.credential !== undefined) document.credential = fields.credential;
  if (fields.actions !== undefined) document.actions = fields.actions;
  assignOptional(document, fields);
  return document;
}

function assignOptional(document: ConnectorDocument, fields: ConnectorFields): void {
  if (fields.description !== undefined) document.description = fields.description;
  if (fields.version !== undefined) document.version = fields.version;
  if (fields.client_config !== undefined) document.client_config = fields.client_config;
  if (fields.backend_roles !== undefined) document.backend_roles = fields.backend_roles;
  if (fields.access !== undefined) document.access = fields.access;
}

/**
 * aws_sigv4 connectors need static keys to sign with. A `roleArn` connector is stored (the
 * ml-commons blueprint must be accepted as is) but refused when called.
 */
function validateCredentialForm(document: ConnectorDocument): void {
  if (document.protocol !== 'aws_sigv4') return;
  const credential = document.credential ?? {};
  const hasStaticKeys =
    credential['access_key'] !== undefined && credential['secret_key'] !== undefined;
  if (!hasStaticKeys && credential['roleArn'] === undefined) {
    throw badRequest('Missing credential: aws_sigv4 connectors need access_key and secret_key');
  }
}

function readProtocol(value: unknown, mode: 'create' | 'update'): ConnectorProtocol | undefined {
  const protocol =
    mode === 'create' ? requireText(value, 'protocol') : optionalText(value, 'protocol');
  if (protocol === undefined) return undefined;
  const normalised = protocol.toLowerCase();
  if ((connectorProtocols as readonly string[]).includes(normalised)) {
    return normalised as ConnectorProtocol;
  }
  if (normalised.startsWith('mcp_')) {
    throw badRequest(
      `The connector protocol ${protocol} is not supported by Sluice; use http or aws_sigv4`,
    );
  }
  throw badRequest(
    `Unsupported connector protocol. Please use one of [${connectorProtocols.join(', ')}]`,
  );
}

function readAction(value: unknown, index: number): ConnectorAction {
  const input = requireObject(value, `actions[${index}]`);
  const actionType = requireText(
    input['action_type'],
    `actions[${index}].action_type`,
  ).toLowerCase();
  if (!(actionTypes as readonly string[]).includes(actionType)) {
    throw badRequest(
      `Invalid action_type ${String(input['action_type'])}; use one of ${actionTypes.join(', ')}`,
    );
  }
  const action: ConnectorAction = {
    ...input,
    // ml-commons stores the enum name and returns it upper case.
    action_type: actionType.toUpperCase(),
    method: requireText(input['method'], `actions[${index}].method`),
    url: requireText(input['url'], `actions[${index}].url`),
  };
  const headers = textMap(input['headers'], `actions[${index}].headers`);
  if (headers !== undefined) action.headers = headers;
  const requestBody = optionalText(input['request_body'], `actions[${index}].request_body`);
  if (requestBody !== undefined) action.request_body = requestBody;
  for (const [key, kind] of [
    ['pre_process_function', 'pre'],
    ['post_process_function', 'post'],
  ] as const) {
    const name = optionalText(input[key], `actions[${index}].${key}`);
    if (name === undefined) continue;
    validateProcessFunction(name, kind);
    action[key] = name;
  }
  return action;
}

const numericClientConfigKeys = [
  'max_connection',
  'connection_timeout',
  'read_timeout',
  'retry_backoff_millis',
  'retry_timeout_seconds',
  'max_retry_times',
  'first_token_timeout',
  'total_timeout',
] as const;

function readClientConfig(value: unknown): Partial<ClientConfig> | undefined {
  const input: JsonObject | undefined = optionalObject(value, 'client_config');
  if (input === undefined) return undefined;
  const config: Partial<ClientConfig> = {};
  for (const key of numericClientConfigKeys) {
    const number = optionalNumber(input[key], `client_config.${key}`);
    if (number === undefined) continue;
    const minimum = key === 'max_retry_times' ? -1 : key === 'max_connection' ? 1 : 0;
    if (!Number.isInteger(number) || number < minimum) {
      throw badRequest(`client_config.${key} must be an integer of at least ${minimum}`);
    }
    config[key] = number;
  }
  const policy = optionalText(input['retry_backoff_policy'], 'client_config.retry_backoff_policy');
  if (policy !== undefined) {
    const normalised = policy.toLowerCase();
    if (!(backoffPolicies as readonly string[]).includes(normalised)) {
      throw badRequest(
        `client_config.retry_backoff_policy must be one of ${backoffPolicies.join(', ')}`,
      );
    }
    config.retry_backoff_policy = normalised as ClientConfig['retry_backoff_policy'];
  }
  const skip = optionalBoolean(
    input['skip_ssl_verification'],
    'client_config.skip_ssl_verification',
  );
  if (skip !== undefined) config.skip_ssl_verification = skip;
  return config;
}
