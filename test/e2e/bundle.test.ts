/**
 * `npm start` runs the bundle that scripts/build.ts writes, not the sources: this builds one and
 * streams from it, so a source that only works under tsx (or a bundling mistake) fails here.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildServer } from '../../scripts/build.ts';
import { type ProcessNode, startProcessNode } from '../helpers/process-node.ts';
import { contentOf, postStream } from '../helpers/sse-client.ts';

describe('the built bundle', () => {
  // Inside the checkout: the bundle finds its packages in node_modules from there.
  const outdir = join('.tmp', `bundle-${process.pid}`);
  let dataDir: string;
  let node: ProcessNode;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sluice-bundle-'));
    const entry = await buildServer(outdir);
    node = await startProcessNode(
      ['--http-port', '0', '--data-dir', dataDir],
      { SLUICE_DEMO_MODEL: 'true' },
      entry,
    );
  });
  after(async () => {
    await node?.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(outdir, { recursive: true, force: true });
  });

  it('starts and streams the demo model to the end', async () => {
    const result = await postStream(
      node.baseUrl,
      '/_plugins/_ml/models/sluice-demo/_predict/stream',
      {
        parameters: { messages: [{ role: 'user', content: 'Hello' }] },
      },
    );
    assert.equal(result.status, 200);
    const { text, last } = contentOf(result.events);
    assert.ok(text.length > 0, 'streams some content');
    const final = last.inference_results[0].output[0].dataAsMap;
    assert.equal(final.is_last, true);
    assert.equal(final.finish_reason, 'stop');
    assert.ok(final.usage.total_tokens > 0);
  });
});
