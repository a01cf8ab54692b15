/**
 * A Flight server in its own process, for tests that kill it: it prints its port on stdout and
 * streams one text batch every 20 ms until cancelled.
 */
import { startFlightServer } from '../server.ts';
import { sleep } from './harness.ts';

const server = await startFlightServer({
  host: '127.0.0.1',
  port: 0,
  clusterSecret: process.argv[2] ?? '',
  handlers: {
    async *doGet(_ticket, context) {
      for (let index = 0; !context.signal.aborted; index++) {
        yield [{ type: 'text-delta', text: `token ${index}` }];
        await sleep(20);
      }
    },
  },
});
process.stdout.write(`${server.port}\n`);
