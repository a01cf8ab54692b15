/**
 * Runs the cluster scenario's PostgreSQL (`test/helpers/embedded-postgres.ts`) in a process of its
 * own, forked by the bench with an IPC channel. It creates one fresh database, reports its URL and
 * the postmaster's pid, and stops the server and deletes its data as soon as the channel closes:
 * when the bench stops it, and also when the bench dies in any way (even SIGKILL), so no
 * PostgreSQL outlives a run. It also keeps embedded-postgres' exit hooks (which end the process
 * with status 0 on `beforeExit`) out of the bench process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../test/helpers/embedded-postgres.ts';
import type { KeeperMessage } from './protocol.ts';

let server: EmbeddedPostgres | undefined;
let stopping = false;

async function stop(code: number): Promise<never> {
  stopping = true;
  try {
    await server?.close();
  } finally {
    process.exit(code);
  }
}

// The parent owns this process: when the channel closes, PostgreSQL goes (once it has started:
// a server still starting is stopped as soon as it is up).
process.on('disconnect', () => {
  if (server === undefined) stopping = true;
  else void stop(0);
});

/** The postgres child of this process: embedded-postgres spawns the server binary itself. */
function postmasterPid(): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === process.pid && command === 'postgres') return Number(entry);
    } catch {
      // exited meanwhile
    }
  }
  return 0;
}

const send = (message: KeeperMessage) => process.send?.(message);

try {
  server = await startEmbeddedPostgres();
  const database = await server.createDatabase();
  if (stopping) await stop(0);
  send({ type: 'ready', url: server.connectionString(database), postmasterPid: postmasterPid() });
} catch (error) {
  send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  await stop(1);
}
