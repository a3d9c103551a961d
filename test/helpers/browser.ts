/**
 * The Chromium the browser tests drive, found without installing anything beyond `npm ci`: `CHROMIUM_PATH` if set,
 * else the Chromium shipped (compressed) inside the `@sparticuz/chromium` dev dependency, else a system one.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';

/** The system browsers tried last, in this order. */
export const SYSTEM_CHROMIUMS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/**
 * The flags every test browser gets, whichever was chosen. Without the background-networking ones Chromium dials out
 * and this machine's closed network refuses it. Not `@sparticuz/chromium`'s own `args`: they are for AWS Lambda and
 * include `--disable-web-security`, which would let any page read the authorization server and void the CORS test.
 */
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

// Inflated once per version, in this checkout: npm ci wipes it along with the package it came from.
const CACHE = resolve(import.meta.dirname, '../../node_modules/.cache');

/** The Chromium inside `@sparticuz/chromium`: its version, its CommonJS entry point and the folder of its compressed files. */
export interface BundledChromium {
  version: string;
  entry: string;
  binDir: string;
}

/** The browser the tests use and where it came from, for a test to log or assert. */
export interface BrowserChoice {
  source: 'CHROMIUM_PATH' | '@sparticuz/chromium' | 'system';
  /** For logs: `@sparticuz/chromium 143.0.4`, `CHROMIUM_PATH` or the system binary's path. */
  name: string;
  /** The executable; for the bundled Chromium, where it is inflated on first launch. */
  executablePath: string;
  bundled?: BundledChromium;
}

/** The Chromium shipped in `@sparticuz/chromium`, or `undefined` where it is not installed or cannot run (it is a Linux x64 binary). */
export function findBundledChromium(): BundledChromium | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('@sparticuz/chromium');
  } catch {
    return undefined;
  }
  // The entry is build/cjs/index.cjs; the package's exports give no path to its root.
  const root = resolve(dirname(entry), '../..');
  const binDir = join(root, 'bin');
  if (!existsSync(join(binDir, 'chromium.br'))) return undefined;
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  return { version, entry, binDir };
}

/**
 * Chooses the browser, launching and inflating nothing: `CHROMIUM_PATH` (which must exist), else `bundled`, else the
 * first of {@link SYSTEM_CHROMIUMS} present. Throws when there is none.
 */
export function chooseBrowser(env: Record<string, string | undefined> = process.env, bundled = findBundledChromium()): BrowserChoice {
  const override = env.CHROMIUM_PATH;
  if (override) {
    // An explicit choice that points nowhere is a mistake to report, not a reason to run another browser.
    if (!existsSync(override)) throw new Error(`CHROMIUM_PATH is ${override}, and there is no file there`);
    return { source: 'CHROMIUM_PATH', name: 'CHROMIUM_PATH', executablePath: override };
  }
  if (bundled) {
    const executablePath = join(CACHE, `sparticuz-chromium-${bundled.version}`, 'chromium');
    return { source: '@sparticuz/chromium', name: `@sparticuz/chromium ${bundled.version}`, executablePath, bundled };
  }
  const system = SYSTEM_CHROMIUMS.find((path) => existsSync(path));
  if (system) return { source: 'system', name: system, executablePath: system };
  throw new Error(`No Chromium: run npm install (it brings @sparticuz/chromium), set CHROMIUM_PATH, or install one at ${SYSTEM_CHROMIUMS.join(', ')}`);
}

/**
 * Inflates the bundled Chromium into a private folder, then renames that into place whole: left to itself the package
 * inflates into the shared /tmp and reuses whatever it finds there, even a binary another run is still writing.
 */
async function inflate({ entry, binDir }: BundledChromium, executablePath: string): Promise<void> {
  if (existsSync(executablePath)) return;
  const target = dirname(executablePath);
  await mkdir(CACHE, { recursive: true });
  const staging = await mkdtemp(`${target}-`);
  try {
    // The package inflates into os.tmpdir(): a child process with TMPDIR set keeps this process's environment intact.
    const script = `require(${JSON.stringify(entry)}).executablePath(${JSON.stringify(binDir)})`;
    await promisify(execFile)(process.execPath, ['-e', script], { env: { ...process.env, TMPDIR: staging } });
    await rename(staging, target);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // Another run renamed its copy into place first.
    if (!existsSync(executablePath)) throw error;
  }
}

/** Launches the chosen Chromium headless with {@link CHROMIUM_FLAGS}, and says which one it is. */
export async function launchChromium(choice = chooseBrowser()): Promise<{ browser: Browser; choice: BrowserChoice }> {
  if (choice.bundled) await inflate(choice.bundled, choice.executablePath);
  const browser = await chromium.launch({ executablePath: choice.executablePath, args: CHROMIUM_FLAGS });
  return { browser, choice };
}

/** Where the browser tests save their screenshots (ignored by git), to look at after a run. */
export const SCREENSHOTS = resolve(import.meta.dirname, '../../test-results');

/** {@link launchChromium} for a test file: says which browser runs, and makes the screenshot folder. */
export async function launchTestBrowser(): Promise<Browser> {
  const { browser, choice } = await launchChromium();
  console.info(`Chromium ${browser.version()}: ${choice.name} (${choice.executablePath})`);
  await mkdir(SCREENSHOTS, { recursive: true });
  return browser;
}
