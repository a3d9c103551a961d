/**
 * `discover()` against servers on 127.0.0.1: scripted ones for each way a metadata document can be found, refused or
 * never arrive, and the development server, whose discovered settings spread into the flow and sign a user in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devServer/server.js';
import { authorizeDevice, DeviceFlowError, discover, type DiscoveredServer, OAuth2DeviceAuthorizationFlow } from '../../src/index.js';
import { rejectionOf } from '../helpers/expectError.js';
import { hugeBody, LoopbackServer } from '../helpers/loopbackServer.js';

let server: LoopbackServer;
beforeAll(async () => {
  server = await LoopbackServer.start();
});
afterAll(() => server.close());

/** A metadata document for `issuer` with the flow's two endpoints under it. */
const metadataOf = (issuer: string, extra: Record<string, unknown> = {}) => ({
  issuer,
  device_authorization_endpoint: `${issuer}/device`,
  token_endpoint: `${issuer}/token`,
  ...extra,
});

/** The paths requested since `from` requests had been recorded. */
const pathsSince = (from: number) => server.requests.slice(from).map((request) => request.path);

describe('discover()', () => {
  it('reads OpenID Connect Discovery first, with a GET for JSON, and keeps what the flow takes, by the names of its settings', async () => {
    const issuer = server.url('/oidc');
    server.handle('/oidc/.well-known/openid-configuration', {
      json: metadataOf(issuer, {
        jwks_uri: `${issuer}/jwks`,
        revocation_endpoint: `${issuer}/revoke`,
        id_token_signing_alg_values_supported: ['HS256', 'RS256', 'none', 'ES256', 'RS256', 42],
        authorization_endpoint: `${issuer}/authorize`,
      }),
    });
    const before = server.requests.length;
    const discovered: DiscoveredServer = await discover(issuer);
    expect(discovered).toStrictEqual({
      issuer,
      authorizationUrl: `${issuer}/device`,
      tokenUrl: `${issuer}/token`,
      jwksUrl: `${issuer}/jwks`,
      revocationUrl: `${issuer}/revoke`,
      idTokenSigningAlgorithms: ['RS256', 'ES256'],
    });
    expect(pathsSince(before)).toEqual(['/oidc/.well-known/openid-configuration']);
    expect(server.requests.at(-1)).toMatchObject({ method: 'GET', headers: { accept: 'application/json' } });
  });

  it('leaves the algorithms out when the document lists no asymmetric one, or none at all, and the optional endpoints null', async () => {
    const hmacOnly = server.url('/hmac-only');
    server.handle('/hmac-only/.well-known/openid-configuration', { json: metadataOf(hmacOnly, { id_token_signing_alg_values_supported: ['HS256', 'none'] }) });
    const bare = server.url('/bare');
    server.handle('/bare/.well-known/openid-configuration', { json: metadataOf(bare) });
    for (const issuer of [hmacOnly, bare]) {
      expect(await discover(issuer)).toStrictEqual({ issuer, authorizationUrl: `${issuer}/device`, tokenUrl: `${issuer}/token`, jwksUrl: null, revocationUrl: null });
    }
  });

  it('falls back to RFC 8414 on a 404, inserting the well-known path between host and path, without the trailing slash', async () => {
    const issuer = server.url('/tenant-a');
    server.handle('/.well-known/oauth-authorization-server/tenant-a', { json: metadataOf(issuer) });
    let before = server.requests.length;
    await expect(discover(issuer)).resolves.toMatchObject({ issuer, authorizationUrl: `${issuer}/device`, tokenUrl: `${issuer}/token` });
    expect(pathsSince(before)).toEqual(['/tenant-a/.well-known/openid-configuration', '/.well-known/oauth-authorization-server/tenant-a']);

    const slashed = server.url('/tenant-b/');
    server.handle('/.well-known/oauth-authorization-server/tenant-b', { json: { ...metadataOf(server.url('/tenant-b')), issuer: slashed } });
    before = server.requests.length;
    await expect(discover(slashed)).resolves.toMatchObject({ issuer: slashed });
    expect(pathsSince(before)).toEqual(['/tenant-b/.well-known/openid-configuration', '/.well-known/oauth-authorization-server/tenant-b']);
  });

  it('refuses a document that names another issuer with a ServerError naming both, and looks no further', async () => {
    const issuer = server.url('/evil');
    server.handle('/evil/.well-known/openid-configuration', { json: metadataOf('https://attacker.example') });
    server.handle('/.well-known/oauth-authorization-server/evil', { json: metadataOf(issuer) });
    const before = server.requests.length;
    const error = await rejectionOf(discover(issuer));
    expect(error.code).toBe('ServerError');
    expect(error.message).toBe(
      `The metadata at ${issuer}/.well-known/openid-configuration names the issuer "https://attacker.example", not ${issuer}: metadata of another issuer must not be used`,
    );
    expect(pathsSince(before)).toEqual(['/evil/.well-known/openid-configuration']);
  });

  it('compares the issuer exactly: a trailing slash, or none, makes another issuer', async () => {
    server.handle('/slash/.well-known/openid-configuration', { json: metadataOf(server.url('/slash/')) });
    await expect(rejectionOf(discover(server.url('/slash')))).resolves.toMatchObject({ code: 'ServerError', message: expect.stringContaining(`names the issuer "${server.url('/slash/')}"`) });
    server.handle('/no-slash/.well-known/openid-configuration', { json: metadataOf(server.url('/no-slash')) });
    await expect(rejectionOf(discover(server.url('/no-slash/')))).resolves.toMatchObject({ code: 'ServerError', message: expect.stringContaining('names the issuer') });
    server.handle('/nameless/.well-known/openid-configuration', { json: { ...metadataOf(server.url('/nameless')), issuer: undefined } });
    await expect(rejectionOf(discover(server.url('/nameless')))).resolves.toMatchObject({ code: 'ServerError', message: expect.stringContaining('names no issuer') });
  });

  it('fails with a ClientError naming device_authorization_endpoint when the server has none', async () => {
    const issuer = server.url('/no-device');
    server.handle('/no-device/.well-known/openid-configuration', { json: { issuer, token_endpoint: `${issuer}/token` } });
    const error = await rejectionOf(discover(issuer));
    expect(error.code).toBe('ClientError');
    expect(error.message).toBe(
      `The metadata of ${issuer} has no device_authorization_endpoint: the server does not offer the device flow at this issuer; set authorizationUrl and tokenUrl if it does elsewhere`,
    );
  });

  it('refuses a plain-http endpoint of another host unless allowInsecureHttp, and endpoints that are no http URL', async () => {
    const issuer = server.url('/plain');
    server.handle('/plain/.well-known/openid-configuration', { json: metadataOf(issuer, { jwks_uri: 'http://keys.example/jwks' }) });
    const error = await rejectionOf(discover(issuer));
    expect(error).toMatchObject({ code: 'ClientError', message: expect.stringMatching(/^The jwks_uri of .*: http:\/\/keys\.example is not https: .*set allowInsecureHttp: true/) });
    await expect(discover(issuer, { allowInsecureHttp: true })).resolves.toMatchObject({ jwksUrl: 'http://keys.example/jwks' });

    const odd = server.url('/odd');
    server.handle('/odd/.well-known/openid-configuration', { json: metadataOf(odd, { revocation_endpoint: 'javascript:alert(1)' }) });
    await expect(rejectionOf(discover(odd))).resolves.toMatchObject({ code: 'ServerError', message: `The metadata of ${odd} has an unusable revocation_endpoint: it must be an http: or https: URL` });
    server.handle('/creds/.well-known/openid-configuration', { json: metadataOf(server.url('/creds'), { token_endpoint: 'https://user:secret@as.example/token' }) });
    const withCredentials = await rejectionOf(discover(server.url('/creds')));
    expect(withCredentials).toMatchObject({ code: 'ServerError', message: expect.stringContaining('has an unusable token_endpoint: it must not carry a user name or password') });
    expect(withCredentials.message).not.toContain('secret');
  });

  it('refuses an issuer it could not match or would fetch over plain http, before any request', async () => {
    const calls: string[] = [];
    const recording = async (url: string) => {
      calls.push(url);
      return new Response('{}');
    };
    for (const [issuer, message] of [
      ['http://as.example', 'The issuer http://as.example is not https: device codes, tokens and secrets would travel in clear text. Use https, or set allowInsecureHttp: true to allow plain HTTP'],
      ['https://as.example/?tenant=a', 'The issuer https://as.example/ must have no query or fragment'],
      ['https://as.example/#', 'The issuer https://as.example/ must have no query or fragment'],
      [' https://as.example', 'The issuer https://as.example/ must hold no spaces or control characters'],
      ['https://user:hunter2@as.example', 'The issuer must not carry a user name or password'],
      ['as.example', 'The issuer must be an absolute URL'],
    ]) {
      await expect(rejectionOf(discover(issuer!, { fetch: recording }))).resolves.toMatchObject({ code: 'ClientError', message });
    }
    await expect(rejectionOf(discover(new URL('https://as.example') as unknown as string, { fetch: recording }))).resolves.toMatchObject({ code: 'ClientError' });
    await expect(rejectionOf(discover('https://as.example', { fetch: recording, requestTimeout: 0 }))).resolves.toMatchObject({ code: 'ClientError', message: 'Invalid setting: requestTimeout must be a positive number' });
    expect(calls).toEqual([]);
  });

  it('fails with a one-line ClientError naming each URL and its status when neither place has a document', async () => {
    server.handle('/nothing/.well-known/openid-configuration', { status: 404, headers: { 'content-type': 'text/html' }, body: 'nope' });
    server.handle('/.well-known/oauth-authorization-server/nothing', { status: 410, headers: { 'content-type': 'text/html; charset=utf-8' }, body: 'gone' });
    const error = await rejectionOf(discover(server.url('/nothing')));
    expect(error).toMatchObject({
      code: 'ClientError',
      message: `Could not read the metadata of ${server.url('/nothing')}: ${server.url('/nothing/.well-known/openid-configuration')} answered HTTP 404 (text/html); ${server.url('/.well-known/oauth-authorization-server/nothing')} answered HTTP 410 (text/html)`,
    });
  });

  it('tries RFC 8414 after a page that is no document (a single-page app answering 200 everywhere)', async () => {
    const issuer = server.url('/spa');
    server.handle('/spa/.well-known/openid-configuration', { headers: { 'content-type': 'text/html' }, body: '<!doctype html><div id="app"></div>' });
    server.handle('/.well-known/oauth-authorization-server/spa', { json: metadataOf(issuer) });
    await expect(discover(issuer)).resolves.toMatchObject({ issuer });
  });

  it('caps the body as every request does: maxResponseBytes, and 1 MiB by default with the connection closed at once', async () => {
    const issuer = server.url('/padded');
    server.handle('/padded/.well-known/openid-configuration', { json: metadataOf(issuer, { padding: 'x'.repeat(2000) }) });
    server.handle('/.well-known/oauth-authorization-server/padded', { status: 404 });
    await expect(discover(issuer)).resolves.toMatchObject({ issuer });
    const capped = await rejectionOf(discover(issuer, { maxResponseBytes: 1024 }));
    expect(capped).toMatchObject({ code: 'ServerError', message: expect.stringContaining('larger than 1024 bytes') });

    const huge = hugeBody(300 * 1024 * 1024);
    server.handle('/huge/.well-known/openid-configuration', huge.handler);
    server.handle('/.well-known/oauth-authorization-server/huge', { status: 404 });
    const error = await rejectionOf(discover(server.url('/huge')));
    expect(error).toMatchObject({ code: 'ServerError', message: expect.stringContaining('larger than 1048576 bytes') });
    expect(await huge.written).toBeLessThan(16 * 1024 * 1024);
  });

  it('gives up on a server that never answers after requestTimeout for each place, with a NetworkError', async () => {
    server.handle('/silent/.well-known/openid-configuration', () => 'handled');
    server.handle('/.well-known/oauth-authorization-server/silent', () => 'handled');
    const started = Date.now();
    const error = await rejectionOf(discover(server.url('/silent'), { requestTimeout: 200 }));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toMatchObject({
      code: 'NetworkError',
      message: `Could not read the metadata of ${server.url('/silent')}: No complete answer from ${server.url('/silent/.well-known/openid-configuration')} within 0.2 s; No complete answer from ${server.url('/.well-known/oauth-authorization-server/silent')} within 0.2 s`,
    });
  });

  it('sends through the fetch it is given', async () => {
    const issuer = server.url('/injected');
    server.handle('/injected/.well-known/openid-configuration', { json: metadataOf(issuer) });
    const seen: string[] = [];
    const fetch = (url: string, init: RequestInit) => {
      seen.push(`${init.method} ${url}`);
      return globalThis.fetch(url, init);
    };
    await expect(discover(issuer, { fetch })).resolves.toMatchObject({ issuer });
    expect(seen).toEqual([`GET ${issuer}/.well-known/openid-configuration`]);

    // What Node's fetch rejects with for a name the resolver does not know, without asking a resolver.
    const unresolvable = async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND as.example'), { code: 'ENOTFOUND' }) });
    };
    const error = await rejectionOf(discover('https://as.example', { fetch: unresolvable }));
    expect(error).toMatchObject({
      code: 'NetworkError',
      message:
        'Could not read the metadata of https://as.example: The request to https://as.example/.well-known/openid-configuration failed (ENOTFOUND); The request to https://as.example/.well-known/oauth-authorization-server failed (ENOTFOUND)',
    });
  });

  it('stops when its signal aborts, rejecting with the reason and trying no other place', async () => {
    server.handle('/stalled/.well-known/openid-configuration', () => 'handled');
    const before = server.requests.length;
    const controller = new AbortController();
    // A DeviceFlowError as the reason: it must not be taken for a failure of that place.
    const reason = new DeviceFlowError('NetworkError', 'The user went away');
    const discovering = discover(server.url('/stalled'), { signal: controller.signal });
    await server.nextRequest('/stalled/.well-known/openid-configuration');
    const started = Date.now();
    controller.abort(reason);
    await expect(discovering).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(pathsSince(before)).toEqual(['/stalled/.well-known/openid-configuration']);

    await expect(discover(server.url('/stalled'), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(pathsSince(before)).toHaveLength(1);
  });
});

describe('discover() against the development server', () => {
  let devServer: DevServer;
  beforeAll(async () => {
    devServer = await startDevServer();
  });
  afterAll(() => devServer.close());

  it("finds its endpoints and keys, which spread into the flow's options, and a user signs in", async () => {
    const discovered = await discover(devServer.issuer);
    expect(discovered).toStrictEqual({
      issuer: devServer.issuer,
      authorizationUrl: devServer.deviceAuthorizationUrl,
      tokenUrl: devServer.tokenUrl,
      jwksUrl: expect.stringMatching(new RegExp(`^${devServer.issuer}/`)),
      revocationUrl: devServer.revocationUrl,
      idTokenSigningAlgorithms: expect.arrayContaining(['RS256']),
    });
    const clientIdentifier = devServer.clients.public.clientIdentifier;
    const flow = new OAuth2DeviceAuthorizationFlow({ ...discovered, clientIdentifier });
    expect([flow.authorizationUrl?.href, flow.tokenUrl?.href]).toEqual([new URL(devServer.deviceAuthorizationUrl).href, new URL(devServer.tokenUrl).href]);

    // With openid, ID tokens come and are validated with what discovery found: the issuer exactly, its keys.
    const tokens = await authorizeDevice(
      { ...discovered, clientIdentifier, requestedScopeTokens: ['openid'] },
      { onUserCode: ({ userCode }) => void devServer.approve(userCode) },
    );
    expect(tokens.accessToken).not.toBe('');
    const claims = JSON.parse(Buffer.from(tokens.idToken!.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ iss: devServer.issuer, aud: clientIdentifier, sub: 'demo-user' });
  }, 20_000);
});
