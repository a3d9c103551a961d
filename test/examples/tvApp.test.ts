/**
 * The TV example in real Chromium (headless, driven by playwright-core; test/helpers/browser.ts picks which): the page
 * shows a code, a second tab signs in and approves on the authorization server's own pages, and the TV page shows who
 * signed in. With `?inspect`, the events reach the Stately inspector's window, sanitised. Opened without a usable
 * server in its address, it says what is missing and sends nothing anywhere.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devServer/server.js';
import { readConfig } from '../../examples/tv-app/src/config.js';
import { launchTestBrowser, SCREENSHOTS as screenshots } from '../helpers/browser.js';

const root = resolve(import.meta.dirname, '../..');
const appRoot = join(root, 'examples/tv-app');

let site: PreviewServer;
let outDir: string;
let origin: string;
let server: DevServer;
let browser: Browser;

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'tv-app-'));
  await build({ configFile: join(appRoot, 'vite.config.ts'), logLevel: 'silent', build: { outDir, emptyOutDir: true } });
  site = await preview({ configFile: join(appRoot, 'vite.config.ts'), logLevel: 'silent', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  origin = new URL(site.resolvedUrls!.local[0]!).origin;
  // The authorization server lets the TV page's origin, and only it, read its answers.
  server = await startDevServer({ corsOrigins: [origin] });
  browser = await launchTestBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await site?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

function tvUrl(extra = ''): string {
  const query = new URLSearchParams({ authorizationUrl: server.deviceAuthorizationUrl, tokenUrl: server.tokenUrl, clientId: server.clients.public.clientIdentifier });
  return `${origin}/?${query}${extra}`;
}

/** Signs in on the server's own pages, as the person with the phone: types the code, signs in, consents. */
async function approveOnServerPages(context: BrowserContext, verificationUrl: string, userCode: string, login: string): Promise<void> {
  const phone = await context.newPage();
  // Each click submits a form: wait for the page it leads to, or content() can catch the old one mid-navigation.
  const submit = (button: Locator) => Promise.all([phone.waitForEvent('load'), button.click()]);
  await phone.goto(verificationUrl);
  await phone.fill('input[name="user_code"]', userCode);
  await submit(phone.locator('button[type="submit"]').first());
  for (let step = 0; step < 6 && !(await phone.content()).includes('Sign-in Success'); step++) {
    if (await phone.locator('input[name="login"]').count()) {
      await phone.fill('input[name="login"]', login);
      await phone.fill('input[name="password"]', 'any password works here');
    }
    await submit(phone.locator('button[type="submit"], button[autofocus]').first());
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
    // The QR code carries the complete verification URL: the phone opens the page with the code filled in.
    expect(await tv.getAttribute('[data-testid="qr-code"]', 'aria-label')).toBe(`QR code of ${server.issuer}/device?user_code=${userCode}`);
    await expect.poll(() => tv.textContent('[data-testid="countdown"]')).toMatch(/The code expires in \d+:\d\d/);
    await tv.screenshot({ path: join(screenshots, 'tv-app-code.png') });

    await approveOnServerPages(context, verificationUrl, userCode, 'alice');

    // The TV polls every 5 s (the server sends no interval).
    await tv.waitForSelector('[data-state="signed-in"]', { timeout: 15_000 });
    expect(await tv.textContent('.who')).toBe('as alice');
    await tv.screenshot({ path: join(screenshots, 'tv-app-signed-in.png') });
    expect(pageErrors).toEqual([]);
    await context.close();
  }, 60_000);

  it('reads the server from its own origin only: the server grants CORS to the TV page and to no other page', async () => {
    const body = `client_id=${server.clients.public.clientIdentifier}`;
    const from = (pageOrigin: string) =>
      fetch(server.deviceAuthorizationUrl, { method: 'POST', headers: { origin: pageOrigin, 'content-type': 'application/x-www-form-urlencoded' }, body });
    const allowed = await from(origin);
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(origin);
    const stranger = await from('http://elsewhere.test');
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();

    // In the browser: the same request from another origin's page is refused, from the TV's page it is answered. The
    // other page is on loopback too, so that only CORS, not Chromium's private-network checks, can refuse it.
    const otherSite = createServer((_, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<p>another site</p>'));
    otherSite.listen(0, '127.0.0.1');
    await once(otherSite, 'listening');
    const context = await browser.newContext();
    const request = ({ url, form }: { url: string; form: string }) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: form }).then(
        (response) => `answered ${response.status}`,
        (error: Error) => `refused: ${error.name}`,
      );
    const elsewhere = await context.newPage();
    await elsewhere.goto(`http://127.0.0.1:${(otherSite.address() as AddressInfo).port}/`);
    expect(await elsewhere.evaluate(request, { url: server.deviceAuthorizationUrl, form: body })).toBe('refused: TypeError');
    const tv = await context.newPage();
    await tv.goto(origin);
    expect(await tv.evaluate(request, { url: server.deviceAuthorizationUrl, form: body })).toBe('answered 200');
    await context.close();
    otherSite.close();
  }, 30_000);

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
    // Every secret the server hands the page (the device code, then the tokens), read on the way through: Chromium may
    // already have dropped a response's body by the time a 'response' listener asks for it.
    const secrets: string[] = [];
    for (const endpoint of [server.deviceAuthorizationUrl, server.tokenUrl]) {
      await context.route(endpoint, async (route) => {
        const response = await route.fetch();
        const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
        for (const name of ['device_code', 'access_token', 'refresh_token', 'id_token']) if (typeof body[name] === 'string') secrets.push(body[name] as string);
        await route.fulfill({ response });
      });
    }
    const tv = await context.newPage();
    const inspectorWindow = context.waitForEvent('page');
    await tv.goto(tvUrl('&inspect'));
    const inspector = await inspectorWindow;
    expect(inspector.url()).toBe('https://stately.ai/inspect');
    const { userCode, verificationUrl } = await codeOnScreen(tv);
    await approveOnServerPages(context, verificationUrl, userCode, 'bob');
    await tv.waitForSelector('[data-state="signed-in"]', { timeout: 15_000 });

    // The inspector sends on idle callbacks: wait until the granted snapshot has arrived.
    const receivedSoFar = async () => (await inspector.evaluate(() => (window as unknown as { received: string[] }).received)).join('\n');
    await expect.poll(receivedSoFar, { timeout: 10_000 }).toMatch(/"value":\{"granted"/);
    const received = await receivedSoFar();
    expect(received).toMatch(/"type":"@xstate\.snapshot"/);
    expect(received).toMatch(/awaitingUser/);
    expect(received).toContain('[redacted]');
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    for (const secret of secrets) expect(received.includes(secret), 'a secret reached the inspector').toBe(false);
    await context.close();
  }, 60_000);
});

describe('examples/tv-app without a usable server in its address', () => {
  /** Opens `path` of the TV page at 1920×1080 and waits until it has been quiet for a while, recording every request. */
  async function openTv(path: string) {
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    const requests: string[] = [];
    context.on('request', (request) => requests.push(request.url()));
    const tv = await context.newPage();
    // After the TV page itself: any other page is one it opened, such as the inspector's window.
    const popups: string[] = [];
    context.on('page', (page) => popups.push(page.url()));
    const pageErrors: string[] = [];
    tv.on('pageerror', (error) => pageErrors.push(error.message));
    // A flow would ask for a code as soon as it mounts: 'networkidle' waits 500 ms past the last request for one.
    await tv.goto(`${origin}${path}`, { waitUntil: 'networkidle' });
    await tv.waitForSelector('[data-state="needs-server"]', { timeout: 5_000 });
    expect(await tv.locator('[data-state="waiting"], [data-state="code"], [data-state="failed"]').count()).toBe(0);
    const problems = await tv.$$eval('[data-testid="problems"] li', (items) =>
      items.map((item) => [item.getAttribute('data-parameter'), item.querySelector('.problem')!.textContent!.replace(/\s+/g, ' ').trim()]),
    );
    return { context, tv, requests, popups, pageErrors, problems: Object.fromEntries(problems) as Record<string, string> };
  }

  it('says which parameters are missing, shows an example address and starts no flow', async () => {
    const { context, tv, requests, popups, pageErrors, problems } = await openTv('/');
    expect(problems).toEqual({ authorizationUrl: 'missing', tokenUrl: 'missing', clientId: 'missing' });
    expect(await tv.textContent('h1')).toBe('This TV sign-in page needs an authorization server');
    expect(await tv.textContent('[data-testid="example-url"]')).toBe(
      `${origin}/?authorizationUrl=https://auth.example.com/device\n  &tokenUrl=https://auth.example.com/token\n  &clientId=my-tv-app`,
    );
    expect(await tv.textContent('main')).toContain('node examples/tv-app/serve.mjs');
    // Only the page and its own assets were fetched: no device authorization request, to this server or any other.
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    expect(popups).toEqual([]);
    expect(pageErrors).toEqual([]);
    await tv.screenshot({ path: join(screenshots, 'tv-app-needs-server.png') });
    await context.close();
  });

  it('names the invalid parameters with their values, keeps quiet about the good one, and opens no inspector', async () => {
    // A real server's token endpoint beside endpoints the flow would refuse: even the good one must not be called.
    const query = `authorizationUrl=${encodeURIComponent('http://auth.example.test/device')}&tokenUrl=${encodeURIComponent(server.tokenUrl)}&clientId=%20&inspect`;
    const { context, tv, requests, popups, pageErrors, problems } = await openTv(`/?${query}`);
    expect(problems).toEqual({ authorizationUrl: 'http://auth.example.test/device is plain http to another machine', clientId: 'missing' });
    expect(requests.filter((url) => new URL(url).origin !== origin)).toEqual([]);
    // `&inspect` opens the Stately inspector only with a flow to inspect.
    expect(popups).toEqual([]);
    expect(pageErrors).toEqual([]);
    await tv.screenshot({ path: join(screenshots, 'tv-app-invalid-parameters.png') });
    await context.close();
  });
});

describe('examples/tv-app readConfig', () => {
  it('refuses what the flow would refuse, all at once, and accepts https anywhere and plain http on this machine', () => {
    const read = (query: Record<string, string>) => readConfig(`?${new URLSearchParams(query)}`);
    expect(read({ authorizationUrl: 'device', tokenUrl: 'ftp://as.example/token', clientId: 'tv' })).toEqual({
      ok: false,
      problems: [
        { parameter: 'authorizationUrl', value: 'device', problem: 'is not an absolute URL' },
        { parameter: 'tokenUrl', value: 'ftp://as.example/token', problem: 'is not an http: or https: URL' },
      ],
    });
    expect(read({ authorizationUrl: 'https://user:pw@as.example/device', tokenUrl: 'http://as.example/token', clientId: '' })).toEqual({
      ok: false,
      problems: [
        { parameter: 'authorizationUrl', value: 'https://user:pw@as.example/device', problem: 'must not carry a user name or password' },
        { parameter: 'tokenUrl', value: 'http://as.example/token', problem: 'is plain http to another machine' },
        { parameter: 'clientId', problem: 'missing' },
      ],
    });
    expect(read({ authorizationUrl: 'https://as.example/device', tokenUrl: 'http://127.0.0.1:4000/token', clientId: 'tv' })).toEqual({
      ok: true,
      config: { authorizationUrl: 'https://as.example/device', tokenUrl: 'http://127.0.0.1:4000/token', clientIdentifier: 'tv', inspect: false },
    });
    expect(readConfig('?authorizationUrl=http://localhost/d&tokenUrl=http://[::1]/t&clientId=tv&inspect')).toMatchObject({ ok: true, config: { inspect: true } });
  });
});
