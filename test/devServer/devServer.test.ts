/**
 * `oauth2-device-flow/dev-server` as an application's test suite uses it: its options reach the wire, and approve()
 * and deny() decide a user code the way a person would on the server's pages.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
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

/** A DPoP key pair, made by hand as a client would make it, and its proofs (RFC 9449 §4.2). */
async function dpopKey() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk: JWK = await exportJWK(publicKey);
  return {
    jwk,
    thumbprint: await calculateJwkThumbprint(jwk),
    proof: (htu: string, claims: Record<string, unknown> = {}) =>
      new SignJWT({ jti: crypto.randomUUID(), htm: 'POST', htu, ...claims }).setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk }).setIssuedAt().sign(privateKey),
  };
}

/** Signs in as the default public client, approving at once, and makes the one token request; with a proof if given. */
async function grant(server: DevServer, dpop?: string): Promise<{ response: Response; body: Record<string, any> }> {
  const { device_code, user_code } = await startLogin(server, server.clients.public.clientIdentifier, 'openid offline_access');
  await server.approve(user_code);
  const request = form({ client_id: server.clients.public.clientIdentifier, grant_type: DEVICE_CODE_GRANT, device_code });
  const response = await fetch(server.tokenUrl, { ...request, headers: { ...request.headers, ...(dpop === undefined ? {} : { dpop }) } });
  return { response, body: await response.json() };
}

const revoke = (server: DevServer, token: string) => fetch(server.revocationUrl, form({ client_id: server.clients.public.clientIdentifier, token }));

describe('introspect() and the introspection endpoint', () => {
  it('publishes the introspection endpoint and the DPoP algorithms it takes', async () => {
    const metadata = await (await fetch(`${standard.issuer}/.well-known/openid-configuration`)).json();
    expect(metadata).toMatchObject({ introspection_endpoint: standard.introspectionUrl, dpop_signing_alg_values_supported: expect.arrayContaining(['ES256']) });
  });

  it('says a granted token is active, for whom and for which client', async () => {
    const { body } = await grant(standard);
    expect(body.token_type).toBe('Bearer');
    const access = await standard.introspect(body.access_token);
    expect(access).toMatchObject({ active: true, client_id: 'device-flow-demo', sub: 'demo-user', token_type: 'Bearer', scope: 'openid offline_access' });
    expect(access).not.toHaveProperty('cnf');
    expect(await standard.introspect(body.refresh_token)).toMatchObject({ active: true, client_id: 'device-flow-demo', sub: 'demo-user' });
    expect(await standard.introspect('a-token-it-never-issued')).toEqual({ active: false });
  });

  it('says a revoked token is inactive, and a revoked refresh token ends the access token of its grant too', async () => {
    const first = (await grant(standard)).body;
    expect((await revoke(standard, first.access_token)).status).toBe(200);
    expect(await standard.introspect(first.access_token)).toEqual({ active: false });
    expect(await standard.introspect(first.refresh_token)).toMatchObject({ active: true });

    const second = (await grant(standard)).body;
    expect((await revoke(standard, second.refresh_token)).status).toBe(200);
    expect(await standard.introspect(second.refresh_token)).toEqual({ active: false });
    expect(await standard.introspect(second.access_token)).toEqual({ active: false });
  });

  it('uses a client of its own, not one of the registered ones, which may ask about their own tokens only', async () => {
    const { body } = await grant(standard);
    const ids = Object.values(standard.clients).map((client) => client.clientIdentifier);
    expect(ids).toEqual(['device-flow-demo', 'device-flow-post', 'device-flow-basic']);
    const ask = (clientIdentifier: string, extra: Record<string, string> = {}) =>
      fetch(standard.introspectionUrl, form({ client_id: clientIdentifier, token: body.access_token, ...extra })).then((response) => response.json());
    expect(await ask('device-flow-demo')).toMatchObject({ active: true, sub: 'demo-user' });
    expect(await ask('device-flow-post', { client_secret: standard.clients.secretPost.clientSecret })).toEqual({ active: false });
  });
});

describe('DPoP', () => {
  it('binds the access token, and a public client\'s refresh token, to the key of the proof (cnf.jkt)', async () => {
    const key = await dpopKey();
    const { response, body } = await grant(standard, await key.proof(standard.tokenUrl));
    expect(response.status).toBe(200);
    expect(body.token_type).toBe('DPoP');
    // Nonces were not asked for: the server hands out none.
    expect(response.headers.get('dpop-nonce')).toBeNull();
    expect(await standard.introspect(body.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.thumbprint } });
    expect(await standard.introspect(body.refresh_token)).toMatchObject({ active: true, cnf: { jkt: key.thumbprint } });
  });

  it('revokes a DPoP-bound refresh token of a public client without a proof (RFC 7009 asks for none)', async () => {
    const key = await dpopKey();
    const { body } = await grant(standard, await key.proof(standard.tokenUrl));
    expect((await revoke(standard, body.refresh_token)).status).toBe(200);
    expect(await standard.introspect(body.refresh_token)).toEqual({ active: false });
  });

  it('refuses a proof made for another URL', async () => {
    const key = await dpopKey();
    const { response, body } = await grant(standard, await key.proof(`${standard.issuer}/somewhere-else`));
    expect(response.status).toBe(400);
    expect(body).toMatchObject({ error: 'invalid_dpop_proof' });
  });

  it('with requireNonce, answers a proof without a nonce use_dpop_nonce with a DPoP-Nonce, and takes the retry that carries it', async () => {
    const server = await startDevServer({ dpop: { requireNonce: true } });
    try {
      const key = await dpopKey();
      const { device_code, user_code } = await startLogin(server, 'device-flow-demo', 'openid');
      const request = form({ client_id: 'device-flow-demo', grant_type: DEVICE_CODE_GRANT, device_code });
      const poll = (dpop?: string) => fetch(server.tokenUrl, { ...request, headers: { ...request.headers, ...(dpop ? { dpop } : {}) } });
      // A request without a proof is not asked for a nonce.
      expect(await (await poll()).json()).toMatchObject({ error: 'authorization_pending' });

      const first = await poll(await key.proof(server.tokenUrl));
      expect(first.status).toBe(400);
      expect(await first.json()).toMatchObject({ error: 'use_dpop_nonce' });
      const nonce = first.headers.get('dpop-nonce');
      expect(nonce).toMatch(/^[\w-]{43}$/);

      await server.approve(user_code);
      const retry = await poll(await key.proof(server.tokenUrl, { nonce: nonce! }));
      expect(retry.status).toBe(200);
      const tokens = await retry.json();
      expect(tokens.token_type).toBe('DPoP');
      expect(await server.introspect(tokens.access_token)).toMatchObject({ active: true, cnf: { jkt: key.thumbprint } });
    } finally {
      await server.close();
    }
  });
});

describe('close()', () => {
  it('stops answering', async () => {
    const server = await startDevServer();
    await server.close();
    await expect(fetch(`${server.issuer}/.well-known/openid-configuration`)).rejects.toThrow();
  });
});
