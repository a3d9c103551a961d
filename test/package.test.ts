/**
 * The published package: what `exports` points at exists and loads, publint finds nothing, and the library's import
 * graph reaches no Node-only module, so bundlers can ship it to browsers (TV apps are web pages).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { dirname, resolve } from 'node:path';
import { publint } from 'publint';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const execFileAsync = promisify(execFile);

describe('the built package', () => {
  it('passes publint --strict', async () => {
    const { messages } = await publint({ pkgDir: root, strict: true });
    expect(messages).toEqual([]);
  });

  it('exports the public API from dist, with type declarations', async () => {
    const manifest = JSON.parse(await readFile(resolve(root, 'package.json'), 'utf8'));
    const entry = manifest.exports['.'];
    await expect(readFile(resolve(root, entry.types), 'utf8')).resolves.toContain('OAuth2DeviceAuthorizationFlow');
    const api = await import(resolve(root, entry.default));
    expect(Object.keys(api)).toEqual(
      expect.arrayContaining([
        'OAuth2DeviceAuthorizationFlow',
        'authorizeDevice',
        'deviceAuthorizationMachine',
        'createDeviceAuthorizationMachine',
        'deviceAuthorizationChart',
        'DeviceFlowError',
      ]),
    );
  });

  it('exports the Node-only transport and inspector relay from "./node", with type declarations', async () => {
    const manifest = JSON.parse(await readFile(resolve(root, 'package.json'), 'utf8'));
    const entry = manifest.exports['./node'];
    const declarations = await readFile(resolve(root, entry.types), 'utf8');
    expect(declarations).toContain('createUndiciFetch');
    expect(declarations).toContain('startInspectorRelay');
    const api = await import(resolve(root, entry.default));
    expect(typeof api.createUndiciFetch).toBe('function');
    expect(typeof api.startInspectorRelay).toBe('function');
  });

  it('imports nothing Node-only from the library entry', async () => {
    const manifest = JSON.parse(await readFile(resolve(root, 'package.json'), 'utf8'));
    const seen = new Set<string>();
    const external = new Set<string>();
    const loadedLater = new Set<string>();
    const queue = [resolve(root, manifest.exports['.'].default)];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const source = await readFile(file, 'utf8');
      const imports = [
        ...[...source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]/g)].map((match) => [match[1]!, external] as const),
        ...[...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((match) => [match[1]!, loadedLater] as const),
      ];
      for (const [specifier, kind] of imports) {
        if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier));
        else kind.add(specifier);
      }
      expect(source, file).not.toMatch(/\brequire\(|\bprocess\.|\bBuffer\b/);
    }
    expect(seen.size).toBeGreaterThan(10);
    expect([...external]).toEqual(['xstate']);
    // By dynamic import only, so that a bundle splits them off: ofetch for the first request, jose when an ID token
    // is validated or a DPoP proof made.
    expect([...loadedLater].sort()).toEqual(['jose', 'ofetch']);
  });

  it('resolves "." to the Node.js entry on Node.js only, with the same types, and lists it as the one file with side effects', async () => {
    const manifest = JSON.parse(await readFile(resolve(root, 'package.json'), 'utf8'));
    const entry = manifest.exports['.'];
    // The first condition that matches wins: types, then the runtimes that are not Node.js, then Node.js.
    expect(Object.keys(entry)).toEqual(['types', 'bun', 'deno', 'node', 'default']);
    expect([entry.bun, entry.deno, entry.default]).toEqual(['./dist/index.js', './dist/index.js', './dist/index.js']);
    expect(entry.node).toBe('./dist/index.node.js');
    expect(manifest.sideEffects).toEqual([entry.node]);
    const [node, main] = await Promise.all([import(resolve(root, entry.node)), import(resolve(root, entry.default))]);
    expect(Object.keys(node).sort()).toEqual(Object.keys(main).sort());
  });

  it('loads undici on the first request through the Node.js entry, not when the package is imported', async () => {
    // Statically: the entry reaches undici through dynamic imports only.
    const manifest = JSON.parse(await readFile(resolve(root, 'package.json'), 'utf8'));
    const eager = new Set<string>();
    const lazy = new Set<string>();
    const seen = new Map<string, boolean>();
    const queue: [string, boolean][] = [[resolve(root, manifest.exports['.'].node), false]];
    while (queue.length > 0) {
      const [file, later] = queue.pop()!;
      // A file reached eagerly is eager, however else it is reached.
      if (seen.has(file) && (later || !seen.get(file))) continue;
      seen.set(file, later);
      const source = await readFile(file, 'utf8');
      const imports = [
        ...[...source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]/g)].map((match) => [match[1]!, later] as const),
        ...[...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((match) => [match[1]!, true] as const),
      ];
      for (const [specifier, isLater] of imports) {
        if (specifier.startsWith('.')) queue.push([resolve(dirname(file), specifier), isLater]);
        else (isLater ? lazy : eager).add(specifier);
      }
    }
    expect([...eager]).toEqual(['xstate']);
    expect(lazy).toContain('undici');

    // And in a process of its own, through the package's name as an application imports it.
    const script = `
      import { createServer } from 'node:http';
      import { createRequire } from 'node:module';
      const undiciLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('/node_modules/undici/'));
      const { createDeviceAuthorizationMachine } = await import('oauth2-device-flow');
      const { createActor } = await import('xstate');
      const atImport = undiciLoaded();
      const server = createServer((request, response) => response.end(JSON.stringify({ device_code: 'd', user_code: 'U', verification_uri: 'https://example.com', expires_in: 60, interval: 5 })));
      await new Promise((done) => server.listen(0, '127.0.0.1', done));
      const base = 'http://127.0.0.1:' + server.address().port;
      const actor = createActor(createDeviceAuthorizationMachine(), { input: { authorizationUrl: base + '/device', tokenUrl: base + '/token', clientIdentifier: 'c' } }).start();
      await new Promise((done) => (actor.on('authorizeWithUserCode', done), actor.send({ type: 'GRANT' })));
      console.log(JSON.stringify({ atImport, afterRequest: undiciLoaded() }));
      actor.stop();
      server.close();
      server.closeAllConnections();
    `;
    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
    expect(JSON.parse(stdout)).toEqual({ atImport: false, afterRequest: true });
  });
});
