/**
 * The TV example in real Chromium (Debian's, headless, driven by playwright-core): the page shows a code, a second tab
 * signs in and approves on the authorization server's own pages, and the TV page shows who signed in. With `?inspect`,
 * the events reach the Stately inspector's window, sanitised.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedServer, startEmbeddedServer } from '../../src/cli/embeddedServer.js';

const root = resolve(import.meta.dirname, '../..');
const appRoot = join(root, 'examples/tv-app');
const screenshots = join(root, 'test-results');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let site: PreviewServer;
let origin: string;
let server: EmbeddedServer;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does), or set CHROMIUM_PATH`);
  const outDir = await mkdtemp(join(tmpdir(), 'tv-app-'));
  await build({ configFile: join(appRoot, 'vite.config.ts'), logLevel: 'silent', build: { outDir, emptyOutDir: true } });
  site = await preview({ configFile: join(appRoot, 'vite.config.ts'), logLevel: 'silent', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  origin = new URL(site.resolvedUrls!.local[0]!).origin;
  // The authorization server lets the TV page's origin, and only it, read its answers.
  server = await startEmbeddedServer({ corsOrigins: [origin] });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  await mkdir(screenshots, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await new Promise<void>((done) => (site ? site.httpServer.close(() => done()) : done()));
});

function tvUrl(extra = ''): string {
  const query = new URLSearchParams({ authorizationUrl: server.deviceAuthorizationUrl, tokenUrl: server.tokenUrl, clientId: server.clients.public.clientIdentifier });
  return `${origin}/?${query}${extra}`;
}

/** Signs in on the server's own pages, as the person with the phone: types the code, signs in, consents. */
async function approveOnServerPages(context: BrowserContext, verificationUrl: string, userCode: string, login: string): Promise<void> {
  const phone = await context.newPage();
  await phone.goto(verificationUrl);
  await phone.fill('input[name="user_code"]', userCode);
  await phone.click('button[type="submit"]');
  for (let step = 0; step < 6 && !(await phone.content()).includes('Sign-in Success'); step++) {
    if (await phone.locator('input[name="login"]').count()) {
      await phone.fill('input[name="login"]', login);
      await phone.fill('input[name="password"]', 'any password works here');
    }
    await phone.locator('button[type="submit"], button[autofocus]').first().click();
    await phone.waitForLoadState();
  }
  expect(await phone.content()).toContain('Sign-in Success');
  await phone.close();
}

async function codeOnScreen(tv: Page): Promise<{ userCode: string; verificationUrl: string }> {
  await tv.waitForSelector('[data-testid="user-code"]', { timeout: 10_000 });
  return { userCode: (await tv.textContent('[data-testid="user-code"]'))!.trim(), verificationUrl: (await tv.textContent('[data-testid="verification-url"]'))!.trim() };
}

describe('examples/tv-app in Chromium', () => {
  it('shows the code, a QR code and a countdown, then who signed in on another device', async () => {
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    const tv = await context.newPage();
    const pageErrors: string[] = [];
    tv.on('pageerror', (error) => pageErrors.push(error.message));
    await tv.goto(tvUrl());
    const { userCode, verificationUrl } = await codeOnScreen(tv);
    expect(userCode).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    expect(verificationUrl).toBe(`${server.issuer}/device`);
    expect(await tv.locator('[data-testid="qr-code"] svg').count()).toBe(1);
    await expect.poll(() => tv.textContent('[data-testid="countdown"]')).toMatch(/The code expires in \d+:\d\d/);
    await tv.screenshot({ path: join(screenshots, 'tv-app-code.png') });

    await approveOnServerPages(context, verificationUrl, userCode, 'alice');

    // The TV polls every 5 s (the server sends no interval).
    await tv.waitForSelector('[data-state="signed-in"]', { timeout: 15_000 });
    expect(await tv.textContent('.who')).toBe('as alice');
    await tv.screenshot({ path: join(screenshots, 'tv-app-signed-in.png') });
    expect(existsSync(join(screenshots, 'tv-app-signed-in.png'))).toBe(true);
    expect(pageErrors).toEqual([]);
    await context.close();
  }, 60_000);

  it('with ?inspect, sends the Stately inspector window its events, with no token or device code in them', async () => {
    const context = await browser.newContext();
    // The inspector's page, served locally: it says it is connected, as stately.ai/inspect does, and keeps what it gets.
    await context.route('https://stately.ai/**', (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<script>
          window.received = [];
          addEventListener('message', (event) => window.received.push(JSON.stringify(event.data)));
          opener.postMessage({ type: '@statelyai.connected' }, '*');
        </script>`,
      }),
    );
    const secrets: string[] = [];
    context.on('response', async (response) => {
      if (response.request().method() !== 'POST') return;
      const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
      for (const name of ['device_code', 'access_token', 'refresh_token', 'id_token']) if (typeof body[name] === 'string') secrets.push(body[name] as string);
    });
    const tv = await context.newPage();
    const inspectorWindow = context.waitForEvent('page');
    await tv.goto(tvUrl('&inspect'));
    const inspector = await inspectorWindow;
    expect(inspector.url()).toBe('https://stately.ai/inspect');
    const { userCode, verificationUrl } = await codeOnScreen(tv);
    await approveOnServerPages(context, verificationUrl, userCode, 'bob');
    await tv.waitForSelector('[data-state="signed-in"]', { timeout: 15_000 });

    const received = (await inspector.evaluate(() => (window as unknown as { received: string[] }).received)).join('\n');
    expect(received).toMatch(/"type":"@xstate\.snapshot"/);
    expect(received).toMatch(/awaitingUser/);
    expect(received).toContain('[redacted]');
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    for (const secret of secrets) expect(received.includes(secret), 'a secret reached the inspector').toBe(false);
    await context.close();
  }, 60_000);
});
