/**
 * `npm run build [-- <outdir>]`: bundles the server (src/main.ts and everything it imports from
 * src/) into <outdir>/main.js (default dist/); packages stay in node_modules, so <outdir> must be
 * inside this checkout. `npm start`, `npm run cluster` and the benchmark run this output.
 *
 * Why not `node --import tsx src/main.ts` at run time: tsx keeps function names with a helper
 * call per function and transpiles on load; the bundle costs about 10 % less CPU per stream
 * (docs/benchmarks.md). Tests run the sources through tsx, and one test starts the bundle. The
 * build takes well under a second, so `npm start` simply runs it first.
 */
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds into `outdir` (absolute, or relative to the checkout) and returns the entry file. */
export async function buildServer(outdir = 'dist'): Promise<string> {
  const target = resolve(root, outdir);
  rmSync(target, { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    entryPoints: ['src/main.ts'],
    outdir: target,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // Stack traces point at src/ when node runs with --enable-source-maps (npm start does).
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  return join(target, 'main.js');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await buildServer(process.argv[2]);
}
