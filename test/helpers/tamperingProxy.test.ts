/**
 * The tampering proxy does what each scenario says, in front of a real development server: checked here with jose and
 * raw requests, so that a client's ID token test that fails can trust the forgery it was handed.
 */
import {
  calculateJwkThumbprint,
  compactVerify,
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  jwtVerify,
  SignJWT,
  UnsecuredJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devServer/index.js';
import { type IdTokenScenario, startTamperingProxy, type TamperingProxy } from './tamperingProxy.js';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const CLIENT = 'device-flow-demo';

let server: DevServer;
let proxy: TamperingProxy;
let metadata: Record<string, string>;
beforeAll(async () => {
  server = await startDevServer();
  proxy = await startTamperingProxy(server.issuer);
  metadata = await (await fetch(`${proxy.issuer}/.well-known/openid-configuration`)).json();
});
afterAll(async () => {
  await proxy.close();
  await server.close();
});

const post = (url: string, values: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(values) });

/** Signs in through the proxy (the user approves at the server itself) and returns the token response the client sees. */
async function signIn(
  scenario: IdTokenScenario,
  through = proxy,
  upstream = server,
  dpop?: () => Promise<string>,
): Promise<{ response: Response; body: Record<string, any> }> {
  through.scenario = scenario;
  const { device_code, user_code } = await (await post(through.url('/device/auth'), { client_id: CLIENT, scope: 'openid offline_access' })).json();
  await upstream.approve(user_code);
  const response = await post(through.url('/token'), { client_id: CLIENT, grant_type: DEVICE_CODE_GRANT, device_code }, dpop ? { dpop: await dpop() } : {});
  return { response, body: await response.json() };
}

async function proxyKeys(): Promise<JSONWebKeySet> {
  return (await fetch(`${proxy.issuer}/jwks`)).json();
}

async function dpopKey() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  return {
    thumbprint: await calculateJwkThumbprint(jwk),
    proof: (htu: string, claims: Record<string, unknown> = {}) =>
      new SignJWT({ jti: crypto.randomUUID(), htm: 'POST', htu, ...claims }).setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk }).setIssuedAt().sign(privateKey),
  };
}

describe('discovery', () => {
  it('names the proxy as the issuer, its endpoints and its own key set, in both documents', async () => {
    const oauth = await (await fetch(`${proxy.issuer}/.well-known/oauth-authorization-server`)).json();
    for (const document of [metadata, oauth]) {
      expect(document).toMatchObject({
        issuer: proxy.issuer,
        jwks_uri: `${proxy.issuer}/jwks`,
        token_endpoint: `${proxy.issuer}/token`,
        device_authorization_endpoint: `${proxy.issuer}/device/auth`,
        revocation_endpoint: `${proxy.issuer}/token/revocation`,
        id_token_signing_alg_values_supported: ['RS256'],
      });
      expect(JSON.stringify(document)).not.toContain(server.issuer);
    }
    expect(proxy.exchanges).toContainEqual({ method: 'GET', path: '/.well-known/oauth-authorization-server', status: 200 });
  });
});

describe('scenarios', () => {
  it('intact: re-signed by the proxy with its issuer, valid for the client, and no longer the server\'s signature', async () => {
    const { body } = await signIn('intact');
    expect(proxy.exchanges.at(-1)).toEqual({ method: 'POST', path: '/token', status: 200, tampered: 'intact' });
    const keys = createLocalJWKSet(await proxyKeys());
    const { payload, protectedHeader } = await jwtVerify(body.id_token, keys, { issuer: proxy.issuer, audience: CLIENT, requiredClaims: ['iat', 'exp', 'sub'] });
    expect(payload.sub).toBe('demo-user');
    expect(protectedHeader).toMatchObject({ alg: 'RS256', kid: proxy.kid });
    const upstreamKeys = createLocalJWKSet(await (await fetch(`${server.issuer}/jwks`)).json());
    await expect(jwtVerify(body.id_token, upstreamKeys)).rejects.toThrow(errors.JWKSNoMatchingKey);
  });

  // Each is signed correctly by the proxy's current key, and bends exactly the claim the scenario names.
  const now = () => Math.floor(Date.now() / 1000);
  it.each<[IdTokenScenario, (claims: Record<string, any>) => void]>([
    ['wrongAudience', (claims) => expect(claims.aud).toBe('another-client')],
    ['wrongIssuer', (claims) => expect(claims.iss).toBe(server.issuer)],
    [
      'expired',
      (claims) => {
        expect(claims.exp).toBeLessThanOrEqual(now() - 3599);
        expect(claims.exp - claims.iat).toBe(3600);
      },
    ],
    ['missingIat', (claims) => expect(claims).not.toHaveProperty('iat')],
    ['nonceMismatch', (claims) => expect(claims.nonce).toMatch(/^not-your-nonce-/)],
    [
      'multipleAudiencesWithoutAzp',
      (claims) => {
        expect(claims.aud).toEqual([CLIENT, 'another-client']);
        expect(claims).not.toHaveProperty('azp');
      },
    ],
    ['subjectChanged', (claims) => expect(claims.sub).toBe('not-demo-user')],
  ])('%s: a correctly signed token with that one claim bent', async (scenario, check) => {
    const { body } = await signIn(scenario);
    const { payload, protectedHeader } = await compactVerify(body.id_token, createLocalJWKSet(await proxyKeys()));
    expect(protectedHeader.kid).toBe(proxy.kid);
    const claims = JSON.parse(new TextDecoder().decode(payload));
    check(claims);
    const bent = new Set(['aud', 'iss', 'exp', 'iat', 'nonce', 'azp', 'sub']);
    expect(Object.keys(claims).filter((name) => !bent.has(name)).sort()).toEqual(['at_hash']);
    if (scenario !== 'wrongIssuer') expect(claims.iss).toBe(proxy.issuer);
  });

  it('wrongAudience, expired and missingIat are refused by jose\'s own claim checks', async () => {
    const keys = createLocalJWKSet(await proxyKeys());
    const options = { issuer: proxy.issuer, audience: CLIENT, requiredClaims: ['iat'] };
    await expect(jwtVerify((await signIn('wrongAudience')).body.id_token, keys, options)).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' });
    await expect(jwtVerify((await signIn('expired')).body.id_token, keys, options)).rejects.toThrow(errors.JWTExpired);
    await expect(jwtVerify((await signIn('missingIat')).body.id_token, keys, options)).rejects.toMatchObject({ claim: 'iat' });
  });

  it('badSignature: header and claims as intact, one signature byte changed', async () => {
    const { body } = await signIn('badSignature');
    expect(decodeProtectedHeader(body.id_token)).toMatchObject({ alg: 'RS256', kid: proxy.kid });
    expect(decodeJwt(body.id_token)).toMatchObject({ iss: proxy.issuer, aud: CLIENT, sub: 'demo-user' });
    expect(Buffer.from(body.id_token.split('.')[2], 'base64url')).toHaveLength(256);
    await expect(compactVerify(body.id_token, createLocalJWKSet(await proxyKeys()))).rejects.toThrow(errors.JWSSignatureVerificationFailed);
  });

  it('algNone: an unsecured JWT with the intact claims and an empty signature', async () => {
    const { body } = await signIn('algNone');
    expect(body.id_token).toMatch(/^[\w-]+\.[\w-]+\.$/);
    expect(decodeProtectedHeader(body.id_token)).toEqual({ alg: 'none' });
    expect(UnsecuredJWT.decode(body.id_token, { issuer: proxy.issuer, audience: CLIENT }).payload.sub).toBe('demo-user');
  });

  it('hs256: an HMAC keyed with the proxy\'s public key as PEM text, which a key set cannot verify', async () => {
    const { body } = await signIn('hs256');
    expect(decodeProtectedHeader(body.id_token)).toMatchObject({ alg: 'HS256', kid: proxy.kid });
    const published = (await proxyKeys()).keys.find((key) => key.kid === proxy.kid)!;
    const pem = await exportSPKI((await importJWK(published, 'RS256')) as CryptoKey);
    const confused = await jwtVerify(body.id_token, new TextEncoder().encode(pem), { issuer: proxy.issuer, audience: CLIENT });
    expect(confused.payload.sub).toBe('demo-user');
    await expect(jwtVerify(body.id_token, createLocalJWKSet(await proxyKeys()))).rejects.toThrow();
  });

  it('passes DPoP through: the server checks the proof against the proxy\'s URL and binds the token', async () => {
    const key = await dpopKey();
    const { response, body } = await signIn('intact', proxy, server, () => key.proof(proxy.url('/token')));
    expect(response.status).toBe(200);
    expect(body.token_type).toBe('DPoP');
    expect(await server.introspect(body.access_token)).toMatchObject({ active: true, cnf: { jkt: key.thumbprint } });
  });

  it('bearerForDpop: a DPoP-bound token answered as Bearer, with an intact ID token', async () => {
    const key = await dpopKey();
    const { body } = await signIn('bearerForDpop', proxy, server, () => key.proof(proxy.url('/token')));
    expect(body.token_type).toBe('Bearer');
    expect(await server.introspect(body.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.thumbprint } });
    await jwtVerify(body.id_token, createLocalJWKSet(await proxyKeys()), { issuer: proxy.issuer, audience: CLIENT });
  });

  it('passes the server\'s use_dpop_nonce and DPoP-Nonce through, and the retry with the nonce', async () => {
    const nonceServer = await startDevServer({ dpop: { requireNonce: true } });
    const nonceProxy = await startTamperingProxy(nonceServer.issuer);
    try {
      const key = await dpopKey();
      const { device_code, user_code } = await (await post(nonceProxy.url('/device/auth'), { client_id: CLIENT, scope: 'openid' })).json();
      await nonceServer.approve(user_code);
      const form = { client_id: CLIENT, grant_type: DEVICE_CODE_GRANT, device_code };
      const first = await post(nonceProxy.url('/token'), form, { dpop: await key.proof(nonceProxy.url('/token')) });
      expect(first.status).toBe(400);
      expect(await first.json()).toMatchObject({ error: 'use_dpop_nonce' });
      const nonce = first.headers.get('dpop-nonce')!;
      expect(nonce).toBeTruthy();
      const retry = await post(nonceProxy.url('/token'), form, { dpop: await key.proof(nonceProxy.url('/token'), { nonce }) });
      expect(retry.status).toBe(200);
      expect((await retry.json()).token_type).toBe('DPoP');
      expect(nonceProxy.exchanges.filter((exchange) => exchange.path === '/token').map((exchange) => exchange.status)).toEqual([400, 200]);
    } finally {
      await nonceProxy.close();
      await nonceServer.close();
    }
  });
});

describe('rotateKeys()', () => {
  it('signs with a new kid, published at once, and keeps the earlier key published', async () => {
    const before = proxy.kid;
    const fetches = proxy.jwksFetches;
    const oldKeys = createLocalJWKSet(await proxyKeys());
    const kid = await proxy.rotateKeys();
    expect(kid).not.toBe(before);
    expect(proxy.kid).toBe(kid);
    const { body } = await signIn('intact');
    expect(decodeProtectedHeader(body.id_token).kid).toBe(kid);
    await expect(jwtVerify(body.id_token, oldKeys)).rejects.toThrow(errors.JWKSNoMatchingKey);
    const keys = await proxyKeys();
    expect(keys.keys.map((key) => key.kid)).toEqual(expect.arrayContaining([before, kid]));
    await jwtVerify(body.id_token, createLocalJWKSet(keys), { issuer: proxy.issuer, audience: CLIENT });
    expect(proxy.jwksFetches).toBe(fetches + 2);
  });

  it('publishes the new key only after the fetches it was told to answer without it', async () => {
    const kid = await proxy.rotateKeys({ publishNewKeyAfterFetches: 2 });
    expect(proxy.publishedKids).not.toContain(kid);
    const kidsOf = async () => (await proxyKeys()).keys.map((key) => key.kid);
    expect(await kidsOf()).not.toContain(kid);
    expect(await kidsOf()).not.toContain(kid);
    expect(await kidsOf()).toContain(kid);
    expect(proxy.publishedKids).toContain(kid);
  });

  it('lets a test count a key-set client\'s refetches: one on an unknown kid, which finds nothing while the key is withheld', async () => {
    const remote = createRemoteJWKSet(new URL(metadata.jwks_uri!), { cooldownDuration: 0 });
    const options = { issuer: proxy.issuer, audience: CLIENT };
    const start = proxy.jwksFetches;
    await jwtVerify((await signIn('intact')).body.id_token, remote, options);
    expect(proxy.jwksFetches).toBe(start + 1);
    await proxy.rotateKeys();
    await jwtVerify((await signIn('intact')).body.id_token, remote, options);
    expect(proxy.jwksFetches).toBe(start + 2);
    await proxy.rotateKeys({ publishNewKeyAfterFetches: 1 });
    const withheld = (await signIn('intact')).body.id_token;
    await expect(jwtVerify(withheld, remote, options)).rejects.toThrow(errors.JWKSNoMatchingKey);
    expect(proxy.jwksFetches).toBe(start + 3);
    await jwtVerify(withheld, remote, options);
    expect(proxy.jwksFetches).toBe(start + 4);
  });

  it('switches to another algorithm when asked, and says so in discovery', async () => {
    const kid = await proxy.rotateKeys({ alg: 'ES256' });
    const { body } = await signIn('intact');
    expect(decodeProtectedHeader(body.id_token)).toMatchObject({ alg: 'ES256', kid });
    await jwtVerify(body.id_token, createLocalJWKSet(await proxyKeys()), { issuer: proxy.issuer, audience: CLIENT, algorithms: ['ES256'] });
    const document = await (await fetch(`${proxy.issuer}/.well-known/openid-configuration`)).json();
    expect(document.id_token_signing_alg_values_supported).toEqual(['RS256', 'ES256']);
  });
});

describe('what it records, and close()', () => {
  it('records every request with the status the server gave', async () => {
    const { device_code } = await (await post(proxy.url('/device/auth'), { client_id: CLIENT, scope: 'openid' })).json();
    const start = proxy.exchanges.length;
    await post(proxy.url('/token'), { client_id: CLIENT, grant_type: DEVICE_CODE_GRANT, device_code });
    await fetch(proxy.url('/jwks'));
    expect(proxy.exchanges.slice(start)).toEqual([
      { method: 'POST', path: '/token', status: 400 },
      { method: 'GET', path: '/jwks', status: 200 },
    ]);
  });

  it('stops answering', async () => {
    const other = await startTamperingProxy(server.issuer);
    await other.close();
    await expect(fetch(`${other.issuer}/.well-known/openid-configuration`)).rejects.toThrow();
  });

  it('takes only an http: issuer on an IP address', async () => {
    await expect(startTamperingProxy('http://localhost:1')).rejects.toThrow(/IP address/);
    await expect(startTamperingProxy(`${server.issuer}/tenant`)).rejects.toThrow(/without a path/);
  });
});
