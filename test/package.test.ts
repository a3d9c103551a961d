/**
 * The published package: what `exports` points at exists and loads, publint finds nothing, and the library's import
 * graph reaches no Node-only module, so bundlers can ship it to browsers (TV apps are web pages).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { publint } from 'publint';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

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
});
