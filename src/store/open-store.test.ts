import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ServiceError } from '../domain/errors.ts';
import { openStore } from './open-store.ts';

// That a postgres:// URL opens the PostgreSQL store is tested in postgres.test.ts, which has
// a server.
describe('openStore', () => {
  let directory = '';
  before(async () => {
    directory = await mkdtemp(join(tmpdir(), 'sluice-open-store-'));
  });
  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('opens SQLite at the path when no database URL is set (unset or empty)', async () => {
    for (const databaseUrl of [undefined, '', '  ']) {
      const sqlitePath = join(directory, `store-${String(databaseUrl?.length)}.db`);
      const store = await openStore({ databaseUrl, sqlitePath });
      try {
        await store.setMeta('k', 'v');
      } finally {
        await store.close();
      }
      const reopened = await openStore({ databaseUrl: undefined, sqlitePath });
      try {
        assert.equal(await reopened.getMeta('k'), 'v', 'the data went to the SQLite file');
      } finally {
        await reopened.close();
      }
    }
  });

  it('refuses a URL that is not PostgreSQL, without echoing it', async () => {
    for (const databaseUrl of [
      'mysql://user:secret@db/sluice',
      'postgres:/user:secret@db',
      'secret',
      'sqlite:///tmp/secret.db',
    ]) {
      await assert.rejects(
        openStore({ databaseUrl, sqlitePath: join(directory, 'unused.db') }),
        (error: unknown) => {
          assert.ok(ServiceError.isInstance(error));
          assert.match(
            error.message,
            /SLUICE_DATABASE_URL must be a postgres:\/\/ or postgresql:\/\//,
          );
          assert.ok(!error.message.includes('secret'), error.message);
          return true;
        },
      );
    }
  });
});
