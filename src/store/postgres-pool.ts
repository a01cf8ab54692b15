/**
 * How the PostgreSQL store runs its statements: on any pooled connection, again on another one
 * when a pooled connection turns out broken (the server ended it), or in a transaction on one
 * connection. Every failure leaves as a ServiceError. Internal to the PostgreSQL store.
 */
import type pg from 'pg';
import { ErrorCode, ServiceError } from '../domain/errors.ts';
import type { Queryable } from './postgres-document-table.ts';
import { isBrokenConnection, isStatementError, toServiceError } from './postgres-errors.ts';

export class PostgresPool {
  readonly #pool: pg.Pool;
  /** How often a call may meet a broken pooled connection: at most every one in the pool. */
  readonly #staleRetries: number;
  #closed = false;

  constructor(pool: pg.Pool, poolSize: number) {
    this.#pool = pool;
    this.#staleRetries = poolSize;
  }

  /** One statement on any pooled connection, failures converted into ServiceErrors. */
  async run<R>(work: (db: Queryable) => Promise<R>): Promise<R> {
    this.#checkOpen();
    try {
      return await work(this.#pool);
    } catch (error) {
      throw toServiceError(error);
    }
  }

  /**
   * Like `run`, for work that may run twice with the same outcome (reads, upserts): a pooled
   * connection found broken (the server ended it) is dropped and the work runs again on another.
   */
  async runRepeatable<R>(work: (db: Queryable) => Promise<R>): Promise<R> {
    this.#checkOpen();
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await work(this.#pool);
      } catch (error) {
        if (!isBrokenConnection(error) || attempt >= this.#staleRetries) {
          throw toServiceError(error);
        }
      }
    }
  }

  /**
   * Runs `work` in a READ COMMITTED transaction on one connection; its row locks make it
   * atomic against the other transactions here. The connection goes back to the pool only
   * when it is known to be healthy.
   */
  async transaction<R>(work: (client: pg.PoolClient) => Promise<R>): Promise<R> {
    for (let attempt = 0; ; attempt += 1) {
      const outcome = await this.#attemptTransaction(work);
      if (outcome.done) return outcome.result;
      // BEGIN met a broken pooled connection: nothing ran, so another connection may try.
      if (attempt >= this.#staleRetries) throw toServiceError(outcome.error);
    }
  }

  /** Idempotent, so shutdown paths and test cleanups need not track who closed first. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #attemptTransaction<R>(
    work: (client: pg.PoolClient) => Promise<R>,
  ): Promise<{ done: true; result: R } | { done: false; error: unknown }> {
    this.#checkOpen();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw toServiceError(error);
    }
    // A checked-out connection has no pool listener: its errors would otherwise be uncaught.
    let connectionError: Error | undefined;
    const onError = (error: Error): void => {
      connectionError = error;
    };
    client.on('error', onError);
    let healthy = true;
    try {
      try {
        await client.query('BEGIN');
      } catch (error) {
        if (!isBrokenConnection(error)) throw error;
        healthy = false;
        return { done: false, error };
      }
      const result = await work(client);
      await client.query('COMMIT');
      return { done: true, result };
    } catch (error) {
      healthy =
        connectionError === undefined &&
        (ServiceError.isInstance(error) || isStatementError(error));
      if (healthy) {
        try {
          await client.query('ROLLBACK');
        } catch {
          healthy = false;
        }
      }
      throw toServiceError(error);
    } finally {
      client.removeListener('error', onError);
      // true destroys the connection; the server rolls back whatever it had open.
      client.release(healthy ? undefined : true);
    }
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new ServiceError(ErrorCode.Internal, 'The PostgreSQL store is closed');
    }
  }
}
