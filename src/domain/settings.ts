/**
 * The `plugins.ml_commons.*` cluster settings Sluice honours, with their ml-commons defaults
 * (MLCommonsSettings.java) except where PRODUCT.md decides otherwise (streaming on by default).
 */

export type SettingValue = boolean | string | number | string[];

interface SettingDefinition<T extends SettingValue> {
  kind: T extends boolean
    ? 'boolean'
    : T extends number
      ? 'integer'
      : T extends string[]
        ? 'list'
        : 'string';
  defaultValue: T;
}

const trustedEndpointsDefault = [
  // ml-commons defaults with one change. In ml-commons' AWS patterns (`bedrock-runtime\\..*[a-z0-9-]
  // \\.amazonaws…`) the `.*` may cross the host: `https://bedrock-runtime.evil.example/x.amazonaws
  // .com/` matches. Here the region part is `[a-z0-9.-]*`, which stays inside the host name.
  '^https://runtime\\.sagemaker\\.[a-z0-9.-]*[a-z0-9-]\\.amazonaws\\.com/.*$',
  '^https://api\\.sagemaker\\.[a-z0-9.-]*[a-z0-9-]\\.amazonaws\\.com/.*$',
  '^https://api\\.openai\\.com/.*$',
  '^https://api\\.cohere\\.ai/.*$',
  '^https://api\\.deepseek\\.com/.*$',
  '^https://bedrock-runtime\\.[a-z0-9.-]*[a-z0-9-]\\.amazonaws\\.com/.*$',
  '^https://bedrock-agent-runtime\\.[a-z0-9.-]*[a-z0-9-]\\.amazonaws\\.com/.*$',
  '^https://bedrock\\.[a-z0-9.-]*[a-z0-9-]\\.amazonaws\\.com/.*$',
  '^https://textract\\.[a-z0-9.-]*[a-z0-9-]\\.amazonaws\\.com$',
  '^https://comprehend\\.[a-z0-9.-]*[a-z0-9-]\\.amazonaws\\.com$',
  '^https://rekognition(-fips)?\\.[a-z0-9.-]*[a-z0-9-]\\.amazonaws\\.com$',
  // Sluice additions: the providers it streams from natively.
  '^https://api\\.anthropic\\.com/.*$',
  '^https://api\\.cohere\\.com/.*$',
  '^https://generativelanguage\\.googleapis\\.com/.*$',
  '^https://[a-z0-9-]+\\.openai\\.azure\\.com/.*$',
];

const noPatterns: string[] = [];

export const settingDefinitions = {
  'plugins.ml_commons.stream_enabled': { kind: 'boolean', defaultValue: true },
  'plugins.ml_commons.remote_inference.enabled': { kind: 'boolean', defaultValue: true },
  'plugins.ml_commons.trusted_connector_endpoints_regex': {
    kind: 'list',
    defaultValue: trustedEndpointsDefault,
  },
  'plugins.ml_commons.connector.private_ip_enabled': { kind: 'boolean', defaultValue: false },
  // Empty by default in ml-commons: no URL restriction on private addresses. Its companion,
  // connector.restricted_ip_patterns, is a node setting (config.ts), not a cluster setting.
  'plugins.ml_commons.trusted_connector_private_endpoints_regex': {
    kind: 'list',
    defaultValue: noPatterns,
  },
  'plugins.ml_commons.model_auto_deploy.enable': { kind: 'boolean', defaultValue: true },
  'plugins.ml_commons.only_run_on_ml_node': { kind: 'boolean', defaultValue: true },
  'plugins.ml_commons.max_json_size': { kind: 'integer', defaultValue: 100_000_000 },
} as const satisfies Record<string, SettingDefinition<SettingValue>>;

export type SettingKey = keyof typeof settingDefinitions;
export type SettingKind = (typeof settingDefinitions)[SettingKey]['kind'];

/** Effective values: every known key present, stored values over defaults. */
export interface EffectiveSettings {
  streamEnabled: boolean;
  remoteInferenceEnabled: boolean;
  trustedEndpointsRegex: string[];
  privateIpEnabled: boolean;
  trustedPrivateEndpointsRegex: string[];
  modelAutoDeploy: boolean;
  onlyRunOnMlNode: boolean;
  maxJsonSize: number;
}

/** What the store keeps: flat keys to values, per scope. */
export interface StoredSettings {
  persistent: Record<string, SettingValue>;
  transient: Record<string, SettingValue>;
}

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(settingDefinitions, key);
}

export function effectiveSettings(stored: StoredSettings): EffectiveSettings {
  const value = <K extends SettingKey>(key: K): (typeof settingDefinitions)[K]['defaultValue'] =>
    (stored.transient[key] ??
      stored.persistent[key] ??
      settingDefinitions[key].defaultValue) as (typeof settingDefinitions)[K]['defaultValue'];
  return {
    streamEnabled: value('plugins.ml_commons.stream_enabled') as boolean,
    remoteInferenceEnabled: value('plugins.ml_commons.remote_inference.enabled') as boolean,
    trustedEndpointsRegex: [...value('plugins.ml_commons.trusted_connector_endpoints_regex')],
    privateIpEnabled: value('plugins.ml_commons.connector.private_ip_enabled') as boolean,
    trustedPrivateEndpointsRegex: [
      ...value('plugins.ml_commons.trusted_connector_private_endpoints_regex'),
    ],
    modelAutoDeploy: value('plugins.ml_commons.model_auto_deploy.enable') as boolean,
    onlyRunOnMlNode: value('plugins.ml_commons.only_run_on_ml_node') as boolean,
    maxJsonSize: value('plugins.ml_commons.max_json_size') as number,
  };
}
