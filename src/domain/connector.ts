/**
 * Connector documents, in the ml-commons JSON shape (snake_case keys kept on purpose: the stored
 * document is what GET returns, so ml-commons clients read the fields they expect).
 * Reference: ml-commons-reference.md §6.1.
 */

export const connectorProtocols = ['http', 'aws_sigv4'] as const;
export type ConnectorProtocol = (typeof connectorProtocols)[number];

export const backoffPolicies = [
  'constant',
  'exponential_equal_jitter',
  'exponential_full_jitter',
] as const;
export type BackoffPolicy = (typeof backoffPolicies)[number];

/** `client_config` with every ml-commons default applied (see `resolveClientConfig`). */
export interface ClientConfig {
  max_connection: number;
  /** Seconds to establish the TCP/TLS connection. */
  connection_timeout: number;
  /** Seconds of silence allowed between bytes (and, when streaming, between events). */
  read_timeout: number;
  retry_backoff_millis: number;
  retry_timeout_seconds: number;
  /** 0 = no retry, -1 = unlimited (bounded by retry_timeout_seconds). */
  max_retry_times: number;
  retry_backoff_policy: BackoffPolicy;
  skip_ssl_verification: boolean;
  /** Sluice extension: seconds until the first token must arrive (streams). */
  first_token_timeout?: number;
  /** Sluice extension: seconds a whole call may take; absent = no total limit. */
  total_timeout?: number;
}

export const defaultClientConfig: ClientConfig = {
  // ml-commons uses 30. Each open stream holds one HTTP/1.1 connection for its whole length, so
  // 30 would silently queue the 31st concurrent stream behind the others (measured: p50 time to
  // first token 5 s at 256 streams). Sluice defaults higher; a connector can still set it.
  max_connection: 256,
  connection_timeout: 30,
  read_timeout: 30,
  retry_backoff_millis: 200,
  retry_timeout_seconds: 30,
  max_retry_times: 0,
  retry_backoff_policy: 'constant',
  skip_ssl_verification: false,
};

export function resolveClientConfig(config: Partial<ClientConfig> | undefined): ClientConfig {
  return { ...defaultClientConfig, ...config };
}

export interface ConnectorAction {
  action_type: string;
  method: string;
  url: string;
  name?: string;
  headers?: Record<string, string>;
  request_body?: string;
  pre_process_function?: string;
  post_process_function?: string;
  /** Accepted for blueprint compatibility; ml-commons ignores unknown action keys too. */
  [other: string]: unknown;
}

export interface ConnectorDocument {
  name: string;
  description?: string;
  version?: string;
  protocol: ConnectorProtocol;
  /** Defaults for `${parameters.x}`; non-string JSON values are stored as JSON text. */
  parameters?: Record<string, string>;
  /**
   * Credential values. In the store they are ciphertext (AES-256-GCM); in memory, right before a
   * call, plain text. Never returned by the API.
   */
  credential?: Record<string, string>;
  actions?: ConnectorAction[];
  client_config?: Partial<ClientConfig>;
  backend_roles?: string[];
  access?: string;
  created_time: number;
  last_updated_time: number;
}

/** A connector as the runtime uses it: credentials decrypted, config defaults applied. */
export interface ResolvedConnector {
  id: string | undefined;
  name: string;
  protocol: ConnectorProtocol;
  parameters: Record<string, string>;
  credential: Record<string, string>;
  actions: ConnectorAction[];
  clientConfig: ClientConfig;
}
