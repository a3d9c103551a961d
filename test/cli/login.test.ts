/**
 * `device-flow login` against servers started by the test: the quirk replicas (in real time, with a 1 s interval),
 * the embedded oidc-provider (found by discovery), and addresses where nothing listens. Each outcome has its exit code.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devServer/server.js';
import { actAsUser } from '../../src/devServer/simulatedUser.js';
import { documentedJson, fitsDocumentedJson, runCli, startCli } from '../helpers/cli.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';
import { type QuirkServer, type QuirkServerOptions, startQuirkServer } from '../helpers/quirkServers.js';
import type { Provider } from '../helpers/quirkServers.js';

let embedded: DevServer;
const quirkServers: QuirkServer[] = [];
beforeAll(async () => {
  embedded = await startDevServer();
});
afterAll(async () => {
  await Promise.all([embedded.close(), ...quirkServers.map((server) => server.close())]);
  // On the real clock too, no replica ever saw a poll sooner than its interval.
  expect(quirkServers.map((server) => server.earlyPolls)).toEqual(quirkServers.map(() => 0));
});

async function replica(provider: Provider, options: Omit<QuirkServerOptions, 'now'> = {}): Promise<QuirkServer> {
  const server = await startQuirkServer(provider, { now: Date.now, interval: 1, ...options });
  quirkServers.push(server);
  return server;
}

const endpoints = (server: QuirkServer) => ['login', '--authorization-url', server.deviceAuthorizationUrl, '--token-url', server.tokenUrl, '--no-qr'];

describe.concurrent('device-flow login: outcomes and exit codes', () => {
  it('exits 0 with the tokens as JSON when the user approves (GitHub replica)', async () => {
    const server = await replica('github');
    server.decide('approve');
    const { code, stdout, stderr } = await runCli([...endpoints(server), '--client-id', 'gh-client', '--json', '--scope', 'repo gist']);
    expect(code).toBe(0);
    expect(documentedJson(stdout)).toEqual({
      status: 'granted',
      accessToken: 'gho_16C7e42F292c6912E7710c838347Ae178B4a',
      tokenType: 'Bearer',
      refreshToken: null,
      idToken: null,
      idTokenClaims: null,
      expiresAt: null,
      scope: ['repo', 'gist'],
      extraTokens: {},
    });
    expect(stderr).toMatch(/enter the code WDJB-MJHT/);
    expect(server.polls[0]!.request.params.get('client_id')).toBe('gh-client');
  });

  it('prints plain progress lines when stderr is not a terminal', async () => {
    const server = await replica('auth0');
    const login = startCli([...endpoints(server), '--client-id', 'a0']);
    // Approved once two progress lines are out, however slowly a loaded machine starts the CLI.
    await login.stderrMatching(/(^Waiting for approval .*\n[\s\S]*){2}/m);
    server.decide('approve');
    const { code, stderr } = await login.done;
    expect(code).toBe(0);
    expect(stderr).not.toContain('\r');
    expect(stderr.match(/^Waiting for approval · code expires in \d+:\d\d · next check in 0:0[0-2]$/gm)!.length).toBeGreaterThanOrEqual(2);
  });

  it('exits 4 when the user declines (Microsoft replica)', async () => {
    const server = await replica('microsoft');
    server.decide('deny');
    const { code, stdout, stderr } = await runCli([...endpoints(server), '--client-id', 'ms', '--json']);
    expect(code).toBe(4);
    expect(documentedJson(stdout)).toMatchObject({ status: 'denied', error: { code: 'ServerError', error: 'authorization_declined' } });
    expect(stderr).toMatch(/^device-flow: the sign-in was declined/m);
    expect(stderr).toMatch(/To sign in, use a web browser/);
  });

  it('exits 5 when the code expires first', async () => {
    const server = await replica('google', { expiresIn: 2 });
    const { code, stdout } = await runCli([...endpoints(server), '--client-id', 'g', '--client-secret', server.clientSecret, '--json']);
    expect(code).toBe(5);
    expect(documentedJson(stdout)).toMatchObject({ status: 'expired', error: { code: 'ExpiredError' } });
  });

  it('exits 3 when the server refuses the client (Google without its secret)', async () => {
    const server = await replica('google');
    const { code, stderr } = await runCli([...endpoints(server), '--client-id', 'g']);
    expect(code).toBe(3);
    expect(stderr).toMatch(/^device-flow: the client or server configuration was refused: .*invalid_client/m);
  });

  it('exits 6 when nothing answers', async () => {
    const gone = await LoopbackServer.start();
    const url = gone.url('/device');
    await gone.close();
    const { code, stderr, stdout } = await runCli(['login', '--authorization-url', url, '--token-url', url, '--client-id', 'x', '--json']);
    expect(code).toBe(6);
    expect(documentedJson(stdout)).toMatchObject({ status: 'network', error: { code: 'NetworkError' } });
    expect(stderr).toMatch(/could not reach the authorization server: .*ECONNREFUSED/);
  });

  it('exits 1 when the device authorization endpoint answers an HTML error page, saying what arrived', async () => {
    const broken = await LoopbackServer.start();
    broken.handle('/device', { status: 500, headers: { 'content-type': 'text/html' }, body: '<h1>Internal Server Error</h1>' });
    const { code, stderr } = await runCli(['login', '--authorization-url', broken.url('/device'), '--token-url', broken.url('/token'), '--client-id', 'x']);
    await broken.close();
    expect(code).toBe(1);
    expect(stderr).toMatch(/^device-flow: the authorization server failed: The server answered HTTP 500 \(text\/html, 30 bytes\) with no OAuth error$/m);
  });

  it("lets no server text act on the terminal: controls and bidi overrides in a message or an error are filtered, and escaped in JSON", async () => {
    const hostile = '\u009b2J\u001b]0;pwned\u0007 Visit \u202eevil\u202c and\nEnter your password:';
    const server = await LoopbackServer.start();
    server.handle('/device', { json: { device_code: 'dc', user_code: 'ABCD-EFGH', verification_uri: 'https://as.example/device', expires_in: 600, interval: 1, message: hostile } });
    server.handle('/token', { status: 400, json: { error: 'access_denied', error_description: hostile } });
    const { code, stdout, stderr } = await runCli(['login', '--authorization-url', server.url('/device'), '--token-url', server.url('/token'), '--client-id', 'x', '--json', '--no-qr']);
    await server.close();
    expect(code).toBe(4);
    expect(stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(stderr).toContain('Visit  evil  and Enter your password:');
    expect(stdout).not.toMatch(/[\u007f-\u009f\u202a-\u202e]/);
    expect(documentedJson(stdout)).toMatchObject({ status: 'denied', error: { errorDescription: hostile } });
  });

  it('exits 1 with one line, no stack trace, when a response is nested thousands of levels deep', async () => {
    const hostile = await LoopbackServer.start();
    hostile.handle('/device', { status: 200, headers: { 'content-type': 'application/json' }, body: `{"device_code":"d","x":${'['.repeat(3_000)}${']'.repeat(3_000)}}` });
    const { code, stderr } = await runCli(['login', '--authorization-url', hostile.url('/device'), '--token-url', hostile.url('/token'), '--client-id', 'x']);
    await hostile.close();
    expect(code).toBe(1);
    expect(stderr.trimEnd().split('\n')).toEqual(['device-flow: the authorization server failed: The server sent JSON that nests objects and arrays deeper than 32 levels (HTTP 200)']);
  });

  it('exits 124 when --timeout runs out', async () => {
    const server = await replica('auth0');
    const { code, stderr, ms, stdout } = await runCli([...endpoints(server), '--client-id', 'a0', '--timeout', '1.5', '--json']);
    expect(code).toBe(124);
    expect(documentedJson(stdout)).toEqual({ status: 'timeout', error: { message: 'Timed out' } });
    expect(stderr).toMatch(/--timeout ran out/);
    expect(ms).toBeLessThan(5_000);
  });

  it('opens the verification URL with --open, and says why it does not in an SSH session', async () => {
    const server = await replica('microsoft');
    const bin = await mkdtemp(join(tmpdir(), 'device-flow-browser-'));
    const opened = join(bin, 'opened');
    // A browser that leaves a mark: what xdg-open runs for a URL when no desktop is detected ($BROWSER), and what it
    // would be, were it the system's.
    const browser = join(bin, 'browser');
    await writeFile(browser, `#!/bin/sh\necho "$@" >> ${opened}\n`, { mode: 0o755 });
    for (const opener of ['xdg-open', 'sensible-browser', 'x-www-browser']) await writeFile(join(bin, opener), `#!/bin/sh\n${browser} "$@"\n`, { mode: 0o755 });
    const env = { BROWSER: browser, PATH: `${bin}:${process.env.PATH}`, XDG_CURRENT_DESKTOP: '', DISPLAY: '', SSH_CONNECTION: '', SSH_CLIENT: '', SSH_TTY: '' };
    const local = await runCli([...endpoints(server), '--client-id', 'ms', '--open', '--timeout', '1.5'], { env });
    expect(local.code).toBe(124);
    expect((await readFile(opened, 'utf8')).trim()).toBe('https://microsoft.com/devicelogin');
    await rm(opened);
    const remote = await runCli([...endpoints(server), '--client-id', 'ms', '--open', '--timeout', '1.5'], { env: { ...env, SSH_CONNECTION: '10.0.0.2 51234 10.0.0.1 22' } });
    expect(remote.stderr).toMatch(/^Not opening a browser: this is an SSH session/m);
    await expect(readFile(opened, 'utf8')).rejects.toThrow(/ENOENT/);
    await rm(bin, { recursive: true });
  });

  it('exits 130 on Ctrl-C, aborting the request in flight', async () => {
    const hanging = await LoopbackServer.start();
    let closed!: () => void;
    const requestClosed = new Promise<void>((resolve) => (closed = resolve));
    hanging.handle('/device', { json: { device_code: 'd', user_code: 'ABCD-EFGH', verification_uri: 'https://example.com', expires_in: 600, interval: 1 } });
    hanging.handle('/token', (_request, response) => {
      response.on('close', closed);
      return 'handled';
    });
    const cli = startCli(['login', '--authorization-url', hanging.url('/device'), '--token-url', hanging.url('/token'), '--client-id', 'x', '--no-qr']);
    await hanging.nextRequest('/token');
    cli.child.kill('SIGINT');
    const { code, stderr } = await cli.done;
    expect(code).toBe(130);
    expect(stderr).toMatch(/^device-flow: cancelled\.$/m);
    await requestClosed;
    await hanging.close();
  });

  it('exits 7 when the token file cannot be written after the grant, still printing the tokens with --json', async () => {
    const server = await replica('github');
    const directory = await mkdtemp(join(tmpdir(), 'device-flow-'));
    const cli = startCli([...endpoints(server), '--client-id', 'gh', '--json', '--output', join(directory, 'tokens.json')]);
    await cli.stderrMatching(/enter the code/);
    // The directory was there when the login began, and is gone when the tokens arrive.
    await rm(directory, { recursive: true });
    server.decide('approve');
    const { code, stdout, stderr } = await cli.done;
    expect(code).toBe(7);
    expect(stderr).toMatch(/the sign-in succeeded, but the tokens could not be written to .*tokens\.json: ENOENT/);
    const result = documentedJson(stdout);
    expect(result).toMatchObject({ status: 'granted', outputError: expect.stringMatching(/ENOENT/) });
    expect(result.accessToken).toMatch(/^gho_/);
  });

  it('refuses plain-http endpoints beyond loopback with exit 2, and uses them with --allow-insecure-http', async () => {
    const server = await replica('github');
    server.decide('approve');
    // The IPv4-mapped IPv6 form of 127.0.0.1: it reaches the replica, but is no loopback name the flow trusts.
    const mapped = (url: string) => url.replace('127.0.0.1', '[::ffff:127.0.0.1]');
    const args = ['login', '--authorization-url', mapped(server.deviceAuthorizationUrl), '--token-url', mapped(server.tokenUrl), '--client-id', 'gh', '--no-qr', '--json'];
    const refused = await runCli(args);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toMatch(/^device-flow: --authorization-url http:\/\/\[::ffff:7f00:1\]:\d+ is not https: .*; use https, or add --allow-insecure-http$/);
    const allowed = await runCli([...args, '--allow-insecure-http']);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.stdout).status).toBe('granted');
  });

  it('finds the endpoints with --issuer (discovery) and authenticates a confidential client', async () => {
    const client = embedded.clients.secretBasic;
    const cli = startCli(
      ['login', '--issuer', embedded.issuer, '--client-id', client.clientIdentifier, '--client-auth', 'basic', '--scope', 'openid', '--json', '--no-qr'],
      { env: { DEVICE_FLOW_CLIENT_SECRET: client.clientSecret } },
    );
    const [, url] = await cli.stderrMatching(/or open (\S+), which carries the code/);
    await actAsUser(url!, '', { decision: 'approve' });
    const { code, stdout } = await cli.done;
    expect(code).toBe(0);
    const result = documentedJson(stdout);
    expect(result.idToken.split('.')).toHaveLength(3);
    // Discovery gave the issuer and its keys: the ID token was validated.
    expect(result.idTokenClaims).toMatchObject({ iss: embedded.issuer, aud: client.clientIdentifier, sub: 'demo-user' });
  });

  it('binds the tokens to a key made for the run with --dpop, and prints that key beside them', async () => {
    const cli = startCli(['login', '--issuer', embedded.issuer, '--client-id', embedded.clients.public.clientIdentifier, '--scope', 'openid offline_access', '--dpop', '--json', '--no-qr']);
    const [, url] = await cli.stderrMatching(/or open (\S+), which carries the code/);
    await actAsUser(url!, '', { decision: 'approve' });
    const { code, stdout } = await cli.done;
    expect(code).toBe(0);
    const result = documentedJson(stdout);
    expect(result.tokenType).toBe('DPoP');
    // The server bound the token to the very key printed: without it the token is of no use.
    const { calculateJwkThumbprint } = await import('jose');
    expect((await embedded.introspect(result.accessToken)).cnf).toEqual({ jkt: await calculateJwkThumbprint(result.dpopKey.publicJwk) });
    expect(result.dpopKey.privateJwk).toMatchObject({ kty: 'EC', crv: 'P-256', d: expect.any(String) });
  });

  it('exits 3 when the issuer has no device authorization endpoint', async () => {
    const bare = await LoopbackServer.start();
    bare.handle('/.well-known/openid-configuration', { json: { issuer: bare.url(''), token_endpoint: bare.url('/token') } });
    const { code, stderr } = await runCli(['login', '--issuer', bare.url(''), '--client-id', 'x']);
    expect(code).toBe(3);
    expect(stderr).toMatch(/has no device_authorization_endpoint: give --authorization-url and --token-url/);
    await bare.close();
  });
});

describe('the documented --json schema', () => {
  it('admits nothing it does not describe', () => {
    const granted = { status: 'granted', accessToken: 'a', tokenType: 'Bearer', refreshToken: null, idToken: null, idTokenClaims: null, expiresAt: null, scope: [], extraTokens: {} };
    expect(fitsDocumentedJson(granted)).toBe(true);
    expect(fitsDocumentedJson({ ...granted, access_token: 'a' })).toBe(false);
    expect(fitsDocumentedJson({ ...granted, expiresAt: 'soon' })).toBe(false);
    expect(fitsDocumentedJson({ status: 'denied', error: { code: 'Nope', message: 'x' } })).toBe(false);
  });

  it('admits the examples docs/cli.md gives', async () => {
    const page = await readFile(join(import.meta.dirname, '../../docs/cli.md'), 'utf8');
    const examples = [...page.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((match) => JSON.parse(match[1]!) as unknown);
    expect(examples).toHaveLength(2);
    for (const example of examples) expect(fitsDocumentedJson(example), JSON.stringify(example)).toBe(true);
  });
});

describe.concurrent('device-flow: bad arguments', () => {
  it.each([
    [['--bogus'], /^device-flow: unknown option '--bogus'; see device-flow --help$/],
    [['-x'], /^device-flow: unknown option '-x'; see device-flow --help$/],
    [['demo', '--timeout', '-5'], /^device-flow: --timeout takes a number of seconds greater than 0, not "-5"$/],
    [['login', '--issuer', 'https://a.example', '--client-id'], /^device-flow: --client-id needs a value: --client-id ID$/],
    [['login', '--client-id', '--issuer', 'https://a.example'], /^device-flow: --client-id needs a value: --client-id ID$/],
    [['demo', '--json=yes'], /^device-flow: --json takes no value$/],
    [['login', '--client-id', 'x'], /add --issuer URL, --provider NAME, or --authorization-url URL --token-url URL/],
    [['login', '--issuer', 'https://a.example'], /add --client-id ID/],
    [['login', '--provider', 'myspace', '--client-id', 'x'], /unknown provider "myspace": use one of github, google, microsoft, gitlab/],
    [['login', '--provider', 'google', '--client-id', 'x'], /Google needs the client secret: add --client-secret/],
    [['login', '--issuer', 'a.example', '--client-id', 'x'], /--issuer must be an absolute URL such as https:\/\/login.example.com/],
    [['login', '--authorization-url', 'https://a.example/d', '--client-id', 'x'], /--authorization-url needs --token-url URL as well/],
    [['login', '--issuer', 'https://a.example', '--provider', 'github', '--client-id', 'x'], /give only one of/],
    [['demo', '--timeout', 'soon'], /--timeout takes a number of seconds greater than 0/],
    [['demo', '--client-id', 'x'], /--client-id belongs to the login command/],
    [['demo', '--scope', 'a"b'], /is not a scope token/],
    [['dance'], /unknown command "dance": use login, token, status, refresh, logout, profiles, demo, serve or providers/],
    [['demo', '--timeout', '3000000'], /--timeout takes at most 86400 seconds/],
    [['login', '--provider', 'github', '--tenant', 'contoso', '--client-id', 'x'], /--tenant goes with --provider microsoft/],
    [['demo', '--output', '/nonexistent-directory/tokens.json'], /--output \/nonexistent-directory\/tokens.json: the directory \/nonexistent-directory does not exist/],
    [['demo', '--output', tmpdir()], /is a directory: name a file in it/],
    [['demo', '--output', join(tmpdir(), 'no-such-directory', 'tokens/')], /tokens\/ is a directory path: name a file$/],
    [['demo', '--output', '/proc/tokens.json'], /--output \/proc\/tokens.json: no file can be written in \/proc \(E[A-Z]+\)$/],
    [['login', '--issuer', 'https://user:P4ssw0rd@as.example', '--client-id', 'x'], /^(?!.*P4ssw0rd)device-flow: --issuer must not carry a user name or password/],
    [['login', '--issuer', 'https://user:P4ssw0rd@[as', '--client-id', 'x'], /^(?!.*P4ssw0rd)device-flow: --issuer must be an absolute URL such as https:\/\/login.example.com$/],
  ])('%j → exit 2 with a one-line error naming the fix', async (args, message) => {
    const { code, stdout, stderr } = await runCli(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr.trimEnd()).toMatch(message);
  });

  it('checks --output fully before sending anything: a directory path (trailing slash) in an existing directory is refused with exit 2', async () => {
    const server = await LoopbackServer.start();
    const parent = await mkdtemp(join(tmpdir(), 'device-flow-output-'));
    const { code, stderr } = await runCli(['login', '--authorization-url', server.url('/device'), '--token-url', server.url('/token'), '--client-id', 'x', '--output', join(parent, 'dir/')]);
    await server.close();
    await rm(parent, { recursive: true });
    expect(code).toBe(2);
    expect(stderr).toMatch(/is a directory path: name a file/);
    expect(server.requests).toEqual([]);
  });

  it('prints help and the provider presets', async () => {
    expect((await runCli(['--help'])).stdout).toMatch(/Exit codes: 0 granted/);
    const providers = await runCli(['providers']);
    expect(providers.stdout).toMatch(/^github \(GitHub\)\n  https:\/\/github.com\/login\/device\/code/m);
    expect(providers.stdout).toMatch(/verification_url instead of verification_uri/);
  });
});
