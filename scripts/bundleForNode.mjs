/**
 * The last step of `npm run build`: what Node.js runs of the package, bundled.
 *
 * Node.js loads an ES module graph one file at a time (resolve, read, compile, link), and that costs more than the
 * code in the files: the main entry's 48 modules took longer to load than all of xstate. So what Node.js runs (the
 * `node` condition of each export, the `bin`) is a bundle of the modules it imports, with the code two bundles share
 * in `dist/chunks/`, so that they share one copy of every module (one `DeviceFlowError` class, one default transport).
 * What the package loads by dynamic import (ID token validation, optional packages) stays a chunk of its own, loaded
 * when needed. The chunks sit two folders below the package, as the modules of dist/cli/ did: the CLI finds
 * package.json at `../../package.json`.
 *
 * The other conditions (Bun, Deno, browsers and bundlers take `default`) keep one file per module, which bundlers
 * tree-shake with `sideEffects: false`, and which share one copy of every module between the entries on those
 * runtimes. JavaScript that neither kind of entry reaches any more is removed; the type declarations all stay.
 *
 * Usage: node scripts/bundleForNode.mjs [dist directory, default dist]
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));
const dist = resolve(root, process.argv[2] ?? 'dist');
const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));

/** A target of `exports` or `bin`, as a path in `dist`. */
const inDist = (target) => resolve(dist, relative('dist', target));

/**
 * The bundles to write (output → the module bundled) and the per-file entries. An export's `node` condition is the
 * bundle of its own module when it is one of src/ (dist/index.node.js, with its declarations beside it), else of its
 * `default` module; the other conditions (Bun, Deno, browsers, bundlers) keep the per-file modules, so that on each
 * runtime all entries share one copy.
 */
const bundles = new Map();
const perFile = new Set();
for (const conditions of Object.values(manifest.exports)) {
  if (typeof conditions === 'string') {
    if (conditions.endsWith('.js')) perFile.add(inDist(conditions));
    continue;
  }
  if (conditions.default !== undefined) perFile.add(inDist(conditions.default));
  if (conditions.node !== undefined) {
    const output = inDist(conditions.node);
    bundles.set(output, existsSync(output.replace(/\.js$/, '.d.ts')) ? output : inDist(conditions.default));
  }
}
// The executables only Node.js runs.
for (const target of Object.values(typeof manifest.bin === 'string' ? { bin: manifest.bin } : (manifest.bin ?? {}))) bundles.set(inDist(target), inDist(target));

const result = await build({
  entryPoints: [...bundles].map(([output, module]) => ({ in: module, out: relative(dist, output).replace(/\.js$/, '') })),
  absWorkingDir: root,
  outdir: dist,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Dependencies stay imports: the application's copy of xstate is the one the flows run on.
  packages: 'external',
  // Functions and classes keep their names (stack traces, `constructor.name`) when two modules used the same one.
  keepNames: true,
  allowOverwrite: true,
  metafile: true,
  logLevel: 'warning',
});

// What is still used: the bundles and their chunks, and the graph of each per-file entry (static and dynamic imports).
const used = new Set(Object.keys(result.metafile.outputs).map((output) => resolve(root, output)));
const crawled = new Set();
const queue = [...perFile];
while (queue.length > 0) {
  const file = queue.pop();
  if (crawled.has(file)) continue;
  crawled.add(file);
  used.add(file);
  const source = await readFile(file, 'utf8');
  for (const match of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s*)['"](\.[^'"]+)['"]/gm)) queue.push(resolve(dirname(file), match[1]));
}
for (const entry of await readdir(dist, { recursive: true, withFileTypes: true })) {
  const file = join(entry.parentPath, entry.name);
  if (entry.isFile() && entry.name.endsWith('.js') && !used.has(file)) await rm(file);
}
