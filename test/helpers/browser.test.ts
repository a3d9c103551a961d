/**
 * The order in which the browser tests pick their Chromium. Nothing here launches or inflates a browser.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseBrowser, findBundledChromium } from './browser.js';

const root = resolve(import.meta.dirname, '../..');
const installed = JSON.parse(readFileSync(join(root, 'node_modules/@sparticuz/chromium/package.json'), 'utf8')) as { version: string };
// Where Node resolves the package, through a symlinked node_modules if there is one.
const installedBin = realpathSync(join(root, 'node_modules/@sparticuz/chromium/bin'));

describe('chooseBrowser', () => {
  it('finds the Chromium shipped in @sparticuz/chromium', () => {
    expect(findBundledChromium()).toMatchObject({ version: installed.version, binDir: installedBin });
  });

  it('takes CHROMIUM_PATH first, even with the bundled Chromium at hand', () => {
    // Any existing file stands in for a browser: nothing is launched.
    const choice = chooseBrowser({ CHROMIUM_PATH: process.execPath }, findBundledChromium());
    expect(choice).toEqual({ source: 'CHROMIUM_PATH', name: 'CHROMIUM_PATH', executablePath: process.execPath });
  });

  it('takes the bundled Chromium without CHROMIUM_PATH, inflated into node_modules/.cache per version', () => {
    const choice = chooseBrowser({});
    expect(choice.source).toBe('@sparticuz/chromium');
    expect(choice.name).toBe(`@sparticuz/chromium ${installed.version}`);
    expect(choice.executablePath).toBe(join(root, `node_modules/.cache/sparticuz-chromium-${installed.version}/chromium`));
  });

  it('refuses a CHROMIUM_PATH that points nowhere rather than run another browser', () => {
    expect(() => chooseBrowser({ CHROMIUM_PATH: join(root, 'no-such-chromium') }, findBundledChromium())).toThrow(/CHROMIUM_PATH is .*no-such-chromium, and there is no file there/);
  });
});
