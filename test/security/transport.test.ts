/**
 * Transport security: https or loopback only (unless allowed), capped response bodies, and no redirect that would
 * carry a device code or a secret to another origin.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { createUndiciFetch } from '../../src/node/undiciFetch.js';
import { isSecureEndpoint } from '../../src/core/protocol/urls.js';
import { createTestFlow, deviceAuthorizationReply, nextSignal } from '../helpers/flowHarness.js';
import { hugeBody, LoopbackServer } from '../helpers/loopbackServer.js';
import { DEFAULT_TRANSPORTS, givenNoFetchUse } from '../helpers/transports.js';

let server: LoopbackServer;
let elsewhere: LoopbackServer;
beforeAll(async () => {
  [server, elsewhere] = await Promise.all([LoopbackServer.start(), LoopbackServer.start()]);
});
afterAll(() => Promise.all([server.close(), elsewhere.close()]));

describe('plain HTTP', () => {
  it('is refused at once for a non-loopback endpoint, naming the option, with nothing sent', async () => {
    const sent: string[] = [];
    let sending = () => undefined as void;
    const flow = new OAuth2DeviceAuthorizationFlow({
      authorizationUrl: 'http://login.example.com/device',
      tokenUrl: 'https://login.example.com/token',
      fetch: async (input) => (sent.push(input), sending(), new Response('{}')),
    });
    const failures: string[] = [];
    flow.on('requestFailed', (error) => failures.push(`${error.code}: ${error.message}`));
    flow.grant();
    expect(failures).toEqual([
      'ClientError: The authorization endpoint http://login.example.com is not https: device codes, tokens and secrets would travel in clear text. Use https, or set allowInsecureHttp: true to allow plain HTTP',
    ]);
    expect(sent).toEqual([]);
    flow.allowInsecureHttp = true;
    // The first request loads ofetch first: wait for the request, not for a fixed time.
    const sentNow = new Promise<void>((resolve) => (sending = resolve));
    flow.grant();
    await sentNow;
    expect(sent).toEqual(['http://login.example.com/device']);
    flow.dispose();
  });
});

describe.each(DEFAULT_TRANSPORTS)('credentials in URLs, given no fetch: %s', (_name, transport) => {
  givenNoFetchUse(transport);

  it('are refused in endpoint settings with ClientError naming the setting, never the password', () => {
    const attempt = () => new OAuth2DeviceAuthorizationFlow({ authorizationUrl: 'http://user:P4ssw0rd@127.0.0.1:8080/device' });
    expect(attempt).toThrow(expect.objectContaining({ code: 'ClientError', message: expect.stringMatching(/^Invalid setting: authorizationUrl must not carry a user name or password/) }));
    expect(() => attempt()).not.toThrow(/P4ssw0rd/);
    const flow = new OAuth2DeviceAuthorizationFlow();
    expect(() => (flow.tokenUrl = 'https://:P4ssw0rd@as.example/token')).toThrow(/tokenUrl must not carry a user name or password/);
    expect(flow.tokenUrl).toBeNull();
    flow.dispose();
  });

  it('are refused from a request modifier, with the same error over either transport', async () => {
    for (const fetch of [undefined, createUndiciFetch()]) {
      const { flow } = createTestFlow(server, { fetch });
      flow.networkRequestModifier = (request) => void (request.url = new URL(request.url.href.replace('http://', 'http://user:P4ssw0rd@')));
      flow.grant();
      const [error] = await nextSignal(flow, 'requestFailed');
      expect(error).toMatchObject({ code: 'ClientError', message: `The request URL for ${server.url('/device')} carries a user name or password: refused` });
      expect(inspect(error, { depth: Infinity })).not.toContain('P4ssw0rd');
      flow.dispose();
    }
  });

  it('make a verification URL from the server unusable: https://accounts.example.com@evil.example leads to evil.example', async () => {
    server.queue('/device', deviceAuthorizationReply({ verification_uri: 'https://accounts.example.com@evil.example/device' }));
    const refused = createTestFlow(server);
    refused.flow.grant();
    const [error] = await nextSignal(refused.flow, 'requestFailed');
    expect(error).toMatchObject({ code: 'OAuthTokenNotFoundError', message: 'The device authorization response lacks a usable verification_uri' });
    refused.flow.dispose();

    server.queue('/device', deviceAuthorizationReply({ verification_uri_complete: 'https://accounts.example.com@evil.example/device?user_code=X' }));
    const dropped = createTestFlow(server);
    dropped.flow.grant();
    const [, , complete] = await nextSignal(dropped.flow, 'authorizeWithUserCode');
    expect(complete).toBeNull();
    dropped.flow.dispose();
  });
});

describe('the plain-HTTP exemption', () => {
  it('covers literal loopback addresses and localhost, not names under .localhost, which the system resolver may send anywhere', () => {
    for (const url of ['http://127.0.0.1:9/device', 'http://127.4.5.6/device', 'http://[::1]:9/device', 'http://localhost:9/device', 'http://LOCALHOST/device']) {
      expect([url, isSecureEndpoint(url, false)]).toEqual([url, true]);
    }
    for (const url of ['http://tv.localhost:9/device', 'http://localhost.example.com/device', 'http://127.0.0.1.nip.io/device', 'http://[::2]/device']) {
      expect([url, isSecureEndpoint(url, false)]).toEqual([url, false]);
    }
    const flow = new OAuth2DeviceAuthorizationFlow({ authorizationUrl: 'http://tv.localhost:9/device', tokenUrl: 'http://127.0.0.1:9/token' });
    const failures: string[] = [];
    flow.on('requestFailed', (error) => failures.push(error.message));
    flow.grant();
    expect(failures).toEqual([expect.stringMatching(/^The authorization endpoint http:\/\/tv\.localhost:9 is not https/)]);
    flow.dispose();
  });
});

describe.each(DEFAULT_TRANSPORTS)('response bodies, given no fetch: %s', (_name, transport) => {
  givenNoFetchUse(transport);

  it('over 1 MiB fail with ServerError, and the connection is closed instead of drained', async () => {
    const huge = hugeBody(10 * 1024 * 1024);
    server.handle('/huge', huge.handler);
    const flow = new OAuth2DeviceAuthorizationFlow({ authorizationUrl: server.url('/huge'), tokenUrl: server.url('/token') });
    flow.grant();
    const [error] = await nextSignal(flow, 'requestFailed');
    expect(error).toMatchObject({ code: 'ServerError', status: 200, message: 'The server sent a response body larger than 1048576 bytes' });
    expect(await huge.written).toBeLessThan(10 * 1024 * 1024);
    flow.dispose();
  });
});

describe.each(DEFAULT_TRANSPORTS)('redirects, given no fetch: %s', (_name, transport) => {
  givenNoFetchUse(transport);

  it('to another origin are refused, and the other origin receives nothing', async () => {
    server.handle('/moved', { status: 307, headers: { location: elsewhere.url('/device') } });
    elsewhere.handle('/device', deviceAuthorizationReply());
    const { flow } = createTestFlow(server, { authorizationUrl: server.url('/moved'), clientIdentifierSharedKey: 'client-secret-abcdef' });
    flow.grant();
    const [error] = await nextSignal(flow, 'requestFailed');
    expect(error).toMatchObject({ code: 'ServerError', status: 307 });
    expect(error.message).toContain(`redirect (HTTP 307 to ${new URL(elsewhere.url('/')).origin})`);
    expect(elsewhere.requests).toEqual([]);
    flow.dispose();
  });

  it('within the origin are followed when they keep the method (307, 308), and refused when they would not (302)', async () => {
    server.handle('/old-device', { status: 308, headers: { location: '/device' } });
    server.handle('/device', deviceAuthorizationReply());
    server.handle('/found', { status: 302, headers: { location: '/device' } });
    const followed = createTestFlow(server, { authorizationUrl: server.url('/old-device') });
    followed.flow.grant();
    await nextSignal(followed.flow, 'authorizeWithUserCode');
    const request = server.requestsTo('/device').at(-1)!;
    expect(request.method).toBe('POST');
    expect(request.params.get('client_id')).toBe('tv-app');
    followed.flow.dispose();

    const refused = createTestFlow(server, { authorizationUrl: server.url('/found') });
    refused.flow.grant();
    const [error] = await nextSignal(refused.flow, 'requestFailed');
    expect(error).toMatchObject({ code: 'ServerError', status: 302 });
    refused.flow.dispose();
  });

  it('in a loop stop after three hops', async () => {
    server.handle('/loop', { status: 307, headers: { location: '/loop' } });
    const { flow } = createTestFlow(server, { authorizationUrl: server.url('/loop') });
    const before = server.requestsTo('/loop').length;
    flow.grant();
    const [error] = await nextSignal(flow, 'requestFailed');
    expect(error.message).toMatch(/only 3 same-origin 307\/308 redirects are followed/);
    expect(server.requestsTo('/loop').length - before).toBe(4);
    flow.dispose();
  });
});
