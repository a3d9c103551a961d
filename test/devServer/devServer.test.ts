/**
 * `oauth2-device-flow/dev-server` as an application's test suite uses it: its options reach the wire, and approve()
 * and deny() decide a user code the way a person would on the server's pages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devServer/index.js';
import { authorizeDevice } from '../../src/promise/authorizeDevice.js';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

let standard: DevServer;
let tuned: DevServer<'tv' | 'backend'>;
beforeAll(async () => {
  [standard, tuned] = await Promise.all([
    startDevServer(),
    startDevServer({
      clients: {
        tv: { clientIdentifier: 'living-room-tv' },
        backend: { clientIdentifier: 'tv-backend', clientSecret: 's3cret-for-tests', clientAuthentication: 'client_secret_basic' },
      },
      scopes: ['openid', 'offline_access', 'channels:read'],
      deviceCodeLifetime: 120,
      accessTokenLifetime: 45,
      interval: 2,
      corsOrigins: ['http://127.0.0.1:5173'],
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([standard.close(), tuned.close()]);
});

const form = (values: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(values),
});

async function startLogin(server: DevServer<string>, clientIdentifier: string, scope = 'openid'): Promise<Record<string, any>> {
  const response = await fetch(server.deviceAuthorizationUrl, form({ client_id: clientIdentifier, scope }));
  expect(response.status).toBe(200);
  return response.json();
}

describe('startDevServer', () => {
  it('registers a public and two confidential clients by default, with random secrets', () => {
    expect(standard.clients.public).toEqual({ clientIdentifier: 'device-flow-demo', clientSecret: '', clientAuthentication: 'none' });
    expect(standard.clients.secretPost).toMatchObject({ clientIdentifier: 'device-flow-post', clientAuthentication: 'client_secret_post' });
    expect(standard.clients.secretBasic).toMatchObject({ clientIdentifier: 'device-flow-basic', clientAuthentication: 'client_secret_basic' });
    expect(standard.clients.secretPost.clientSecret).toMatch(/^[\w-]{32}$/);
    expect(standard.clients.secretPost.clientSecret).not.toBe(standard.clients.secretBasic.clientSecret);
    expect(standard.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('publishes its endpoints in its discovery document', async () => {
    const metadata = await (await fetch(`${standard.issuer}/.well-known/openid-configuration`)).json();
    expect(metadata).toMatchObject({
      issuer: standard.issuer,
      device_authorization_endpoint: standard.deviceAuthorizationUrl,
      token_endpoint: standard.tokenUrl,
      revocation_endpoint: standard.revocationUrl,
    });
  });

  it('announces the code lifetime and the interval it was given, and no interval by default', async () => {
    const tuneds = await startLogin(tuned, 'living-room-tv');
    expect(tuneds).toMatchObject({ expires_in: 120, interval: 2, verification_uri: tuned.verificationUrl });
    const standards = await startLogin(standard, 'device-flow-demo');
    expect(standards.expires_in).toBe(600);
    expect(standards).not.toHaveProperty('interval');
  });

  it('answers slow_down to a poll sooner than its interval, authorization_pending otherwise', async () => {
    const { device_code } = await startLogin(tuned, 'living-room-tv');
    const poll = async () => (await fetch(tuned.tokenUrl, form({ client_id: 'living-room-tv', grant_type: DEVICE_CODE_GRANT, device_code }))).json();
    expect(await poll()).toMatchObject({ error: 'authorization_pending' });
    expect(await poll()).toMatchObject({ error: 'slow_down', interval: 2 });
  });

  it('takes its own clients, with the secret and authentication given, and grants its scopes and a token of the lifetime given', async () => {
    const tokens = await authorizeDevice(
      {
        authorizationUrl: tuned.deviceAuthorizationUrl,
        tokenUrl: tuned.tokenUrl,
        clientIdentifier: 'tv-backend',
        clientIdentifierSharedKey: 's3cret-for-tests',
        clientAuthentication: 'client_secret_basic',
        requestedScopeTokens: ['openid', 'channels:read', 'email'],
      },
      { onUserCode: ({ userCode }) => void tuned.approve(userCode, { login: 'alice' }) },
    );
    const granted = Date.now();
    expect(tuned.clients.backend.clientSecret).toBe('s3cret-for-tests');
    // oidc-provider leaves out a scope it does not know rather than refusing the request.
    expect(tokens.scope).toEqual(['openid', 'channels:read']);
    expect(tokens.expiresAt!.getTime() - granted).toBeGreaterThan(40_000);
    expect(tokens.expiresAt!.getTime() - granted).toBeLessThanOrEqual(45_000);
    const claims = JSON.parse(Buffer.from(tokens.idToken!.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ sub: 'alice', aud: 'tv-backend', iss: tuned.issuer });
  }, 20_000);

  it('allows exactly the CORS origins it was given', async () => {
    const from = (origin: string) => fetch(tuned.deviceAuthorizationUrl, { ...form({ client_id: 'living-room-tv' }), headers: { 'content-type': 'application/x-www-form-urlencoded', origin } });
    expect((await from('http://127.0.0.1:5173')).headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:5173');
    expect((await from('http://127.0.0.1:9999')).headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('approve() and deny()', () => {
  it('deny() declines the code: the flow fails with access_denied', async () => {
    const declined = authorizeDevice(
      { authorizationUrl: tuned.deviceAuthorizationUrl, tokenUrl: tuned.tokenUrl, clientIdentifier: 'living-room-tv' },
      { onUserCode: ({ userCode }) => void tuned.deny(userCode) },
    );
    await expect(declined).rejects.toMatchObject({ code: 'ServerError', error: 'access_denied' });
  }, 20_000);

  it('reject a user code the server never issued, saying so', async () => {
    await expect(standard.approve('BCDF-GHJK')).rejects.toThrow(/^The server did not take user code BCDF-GHJK: .*(invalid|incorrect|not found)/i);
    await expect(standard.deny('BCDF-GHJK')).rejects.toThrow(/^The server did not take user code BCDF-GHJK/);
  });
});

describe('close()', () => {
  it('stops answering', async () => {
    const server = await startDevServer();
    await server.close();
    await expect(fetch(`${server.issuer}/.well-known/openid-configuration`)).rejects.toThrow();
  });
});
