/**
 * Size and start-up: minified and gzipped browser bundles (esbuild), and cold import times in Node.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { median } from './stats.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** What an application that imports only the statechart may ship of this package's own code, gzipped (issue 15). */
export const MACHINE_TARGET_BYTES = 9 * 1024;
/** The cold import of the main entry that issue 15 asks for, in milliseconds. */
export const IMPORT_TARGET_MS = 25;

export interface BundleResult {
  name: string;
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

/**
 * The bundle of `contents` as an application's bundler makes it: minified, for browsers, with code splitting, so that
 * what the package loads by dynamic import is a chunk of its own, fetched when needed.
 */
async function bundle(name: string, contents: string, external: string[] = [], target?: number): Promise<BundleResult> {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'ts', sourcefile: `${name}.ts` },
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
  const pathOf = (output: string) => `${root}${output}`;
  const entry = Object.keys(outputs).find((output) => outputs[output]!.entryPoint !== undefined)!;
  const atStart = new Set([entry]);
  for (const output of atStart) {
    for (const imported of outputs[output]!.imports) if (imported.kind === 'import-statement' && !imported.external) atStart.add(imported.path);
  }
  let minified = 0;
  let gzippedAtStart = 0;
  let later = 0;
  for (const output of Object.keys(outputs)) {
    if (!output.endsWith('.js')) continue;
    const bytes = bytesOf.get(pathOf(output))!;
    if (atStart.has(output)) {
      minified += bytes.byteLength;
      gzippedAtStart += gzipped(bytes);
    } else {
      later += gzipped(bytes);
    }
  }
  return { name, minified, gzipped: gzippedAtStart, later, ...(target === undefined ? {} : { target }) };
}

/**
 * The bundles compared: this package's statechart alone (with its HTTP actors) and its class, side by side (own code:
 * xstate, ofetch and jose external), both together, with their dependencies, and the peers' device-flow functions.
 */
export async function runBundleSizes(): Promise<BundleResult[]> {
  const entry = './dist/index.js';
  const ownCode = ['xstate', 'ofetch', 'jose'];
  const both = `export { OAuth2DeviceAuthorizationFlow, deviceAuthorizationMachine } from '${entry}';`;
  return Promise.all([
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
}

/** The bundle table of RESULTS.md. */
export function bundleTable(rows: readonly BundleResult[]): string[] {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  const lines = ['| bundle | minified, at start | gzipped, at start | target | loaded later (gzipped) |', '|---|---|---|---|---|'];
  for (const row of rows) {
    const target = row.target === undefined ? '' : `≤ ${kb(row.target)} (${row.gzipped <= row.target ? 'met' : 'not met'})`;
    lines.push(`| ${row.name} | ${kb(row.minified)} | ${kb(row.gzipped)} | ${target} | ${row.later === 0 ? '–' : kb(row.later)} |`);
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
