/**
 * Where a model runs: the live ML nodes it is deployed to, and the deployment state that follows
 * from them (ml-commons' DEPLOYED / PARTIALLY_DEPLOYED / UNDEPLOYED), worked out from the current
 * membership rather than stored, so a node that dies or rejoins shows at once.
 */
import type { ModelDocument, ModelState } from '../domain/model.ts';
import type { NodeRecord } from '../store/store.ts';

export interface LiveNodes {
  liveMlNodes(): NodeRecord[];
}

const deployedStates: ReadonlySet<ModelState> = new Set(['DEPLOYED', 'PARTIALLY_DEPLOYED']);

export function isDeployed(model: ModelDocument): boolean {
  return deployedStates.has(model.model_state);
}

/** The live ML nodes that serve the model (none when it is not deployed). */
export function servingNodes(model: ModelDocument, liveMl: readonly NodeRecord[]): NodeRecord[] {
  if (!isDeployed(model)) return [];
  if (model.deploy_to_all_nodes !== false) return [...liveMl];
  const planned = new Set(model.planning_worker_nodes ?? []);
  return liveMl.filter((node) => planned.has(node.id));
}

export interface DeploymentView {
  model_state: ModelState;
  planning_worker_node_count: number;
  current_worker_node_count: number;
  planning_worker_nodes: string[];
}

export function deploymentView(
  model: ModelDocument,
  liveMl: readonly NodeRecord[],
): DeploymentView {
  if (!isDeployed(model)) {
    return {
      model_state: model.model_state,
      planning_worker_node_count: 0,
      current_worker_node_count: 0,
      planning_worker_nodes: [],
    };
  }
  const serving = servingNodes(model, liveMl);
  const planned =
    model.deploy_to_all_nodes !== false
      ? liveMl.map((node) => node.id)
      : (model.planning_worker_nodes ?? []);
  const state: ModelState =
    serving.length === 0
      ? 'UNDEPLOYED'
      : serving.length < planned.length
        ? 'PARTIALLY_DEPLOYED'
        : 'DEPLOYED';
  return {
    model_state: state,
    planning_worker_node_count: planned.length,
    current_worker_node_count: serving.length,
    planning_worker_nodes: planned,
  };
}
