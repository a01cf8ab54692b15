/**
 * Builds the upstream call for a predict request from the connector, as ml-commons'
 * RemoteConnectorExecutor#preparePayloadAndInvoke does (reference §7): parameter merge and
 * escaping, optional built-in pre-processing, payload/URL/header templating, SigV4 signing.
 * Shared by `_predict` and `_predict/stream`.
 */

import { mergeParameters, requestParameterMap } from '../connector/parameters.ts';
import { buildHeaders, buildUrl, createPayload } from '../connector/payload.ts';
import type { ConnectorAction, ResolvedConnector } from '../domain/connector.ts';
import { badRequest } from '../domain/errors.ts';
import type { UpstreamCall } from '../domain/provider.ts';
import { signCall } from '../upstream/sigv4.ts';
import { preProcess } from './process-functions.ts';

/** The predict request body (ml-commons RemoteInferenceMLInput, plus the text_docs form). */
export interface PredictBody {
  parameters: Record<string, unknown>;
  textDocs: string[] | undefined;
}

export interface PreparedCall {
  call: UpstreamCall;
  /** Merged, escaped parameters (connector defaults overridden by the request). */
  parameters: Record<string, string>;
  action: ConnectorAction;
  /** Re-signs the call for each attempt (aws_sigv4 timestamps); undefined for plain http. */
  sign: ((call: UpstreamCall) => Promise<UpstreamCall>) | undefined;
}

export function readPredictBody(body: unknown): PredictBody {
  if (body === undefined || body === null) return { parameters: {}, textDocs: undefined };
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('The predict request body must be a JSON object');
  }
  const input = body as Record<string, unknown>;
  const parameters = input['parameters'] ?? {};
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) {
    throw badRequest('parameters must be a JSON object');
  }
  const textDocs = input['text_docs'];
  if (
    textDocs !== undefined &&
    (!Array.isArray(textDocs) || !textDocs.every((doc) => typeof doc === 'string'))
  ) {
    throw badRequest('text_docs must be a list of strings');
  }
  const actionType = input['action_type'];
  if (actionType !== undefined && String(actionType).toLowerCase() !== 'predict') {
    throw badRequest(`action_type ${String(actionType)} is not supported here; use predict`);
  }
  return { parameters: parameters as Record<string, unknown>, textDocs };
}

export function prepareCall(connector: ResolvedConnector, body: PredictBody): PreparedCall {
  const action = connector.actions.find((item) => item.action_type.toUpperCase() === 'PREDICT');
  if (action === undefined) {
    throw badRequest(`The connector ${connector.name} has no predict action`);
  }
  const requestParameters = requestParameterMap(body.parameters);
  // ml-commons runs the default embedding pre-processing for text_docs when none is set.
  const preProcessed =
    body.textDocs === undefined
      ? undefined
      : preProcess(action.pre_process_function ?? 'connector.pre_process.default.embedding', {
          text_docs: body.textDocs,
          parameters: body.parameters,
        });
  const parameters = mergeParameters(connector.parameters, requestParameters, preProcessed);
  const headers = buildHeaders(action.headers, parameters, connector.credential);
  if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  const call: UpstreamCall = {
    method: action.method.toUpperCase(),
    url: buildUrl(action.url, parameters),
    headers,
    body: action.request_body === undefined ? '' : createPayload(action.request_body, parameters),
  };
  return { call, parameters, action, sign: signerFor(connector, parameters) };
}

function signerFor(
  connector: ResolvedConnector,
  parameters: Record<string, string>,
): PreparedCall['sign'] {
  if (connector.protocol !== 'aws_sigv4') return undefined;
  const { credential } = connector;
  const accessKey = credential['access_key'];
  const secretKey = credential['secret_key'];
  if (accessKey === undefined || secretKey === undefined) {
    throw badRequest(
      credential['roleArn'] === undefined
        ? 'Missing credential: aws_sigv4 connectors need access_key and secret_key'
        : 'roleArn credentials are not supported: Sluice signs with static access_key and secret_key',
    );
  }
  const region = credential['region'] ?? parameters['region'];
  const service = credential['service_name'] ?? parameters['service_name'];
  if (region === undefined || service === undefined) {
    throw badRequest(
      'aws_sigv4 connectors need region and service_name (in parameters or credential)',
    );
  }
  const keys =
    credential['session_token'] === undefined
      ? { accessKey, secretKey }
      : { accessKey, secretKey, sessionToken: credential['session_token'] };
  return (call) => signCall(call, keys, region, service);
}
