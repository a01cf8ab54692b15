import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import type { Stored, UpdateOutcome } from '../store/store.ts';
import { updateOptimistically } from './optimistic-update.ts';

interface Counter {
  hits: number;
  tags: string[];
}

/** One document in memory that writes with a version condition, as the stores do. */
function memoryDocument(initial: Counter) {
  let stored: Stored<Counter> | undefined = { id: 'd', version: 1, document: initial };
  return {
    get current() {
      return stored;
    },
    read: async () => (stored === undefined ? undefined : structuredClone(stored)),
    write: async (document: Counter, expectedVersion: number): Promise<UpdateOutcome> => {
      if (stored === undefined) return 'not_found';
      if (stored.version !== expectedVersion) return 'version_conflict';
      stored = { id: 'd', version: stored.version + 1, document };
      return 'updated';
    },
    /** Another writer, between this request's read and its write. */
    writeBehindItsBack(change: (document: Counter) => void) {
      if (stored === undefined) return;
      const document = structuredClone(stored.document);
      change(document);
      stored = { id: 'd', version: stored.version + 1, document };
    },
    delete() {
      stored = undefined;
    },
  };
}

const notFound = () => new ServiceError('not_found', 'gone');

describe('updateOptimistically', () => {
  it('applies the change again to what a concurrent writer wrote, losing neither', async () => {
    const document = memoryDocument({ hits: 0, tags: [] });
    let attempts = 0;
    const result = await updateOptimistically({
      read: document.read,
      change: (stored) => {
        attempts += 1;
        if (attempts === 1) document.writeBehindItsBack((other) => other.tags.push('other'));
        return { ...stored.document, hits: stored.document.hits + 1 };
      },
      write: document.write,
      notFound,
    });
    assert.equal(attempts, 2);
    assert.deepEqual(document.current?.document, { hits: 1, tags: ['other'] });
    assert.equal(result.version, 3);
    assert.deepEqual(result.document, document.current?.document);
  });

  it('reports a document deleted in between as not found', async () => {
    const document = memoryDocument({ hits: 0, tags: [] });
    await assert.rejects(
      updateOptimistically({
        read: document.read,
        change: (stored) => {
          document.delete();
          return stored.document;
        },
        write: document.write,
        notFound,
      }),
      (error: unknown) => ServiceError.isInstance(error) && error.code === 'not_found',
    );
  });

  it('writes nothing when the change refuses', async () => {
    const document = memoryDocument({ hits: 0, tags: [] });
    await assert.rejects(
      updateOptimistically({
        read: document.read,
        change: () => {
          throw new ServiceError('bad_request', 'no');
        },
        write: document.write,
        notFound,
      }),
      /no/,
    );
    assert.equal(document.current?.version, 1);
  });

  it('gives up with a conflict when the document never holds still', async () => {
    const document = memoryDocument({ hits: 0, tags: [] });
    let attempts = 0;
    await assert.rejects(
      updateOptimistically({
        read: document.read,
        change: (stored) => {
          attempts += 1;
          document.writeBehindItsBack((other) => other.tags.push(String(attempts)));
          return stored.document;
        },
        write: document.write,
        notFound,
      }),
      (error: unknown) =>
        ServiceError.isInstance(error) && error.code === 'conflict' && error.status === 409,
    );
    assert.equal(attempts, 16);
  });
});
