/**
 * Model, model group and task documents in the ml-commons JSON shape.
 * Reference: ml-commons-reference.md §2.2, §6.2, §6.3.
 */
import type { ConnectorDocument } from './connector.ts';

export const modelStates = [
  'REGISTERED',
  'DEPLOYING',
  'DEPLOYED',
  'PARTIALLY_DEPLOYED',
  'UNDEPLOYED',
  'DEPLOY_FAILED',
] as const;
export type ModelState = (typeof modelStates)[number];

/** java.util.concurrent.TimeUnit names, as ml-commons accepts them. */
export const timeUnits = [
  'NANOSECONDS',
  'MICROSECONDS',
  'MILLISECONDS',
  'SECONDS',
  'MINUTES',
  'HOURS',
  'DAYS',
] as const;
export type TimeUnit = (typeof timeUnits)[number];

export interface RateLimiter {
  /** A non-negative number written as a string, as in ml-commons. */
  limit: string;
  unit: TimeUnit;
}

export interface ModelDocument {
  name: string;
  algorithm: 'REMOTE';
  model_version: string;
  model_group_id?: string;
  description?: string;
  /** Set when the model uses a stored connector. */
  connector_id?: string;
  /** Set when the model was registered with an inline connector (credentials encrypted). */
  connector?: ConnectorDocument;
  model_state: ModelState;
  is_enabled?: boolean;
  rate_limiter?: RateLimiter;
  interface?: Record<string, unknown>;
  guardrails?: unknown;
  deploy_setting?: unknown;
  planning_worker_node_count?: number;
  current_worker_node_count?: number;
  planning_worker_nodes?: string[];
  deploy_to_all_nodes?: boolean;
  is_hidden?: boolean;
  created_time: number;
  last_updated_time: number;
  last_registered_time?: number;
  last_deployed_time?: number;
  last_undeployed_time?: number;
}

export interface ModelGroupDocument {
  name: string;
  description?: string;
  latest_version: number;
  access?: string;
  backend_roles?: string[];
  created_time: number;
  last_updated_time: number;
}

export const taskTypes = ['REGISTER_MODEL', 'DEPLOY_MODEL', 'UNDEPLOY_MODEL'] as const;
export type TaskType = (typeof taskTypes)[number];

export const taskStates = ['CREATED', 'RUNNING', 'COMPLETED', 'FAILED'] as const;
export type TaskState = (typeof taskStates)[number];

export interface TaskDocument {
  model_id?: string;
  task_type: TaskType;
  function_name: 'REMOTE';
  state: TaskState;
  worker_node: string[];
  create_time: number;
  last_update_time: number;
  is_async: boolean;
  error?: string;
}
