/**
 * Interop: pyarrow's FlightClient (Arrow C++ Flight) reads the Node server. Uses the venv the CI
 * script creates (`python3 -m venv .venv-pyarrow && .venv-pyarrow/bin/pip install
 * pyarrow==25.0.1`) or a system python3 with pyarrow; skips, saying why, when neither has it.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { badRequest } from '../domain/errors.ts';
import { everyKind, secret, sleep, startHarness } from './__fixtures__/harness.ts';
import { partsToRecordBatch } from './record-batch.ts';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const script = fileURLToPath(new URL('./__fixtures__/pyarrow_client.py', import.meta.url));

function findPython(): { python: string } | { reason: string } {
  const reasons: string[] = [];
  for (const candidate of [`${repositoryRoot}.venv-pyarrow/bin/python`, 'python3']) {
    if (candidate.includes('/') && !existsSync(candidate)) {
      reasons.push(`${candidate} does not exist`);
      continue;
    }
    const probe = spawnSync(candidate, ['-c', 'import pyarrow.flight'], { encoding: 'utf8' });
    if (probe.status === 0) return { python: candidate };
    const why = probe.error?.message ?? probe.stderr.trim().split('\n').at(-1) ?? 'failed';
    reasons.push(`${candidate}: ${why}`);
  }
  return { reason: reasons.join('; ') };
}

/** The rows pyarrow's `to_pylist()` gives for a batch: one object per part, null when absent. */
const rowsOf = (parts: (typeof everyKind)[number]) =>
  partsToRecordBatch(parts)
    .toArray()
    .map((row) => row.toJSON());

const pauseMs = 300;

test('pyarrow FlightClient reads the stream, errors and actions', async (t) => {
  const found = findPython();
  if ('reason' in found) {
    t.skip(`pyarrow.flight not available: ${found.reason}`);
    return;
  }
  const harness = await startHarness(
    {
      async *doGet(ticket) {
        if (new TextDecoder().decode(ticket) === 'fail') throw badRequest('Model m1 not found');
        const [first, ...rest] = everyKind;
        if (first !== undefined) yield first;
        // The first batch must reach pyarrow before the next exists (written, not buffered).
        await sleep(pauseMs);
        yield* rest;
      },
      async doAction(_type, body) {
        return Buffer.concat([Buffer.from('echo:'), body]);
      },
    },
    { actions: [{ type: 'echo', description: 'Echoes — ✓' }] },
  );
  try {
    const { stdout } = await promisify(execFile)(
      found.python,
      [script, String(harness.server.port), secret],
      { timeout: 30_000 },
    );
    const report = JSON.parse(stdout);

    assert.deepEqual(
      report.schema.map(([name, type]: [string, string]) => `${name}:${type}`),
      [
        'type:string',
        'text:string',
        'index:int32',
        'id:string',
        'name:string',
        'finish_reason:string',
        'finish_raw:string',
        'input_tokens:int32',
        'output_tokens:int32',
        'total_tokens:int32',
        'status:int32',
        'message:string',
      ],
    );
    assert.equal(report.schema_metadata['sluice.schema'], 'sluice.stream-part/1');
    assert.deepEqual(
      report.batches.map((batch: { rows: unknown }) => batch.rows),
      everyKind.map(rowsOf),
    );
    const [first, second] = report.batches as { at_ms: number }[];
    assert.ok(
      first !== undefined && second !== undefined && second.at_ms - first.at_ms > pauseMs * 0.7,
      `batch arrival times ${report.batches.map((batch: { at_ms: number }) => batch.at_ms)}`,
    );

    // INVALID_ARGUMENT (a bad_request) is what pyarrow raises as ArrowInvalid.
    assert.equal(report.handler_error.class, 'ArrowInvalid');
    assert.match(report.handler_error.message, /Model m1 not found/);
    assert.equal(report.wrong_secret.class, 'FlightUnauthenticatedError');
    assert.equal(report.no_secret.class, 'FlightUnauthenticatedError');
    assert.deepEqual(report.actions, [['echo', 'Echoes — ✓']]);
    assert.deepEqual(report.action_result, ['echo:ping']);
  } finally {
    await harness.close();
  }
});
