/** OpenSearch document-API response shapes, returned by update and delete endpoints. */

export interface WriteResponse {
  _index: string;
  _id: string;
  _version: number;
  result: 'created' | 'updated' | 'deleted' | 'not_found';
  forced_refresh: true;
  _shards: { total: 1; successful: 1; failed: 0 };
  _seq_no: number;
  _primary_term: 1;
}

export function writeResponse(
  index: string,
  id: string,
  version: number,
  result: WriteResponse['result'],
): WriteResponse {
  return {
    _index: index,
    _id: id,
    _version: version,
    result,
    forced_refresh: true,
    _shards: { total: 1, successful: 1, failed: 0 },
    _seq_no: Math.max(0, version - 1),
    _primary_term: 1,
  };
}

export const indexNames = {
  connector: '.plugins-ml-connector',
  model: '.plugins-ml-model',
  modelGroup: '.plugins-ml-model-group',
  task: '.plugins-ml-task',
} as const;

/** Credential values are never returned; the keys are, so operators see what is configured. */
export function maskCredential(
  credential: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (credential === undefined) return undefined;
  return Object.fromEntries(Object.keys(credential).map((key) => [key, '*****']));
}
