/**
 * The resource server checks DPoP and bearer requests as RFC 9449 §7 and RFC 6750 ask, against tokens a real
 * development server issued and introspects: each check is shown to let a right request through and to refuse the
 * one request that breaks it, with the challenge and the reason a client test will assert on.
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devServer/index.js';
import { type ResourceServer, startResourceServer } from './resourceServer.js';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

interface DpopKey {
  jwk: JWK;
  privateKey: CryptoKey;
  thumbprint: string;
}

let server: DevServer;
let api: ResourceServer;
let key: DpopKey;
let bound: string;
let bearer: string;
beforeAll(async () => {
  server = await startDevServer();
  api = await startResourceServer({ introspect: (token) => server.introspect(token) });
  key = await makeKey();
  const tokenProof = await new SignJWT({ jti: crypto.randomUUID(), htm: 'POST', htu: server.tokenUrl })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk })
    .setIssuedAt()
    .sign(key.privateKey);
  [bound, bearer] = await Promise.all([accessToken(tokenProof), accessToken()]);
});
afterAll(async () => {
  await api.close();
  await server.close();
});

async function makeKey(): Promise<DpopKey> {
  // Extractable, so that one test can put the private key where the public one belongs.
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { jwk, privateKey, thumbprint: await calculateJwkThumbprint(jwk) };
}

/** An access token of the default public client: DPoP-bound when a proof is given. */
async function accessToken(dpop?: string): Promise<string> {
  const form = (values: Record<string, string>) => new URLSearchParams({ client_id: server.clients.public.clientIdentifier, ...values });
  const { device_code, user_code } = await (await fetch(server.deviceAuthorizationUrl, { method: 'POST', body: form({ scope: 'openid' }) })).json();
  await server.approve(user_code);
  const response = await fetch(server.tokenUrl, { method: 'POST', headers: dpop ? { dpop } : {}, body: form({ grant_type: DEVICE_CODE_GRANT, device_code }) });
  const tokens = await response.json();
  expect(tokens.token_type).toBe(dpop ? 'DPoP' : 'Bearer');
  return tokens.access_token;
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

/** A proof for `method url` and `token`, by `key`; `claims` and `header` change or add members (undefined removes one). */
function proof(method: string, url: string, token: string, change: { claims?: Record<string, unknown>; header?: Record<string, unknown>; by?: DpopKey } = {}): Promise<string> {
  const { claims = {}, header = {}, by = key } = change;
  const made = { jti: crypto.randomUUID(), htm: method, htu: url, iat: Math.floor(Date.now() / 1000), ath: ath(token), ...claims };
  const payload = Object.fromEntries(Object.entries(made).filter(([, value]) => value !== undefined));
  return new SignJWT(payload).setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: by.jwk, ...header }).sign(by.privateKey);
}

async function call(url: string, { method = 'GET', authorization, dpop, body }: { method?: string; authorization?: string; dpop?: string; body?: string } = {}) {
  const response = await fetch(url, { method, headers: { ...(authorization ? { authorization } : {}), ...(dpop ? { dpop } : {}) }, ...(body === undefined ? {} : { body }) });
  return { status: response.status, challenge: response.headers.get('www-authenticate'), nonce: response.headers.get('dpop-nonce'), json: await response.json() };
}

describe('DPoP', () => {
  it('serves a bound token with a good proof, for GET and POST, and records it', async () => {
    const get = await call(api.whoamiUrl, { authorization: `DPoP ${bound}`, dpop: await proof('GET', api.whoamiUrl, bound) });
    expect(get).toMatchObject({ status: 200, json: { sub: 'demo-user', method: 'GET', body: '' } });
    const post = await call(api.whoamiUrl, { method: 'POST', authorization: `DPoP ${bound}`, dpop: await proof('POST', api.whoamiUrl, bound), body: '{"channel":7}' });
    expect(post).toMatchObject({ status: 200, json: { sub: 'demo-user', method: 'POST', body: '{"channel":7}' } });
    expect(api.requests.at(-1)).toMatchObject({
      method: 'POST',
      url: '/api/whoami',
      scheme: 'DPoP',
      proofValid: true,
      status: 200,
      refused: undefined,
      proofClaims: { htm: 'POST', htu: api.whoamiUrl },
    });
  });

  it('compares htu without the query', async () => {
    const url = `${api.whoamiUrl}?page=2`;
    expect((await call(url, { authorization: `DPoP ${bound}`, dpop: await proof('GET', api.whoamiUrl, bound) })).status).toBe(200);
    expect(api.requests.at(-1)).toMatchObject({ url: '/api/whoami?page=2', proofValid: true });
  });

  it.each<[string, () => Promise<string>, RegExp]>([
    ['another method', () => proof('POST', api.whoamiUrl, bound), /htm is POST, the request is GET/],
    ['another URL', () => proof('GET', `${api.origin}/api/other`, bound), /htu .* is not/],
    ['an htu that is no URL, with quotes and a line break', () => proof('GET', 'say "hi"\r\nx-injected: 1', bound), /htu say "hi"/],
    ['an iat two minutes old', () => proof('GET', api.whoamiUrl, bound, { claims: { iat: Math.floor(Date.now() / 1000) - 120 } }), /iat .* more than 60 s/],
    ['an iat two minutes ahead', () => proof('GET', api.whoamiUrl, bound, { claims: { iat: Math.floor(Date.now() / 1000) + 120 } }), /iat .* more than 60 s/],
    ['no ath', () => proof('GET', api.whoamiUrl, bound, { claims: { ath: undefined } }), /ath is not the hash/],
    ['the ath of another token', () => proof('GET', api.whoamiUrl, bound, { claims: { ath: ath(bearer) } }), /ath is not the hash/],
    ['no jti', () => proof('GET', api.whoamiUrl, bound, { claims: { jti: undefined } }), /no jti/],
    ['typ JWT', () => proof('GET', api.whoamiUrl, bound, { header: { typ: 'JWT' } }), /does not verify.*typ/],
    ['a private key in its header', async () => proof('GET', api.whoamiUrl, bound, { header: { jwk: await exportJWK(key.privateKey) } }), /does not verify.*public key/],
    [
      'an HMAC signature',
      () =>
        new SignJWT({ jti: crypto.randomUUID(), htm: 'GET', htu: api.whoamiUrl, ath: ath(bound) })
          .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256' })
          .setIssuedAt()
          .sign(new Uint8Array(32)),
      /does not verify/,
    ],
  ])('refuses a proof with %s: invalid_dpop_proof', async (_name, make, reason) => {
    const answer = await call(api.whoamiUrl, { authorization: `DPoP ${bound}`, dpop: await make() });
    expect(answer).toMatchObject({ status: 401, json: { error: 'invalid_dpop_proof' } });
    expect(answer.challenge).toMatch(/^DPoP error="invalid_dpop_proof", error_description="[^"]+", algs="ES256 [^"]+"$/);
    expect(api.requests.at(-1)).toMatchObject({ scheme: 'DPoP', proofValid: false, status: 401 });
    expect(api.requests.at(-1)!.refused).toMatch(reason);
  });

  it('refuses a proof replayed (the same jti)', async () => {
    const once = await proof('GET', api.whoamiUrl, bound);
    expect((await call(api.whoamiUrl, { authorization: `DPoP ${bound}`, dpop: once })).status).toBe(200);
    expect(await call(api.whoamiUrl, { authorization: `DPoP ${bound}`, dpop: once })).toMatchObject({ status: 401, json: { error: 'invalid_dpop_proof' } });
    expect(api.requests.at(-1)!.refused).toMatch(/was used before/);
  });

  it('refuses a good proof by another key than the token is bound to: invalid_token', async () => {
    const other = await makeKey();
    const answer = await call(api.whoamiUrl, { authorization: `DPoP ${bound}`, dpop: await proof('GET', api.whoamiUrl, bound, { by: other }) });
    expect(answer).toMatchObject({ status: 401, json: { error: 'invalid_token' } });
    expect(answer.challenge).toMatch(/^DPoP error="invalid_token"/);
    expect(api.requests.at(-1)).toMatchObject({ proofValid: true, refused: expect.stringMatching(/cnf\.jkt/) });
  });

  it('refuses an unbound token sent with the DPoP scheme, and the DPoP scheme without a proof', async () => {
    const unbound = await call(api.whoamiUrl, { authorization: `DPoP ${bearer}`, dpop: await proof('GET', api.whoamiUrl, bearer) });
    expect(unbound).toMatchObject({ status: 401, json: { error: 'invalid_token' } });
    expect(api.requests.at(-1)!.refused).toBe('the token is not DPoP-bound');
    expect(await call(api.whoamiUrl, { authorization: `DPoP ${bound}` })).toMatchObject({ status: 401, json: { error: 'invalid_request' } });
  });

  it('with requireNonce, answers use_dpop_nonce with a DPoP-Nonce, takes the retry that carries it, and refuses it after rotateNonce()', async () => {
    const strict = await startResourceServer({ introspect: (token) => server.introspect(token), requireNonce: true });
    try {
      const first = await call(strict.whoamiUrl, { authorization: `DPoP ${bound}`, dpop: await proof('GET', strict.whoamiUrl, bound) });
      expect(first).toMatchObject({ status: 401, json: { error: 'use_dpop_nonce' }, nonce: strict.nonce });
      expect(first.challenge).toMatch(/^DPoP error="use_dpop_nonce"/);
      const retry = await call(strict.whoamiUrl, { authorization: `DPoP ${bound}`, dpop: await proof('GET', strict.whoamiUrl, bound, { claims: { nonce: first.nonce } }) });
      expect(retry.status).toBe(200);
      const rotated = strict.rotateNonce();
      const stale = await call(strict.whoamiUrl, { authorization: `DPoP ${bound}`, dpop: await proof('GET', strict.whoamiUrl, bound, { claims: { nonce: first.nonce } }) });
      expect(stale).toMatchObject({ status: 401, json: { error: 'use_dpop_nonce' }, nonce: rotated });
      expect(strict.requests.map((request) => [request.status, request.proofValid, request.refused])).toEqual([
        [401, false, 'the proof has no nonce'],
        [200, true, undefined],
        [401, false, 'the proof has a stale nonce'],
      ]);
    } finally {
      await strict.close();
    }
  });
});

describe('Bearer', () => {
  it('serves an unbound active token', async () => {
    expect(await call(api.whoamiUrl, { authorization: `Bearer ${bearer}` })).toMatchObject({ status: 200, json: { sub: 'demo-user', method: 'GET' } });
    expect(api.requests.at(-1)).toMatchObject({ scheme: 'Bearer', proofValid: undefined, status: 200, refused: undefined });
  });

  it('refuses a DPoP-bound token sent as a bearer token (a downgrade), proof or not', async () => {
    const answer = await call(api.whoamiUrl, { authorization: `Bearer ${bound}` });
    expect(answer).toMatchObject({ status: 401, json: { error: 'invalid_token' } });
    expect(answer.challenge).toMatch(/^Bearer error="invalid_token"/);
    expect(api.requests.at(-1)!.refused).toMatch(/DPoP-bound token sent with the Bearer scheme/);
    expect((await call(api.whoamiUrl, { authorization: `Bearer ${bound}`, dpop: await proof('GET', api.whoamiUrl, bound) })).status).toBe(401);
  });
});

describe('tokens the authorization server does not vouch for', () => {
  it('refuses an unknown or revoked token with invalid_token, in either scheme', async () => {
    const unknown = await call(api.whoamiUrl, { authorization: 'Bearer never-issued' });
    expect(unknown).toMatchObject({ status: 401, challenge: expect.stringMatching(/^Bearer error="invalid_token"/) });
    const revoked = await accessToken();
    await fetch(server.revocationUrl, { method: 'POST', body: new URLSearchParams({ client_id: server.clients.public.clientIdentifier, token: revoked }) });
    expect(await call(api.whoamiUrl, { authorization: `Bearer ${revoked}` })).toMatchObject({ status: 401, json: { error: 'invalid_token' } });
    expect(api.requests.at(-1)!.refused).toBe('the token is not active');
    const dpop = await call(api.whoamiUrl, { authorization: 'DPoP never-issued', dpop: await proof('GET', api.whoamiUrl, 'never-issued') });
    expect(dpop).toMatchObject({ status: 401, challenge: expect.stringMatching(/^DPoP error="invalid_token"/) });
  });

  it('challenges a request without credentials, and answers 404 elsewhere', async () => {
    const bare = await call(api.whoamiUrl);
    expect(bare.status).toBe(401);
    expect(bare.challenge).toMatch(/^Bearer, DPoP algs="ES256 [^"]+"$/);
    expect(api.requests.at(-1)).toMatchObject({ scheme: 'none', refused: 'no DPoP or Bearer credentials' });
    expect((await call(`${api.origin}/api/other`, { authorization: `Bearer ${bearer}` })).status).toBe(404);
  });
});
