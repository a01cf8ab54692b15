/**
 * Shared by both stores' document tables (internal to `store/`): what a write answers when it
 * clashes on a table's unique column other than the id (a model group's name).
 */
import type { UpdateOutcome } from './store.ts';

/** Another row already holds the value of the table's unique column; nothing was written. */
export type Taken = 'taken';

/** Narrows an update of a table that has no unique column besides its id. */
export function withoutUniqueColumn(outcome: UpdateOutcome | Taken): UpdateOutcome {
  if (outcome === 'taken') throw new Error('a table without a unique column reported a clash');
  return outcome;
}
