/**
 * Picks the ML node for a prediction: the least busy live node serving the model, ties taken in
 * turn (round-robin), the rest kept in order as fallbacks for a node that fails before its first
 * event. "Busy" is the node's own reported active streams plus the streams this coordinator has
 * sent it since, so a burst is spread even between two heartbeats.
 */
import type { NodeRecord } from '../store/store.ts';

export class NodeRouter {
  readonly #inFlight = new Map<string, number>();
  #turn = 0;

  /** Candidates in the order to try them. */
  order(nodes: readonly NodeRecord[]): NodeRecord[] {
    if (nodes.length <= 1) return [...nodes];
    const load = (node: NodeRecord) => node.activeStreams + (this.#inFlight.get(node.id) ?? 0);
    const sorted = [...nodes].sort((left, right) => load(left) - load(right));
    const lowest = load(sorted[0] as NodeRecord);
    const tied = sorted.filter((node) => load(node) === lowest);
    const first = tied[this.#turn % tied.length] as NodeRecord;
    this.#turn = (this.#turn + 1) % 1_000_000;
    return [first, ...sorted.filter((node) => node !== first)];
  }

  /** Marks a stream as sent to a node; call the returned function when it ends. */
  track(nodeId: string): () => void {
    this.#inFlight.set(nodeId, (this.#inFlight.get(nodeId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const remaining = (this.#inFlight.get(nodeId) ?? 1) - 1;
      if (remaining <= 0) this.#inFlight.delete(nodeId);
      else this.#inFlight.set(nodeId, remaining);
    };
  }
}
