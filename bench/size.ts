/**
 * Size and start-up: minified and gzipped browser bundles (esbuild, and rolldown, Vite's bundler), and cold import
 * times in Node.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { rolldown } from 'rolldown';
import { median } from './stats.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** What an application that imports only the statechart may ship of this package's own code, gzipped (issue 15). */
export const MACHINE_TARGET_BYTES = 9 * 1024;
/** The cold import of the main entry that issue 15 asks for, in milliseconds. */
export const IMPORT_TARGET_MS = 25;

/** The bundlers measured: their code splitting differs, and with it what an application loads at start. */
export type Bundler = 'esbuild' | 'rolldown';

export interface BundleResult {
  name: string;
  bundler: Bundler;
  /** Bytes the page loads at start: the entry chunk and the chunks it imports statically. */
  minified: number;
  /** The same, each chunk gzipped (-9) on its own, as it travels. */
  gzipped: number;
  /** Gzipped bytes of the chunks loaded by dynamic import only, when a feature needs them (ID tokens, DPoP…). */
  later: number;
  /** What `gzipped` should not exceed, when the issue sets a target. */
  target?: number;
}

const gzipped = (bytes: Uint8Array) => gzipSync(bytes, { level: 9 }).byteLength;

/** A chunk of a bundle: its bytes, and whether the page loads it at start. */
interface Chunk {
  bytes: Uint8Array;
  atStart: boolean;
}

/** What a page loads at start, and later, of `chunks`. */
function sizes(chunks: readonly Chunk[]): Pick<BundleResult, 'minified' | 'gzipped' | 'later'> {
  let minified = 0;
  let gzippedAtStart = 0;
  let later = 0;
  for (const { bytes, atStart } of chunks) {
    if (atStart) {
      minified += bytes.byteLength;
      gzippedAtStart += gzipped(bytes);
    } else {
      later += gzipped(bytes);
    }
  }
  return { minified, gzipped: gzippedAtStart, later };
}

/** The chunks loaded at start: the entry and, transitively, what it imports statically. */
function atStart(entry: string, staticImports: (chunk: string) => readonly string[]): Set<string> {
  const loaded = new Set([entry]);
  for (const chunk of loaded) for (const imported of staticImports(chunk)) loaded.add(imported);
  return loaded;
}

/**
 * The bundle of `contents` as esbuild makes it for an application: minified, for browsers, with code splitting, so
 * that what the package loads by dynamic import is a chunk of its own, fetched when needed.
 */
async function withEsbuild(contents: string, external: string[]): Promise<Chunk[]> {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'ts', sourcefile: 'entry.ts' },
    absWorkingDir: root,
    bundle: true,
    splitting: true,
    outdir: `${root}.bench-bundle`,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    external,
    logLevel: 'silent',
  });
  const outputs: Metafile['outputs'] = result.metafile.outputs;
  const bytesOf = new Map(result.outputFiles.map((file) => [file.path, file.contents]));
  const entry = Object.keys(outputs).find((output) => outputs[output]!.entryPoint !== undefined)!;
  const loaded = atStart(entry, (output) => outputs[output]!.imports.filter((imported) => imported.kind === 'import-statement' && !imported.external).map((imported) => imported.path));
  return Object.keys(outputs)
    .filter((output) => output.endsWith('.js'))
    .map((output) => ({ bytes: bytesOf.get(`${root}${output}`)!, atStart: loaded.has(output) }));
}

/** The same bundle as rolldown (what Vite builds with) makes it: minified, for browsers, code split. */
async function withRolldown(contents: string, external: string[]): Promise<Chunk[]> {
  // An entry file inside the package, so that `./dist/…` and the peers' packages resolve as from the esbuild stdin.
  const directory = await mkdtemp(join(root, '.bench-bundle-'));
  try {
    const input = join(directory, 'entry.js');
    await writeFile(input, contents.replaceAll("'./dist/", "'../dist/"));
    const bundle = await rolldown({ input, platform: 'browser', external: external.map((name) => new RegExp(`^${name}(/|$)`)), logLevel: 'silent' });
    const { output } = await bundle.generate({ format: 'esm', minify: true });
    await bundle.close();
    const chunks = output.flatMap((item) => (item.type === 'chunk' ? [item] : []));
    const byName = new Map(chunks.map((chunk) => [chunk.fileName, chunk]));
    const loaded = atStart(chunks.find((chunk) => chunk.isEntry)!.fileName, (name) => byName.get(name)!.imports.filter((imported) => byName.has(imported)));
    return chunks.map((chunk) => ({ bytes: Buffer.from(chunk.code), atStart: loaded.has(chunk.fileName) }));
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** The bundle of `contents` by each bundler. */
async function bundle(name: string, contents: string, external: string[] = [], target?: number): Promise<BundleResult[]> {
  const made = { esbuild: withEsbuild, rolldown: withRolldown } satisfies Record<Bundler, unknown>;
  return Promise.all(
    (Object.keys(made) as Bundler[]).map(async (bundler) => ({ name, bundler, ...sizes(await made[bundler](contents, external)), ...(target === undefined ? {} : { target }) })),
  );
}

/**
 * The bundles compared: this package's statechart alone (with its HTTP actors) and its class, side by side (own code:
 * xstate, ofetch and jose external), both together, with their dependencies, and the peers' device-flow functions.
 */
export async function runBundleSizes(): Promise<BundleResult[]> {
  const entry = './dist/index.js';
  const ownCode = ['xstate', 'ofetch', 'jose'];
  const both = `export { OAuth2DeviceAuthorizationFlow, deviceAuthorizationMachine } from '${entry}';`;
  const rows = await Promise.all([
    bundle('machine only (own code)', `export { deviceAuthorizationMachine, createDeviceAuthorizationMachine } from '${entry}';`, ownCode, MACHINE_TARGET_BYTES),
    bundle('class (own code)', `export { OAuth2DeviceAuthorizationFlow } from '${entry}';`, ownCode),
    bundle('oauth2-device-flow (own code)', both, ownCode),
    bundle('oauth2-device-flow + xstate + ofetch + jose', both),
    bundle(
      'oauth4webapi (device-flow functions)',
      "export { deviceAuthorizationRequest, processDeviceAuthorizationResponse, deviceCodeGrantRequest, processDeviceCodeResponse } from 'oauth4webapi';",
    ),
    bundle('openid-client (device-flow functions)', "export { Configuration, initiateDeviceAuthorization, pollDeviceAuthorizationGrant } from 'openid-client';"),
  ]);
  return rows.flat();
}

/** The bundle table of RESULTS.md. */
export function bundleTable(rows: readonly BundleResult[]): string[] {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  const lines = ['| bundle | bundler | minified, at start | gzipped, at start | target | loaded later (gzipped) |', '|---|---|---|---|---|---|'];
  for (const row of rows) {
    const target = row.target === undefined ? '' : `≤ ${kb(row.target)} (${row.gzipped <= row.target ? 'met' : 'not met'})`;
    lines.push(`| ${row.name} | ${row.bundler} | ${kb(row.minified)} | ${kb(row.gzipped)} | ${target} | ${row.later === 0 ? '–' : kb(row.later)} |`);
  }
  return lines;
}

export interface ImportResult {
  name: string;
  /** Median milliseconds to import the module in a fresh Node process. */
  milliseconds: number;
  /** What the median should not exceed, when the issue sets a target. */
  target?: number;
}

/**
 * Cold import time: a fresh `node` per run, timing `await import(specifier)`. The modules take turns, so that a
 * machine busy for a while slows them all alike; xstate alone is the floor under this package's figure.
 */
export function runImportTimes(runs: number): ImportResult[] {
  const modules: [name: string, specifier: string, target?: number][] = [
    // By its name, as an application imports it: Node.js resolves it through `exports` (its `node` condition, if any).
    ['oauth2-device-flow', 'oauth2-device-flow', IMPORT_TARGET_MS],
    ['xstate (alone)', 'xstate'],
    ['openid-client', 'openid-client'],
    ['oauth4webapi', 'oauth4webapi'],
  ];
  const samples = modules.map((): number[] => []);
  for (let run = 0; run < runs; run++) {
    modules.forEach(([, specifier], index) => {
      const script = `const t = performance.now(); await import(${JSON.stringify(specifier)}); console.log(performance.now() - t);`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
      const milliseconds = Number.parseFloat(child.stdout);
      if (Number.isFinite(milliseconds)) samples[index]!.push(milliseconds);
    });
  }
  return modules.map(([name, , target], index) => ({ name, milliseconds: median(samples[index]!), ...(target === undefined ? {} : { target }) }));
}

/** The import table of RESULTS.md. */
export function importTable(rows: readonly ImportResult[]): string[] {
  const lines = ['| module | import (ms, median of fresh processes) | target |', '|---|---|---|'];
  for (const row of rows) {
    const target = row.target === undefined ? '' : `≤ ${row.target} (${row.milliseconds <= row.target ? 'met' : 'not met'})`;
    lines.push(`| ${row.name} | ${Number.isFinite(row.milliseconds) ? row.milliseconds.toFixed(1) : '–'} | ${target} |`);
  }
  return lines;
}
