/**
 * Read, change, write back, with the version that was read as the condition of the write. A
 * plain read-modify-write of a whole document loses whatever another request wrote in between
 * (two `_deploy` calls on two coordinators, an update racing an undeploy). Here the second
 * writer sees `version_conflict`, reads the newer document and applies its change to that.
 */
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { Stored, UpdateOutcome } from '../store/store.ts';

/** Enough for any real contention on one document; past it the caller is told to try again. */
const maxAttempts = 16;

export interface OptimisticUpdate<T> {
  read: () => Promise<Stored<T> | undefined>;
  /** The new document from the current one; may throw to refuse the change. Runs per attempt. */
  change: (stored: Stored<T>) => Promise<T> | T;
  /** Writes only if the stored version is still `expectedVersion`. */
  write: (document: T, expectedVersion: number) => Promise<UpdateOutcome>;
  notFound: () => ServiceError;
}

/** Returns the document as written and the version it now has. */
export async function updateOptimistically<T>(
  update: OptimisticUpdate<T>,
): Promise<{ document: T; version: number }> {
  for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
    const stored = await update.read();
    if (stored === undefined) throw update.notFound();
    const document = await update.change(stored);
    const outcome = await update.write(document, stored.version);
    if (outcome === 'updated') return { document, version: stored.version + 1 };
    if (outcome === 'not_found') throw update.notFound();
  }
  throw new ServiceError(
    ErrorCode.Conflict,
    'The document kept changing while this request tried to update it; try again',
  );
}
