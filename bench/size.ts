/**
 * Size and start-up: minified and gzipped browser bundles (esbuild), and cold import times in Node.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { median } from './stats.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface BundleResult {
  name: string;
  minified: number;
  gzipped: number;
}

async function bundle(name: string, contents: string, external: string[] = []): Promise<BundleResult> {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'ts', sourcefile: `${name}.ts` },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    external,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.contents;
  return { name, minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength };
}

/** The bundles compared: this package's class and machine (alone, and with its dependencies) and the peers' device-flow functions. */
export async function runBundleSizes(): Promise<BundleResult[]> {
  const ours = "export { OAuth2DeviceAuthorizationFlow, deviceAuthorizationMachine } from './dist/index.js';";
  return Promise.all([
    bundle('oauth2-device-flow (own code)', ours, ['xstate', 'ofetch']),
    bundle('oauth2-device-flow + xstate + ofetch', ours),
    bundle(
      'oauth4webapi (device-flow functions)',
      "export { deviceAuthorizationRequest, processDeviceAuthorizationResponse, deviceCodeGrantRequest, processDeviceCodeResponse } from 'oauth4webapi';",
    ),
    bundle('openid-client (device-flow functions)', "export { Configuration, initiateDeviceAuthorization, pollDeviceAuthorizationGrant } from 'openid-client';"),
  ]);
}

export interface ImportResult {
  name: string;
  /** Median milliseconds to import the module in a fresh Node process. */
  milliseconds: number;
}

/** Cold import time: a fresh `node` per run, timing `await import(specifier)`. */
export function runImportTimes(runs: number): ImportResult[] {
  const modules: [string, string][] = [
    ['oauth2-device-flow', `${root}dist/index.js`],
    ['openid-client', 'openid-client'],
    ['oauth4webapi', 'oauth4webapi'],
  ];
  return modules.map(([name, specifier]) => {
    const samples: number[] = [];
    for (let run = 0; run < runs; run++) {
      const script = `const t = performance.now(); await import(${JSON.stringify(specifier)}); console.log(performance.now() - t);`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
      samples.push(Number(child.stdout.trim()));
    }
    return { name, milliseconds: median(samples) };
  });
}
