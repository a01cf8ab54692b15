/**
 * Read, change, write back, with the version that was read as the condition of the write. A
 * plain read-modify-write of a whole document loses whatever another request wrote in between
 * (two `_deploy` calls on two coordinators, an update racing an undeploy). Here the second
 * writer sees `version_conflict`, reads the newer document and applies its change to that.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { Stored, UpdateOutcome } from '../store/store.ts';

/** Enough for real contention on one document; past it the caller is told to try again. */
const maxAttempts = 16;
/** The longest pause between attempts, so that many writers spread out instead of colliding. */
const maxPauseMilliseconds = 50;

export interface OptimisticUpdate<T> {
  read: () => Promise<Stored<T> | undefined>;
  /**
   * The new document from the current one, or undefined when the current one needs no change
   * (another writer already did it). May throw to refuse the change. Runs once per attempt.
   */
  change: (stored: Stored<T>) => Promise<T | undefined> | T | undefined;
  /** Writes only if the stored version is still `expectedVersion`. */
  write: (document: T, expectedVersion: number) => Promise<UpdateOutcome>;
  notFound: () => ServiceError;
}

export interface OptimisticResult<T> {
  document: T;
  /** The document's version after the update (the one read when nothing was written). */
  version: number;
  /** False when `change` found nothing to do. */
  written: boolean;
}

export async function updateOptimistically<T>(
  update: OptimisticUpdate<T>,
): Promise<OptimisticResult<T>> {
  for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
    if (attempt > 0) {
      // Full jitter: of N writers colliding, about one wins each round without a pause; with
      // one, they spread over the window and most find the document still at the version read.
      await sleep(Math.random() * Math.min(maxPauseMilliseconds, 2 ** attempt));
    }
    const stored = await update.read();
    if (stored === undefined) throw update.notFound();
    const document = await update.change(stored);
    if (document === undefined) {
      return { document: stored.document, version: stored.version, written: false };
    }
    const outcome = await update.write(document, stored.version);
    if (outcome === 'updated') return { document, version: stored.version + 1, written: true };
    if (outcome === 'not_found') throw update.notFound();
  }
  throw new ServiceError(
    ErrorCode.Conflict,
    'The document kept changing while this request tried to update it; try again',
  );
}
