/**
 * Counts writes to models and connectors made through this node, so caches of what they hold
 * (the admission cache of predict/) drop stale entries at once. Writes by other nodes of a
 * cluster are not seen here; those caches also expire by time.
 */
export class ChangeCounter {
  #value = 0;

  get value(): number {
    return this.#value;
  }

  bump(): void {
    this.#value += 1;
  }
}
