/**
 * `authorizedFetch()` against a real authorization server (the development server, oidc-provider) and a resource
 * server that checks bearer tokens and DPoP proofs and asks the authorization server about each token: every promise
 * of its documentation, on the wire. Small loopback servers play the resource servers that redirect or misbehave. The
 * flows run on a simulated clock that jumps to the poll, so no test waits out the 5 s interval.
 */
import { exactClock } from '../helpers/exactClock.js';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { decodeJwt, EmbeddedJWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';
import { generateDpopKeyPair } from '../../src/core/protocol/dpop.js';
import { type DevServer, startDevServer } from '../../src/devServer/server.js';
import { type DeviceFlowOptions, OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { createMemoryTokenStore } from '../../src/flow/tokenStore.js';
import type { FetchFunction } from '../../src/http/sendRequest.js';
import { rejectionOf } from '../helpers/expectError.js';
import { nextSignal, recordSignals } from '../helpers/flowHarness.js';
import { LoopbackServer, type RecordedRequest } from '../helpers/loopbackServer.js';
import { type ResourceServer, startResourceServer } from '../helpers/resourceServer.js';

let server: DevServer;
let api: ResourceServer;
let nonceApi: ResourceServer;
let dpopKeyPair: CryptoKeyPair;
beforeAll(async () => {
  server = await startDevServer();
  const introspect = (token: string) => server.introspect(token);
  [api, nonceApi, dpopKeyPair] = await Promise.all([
    startResourceServer({ introspect }),
    startResourceServer({ introspect, requireNonce: true }),
    generateDpopKeyPair(),
  ]);
});
afterAll(async () => {
  await Promise.all([api.close(), nonceApi.close()]);
  await server.close();
});

/** A call the flow's `fetch` made. */
interface Call {
  url: string;
  method: string;
  headers: Headers;
  body: string;
}

/**
 * The global `fetch`, recording each call: given to the flow, it sees every request the flow sends. While `hold` is
 * set, a call it matches waits for the promise `hold` returns before it goes out.
 */
function recordingFetch(): { fetch: FetchFunction; calls: Call[]; hold: ((call: Call) => Promise<void> | undefined) | null } {
  const recorded = {
    calls: [] as Call[],
    hold: null as ((call: Call) => Promise<void> | undefined) | null,
    fetch: (async (input, init) => {
      const body = init.body;
      const text = body == null ? '' : body instanceof ArrayBuffer ? new TextDecoder().decode(body) : String(body);
      const call = { url: String(input), method: init.method ?? 'GET', headers: new Headers(init.headers), body: text };
      recorded.calls.push(call);
      await recorded.hold?.(call);
      return fetch(input, init);
    }) as FetchFunction,
  };
  return recorded;
}

const isRefresh = (call: Call) => call.url === server.tokenUrl && new URLSearchParams(call.body).get('grant_type') === 'refresh_token';

/** A flow signed in at the development server as its public client: the user approved, the poll brought the tokens. */
async function signedIn(options: DeviceFlowOptions & { scope?: string[] } = {}) {
  const { scope = ['openid', 'offline_access'], ...rest } = options;
  const recorded = recordingFetch();
  const clock = exactClock(Date.now());
  const flow = new OAuth2DeviceAuthorizationFlow({
    authorizationUrl: server.deviceAuthorizationUrl,
    tokenUrl: server.tokenUrl,
    clientIdentifier: server.clients.public.clientIdentifier,
    requestedScopeTokens: scope,
    clock,
    fetch: recorded.fetch,
    ...rest,
  });
  const granted = nextSignal(flow, 'granted');
  const failed = nextSignal(flow, 'requestFailed').then(([error]) => {
    throw error;
  });
  flow.grant();
  const [, userCode] = await nextSignal(flow, 'authorizeWithUserCode');
  await server.approve(userCode);
  clock.set(flow.nextPollAt!.getTime());
  await Promise.race([granted, failed]);
  return { flow, clock, calls: recorded.calls, recorded };
}

/** Holds the flow's refresh requests until the returned `release()`; `started` resolves when the first one is held. */
function holdRefreshes(recorded: ReturnType<typeof recordingFetch>) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const held = new Promise<void>((resolve) => (started = resolve));
  recorded.hold = (call) => {
    if (!isRefresh(call)) return undefined;
    started();
    return released;
  };
  return { held, release };
}

/** How `promise` settled within `ms` real milliseconds: its value, its error, or 'pending'. */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  try {
    return await Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** Ends `token` at the server as the public client would: the access token alone, so that the refresh token still works. */
async function revokeAtServer(token: string, hint: 'access_token' | 'refresh_token' = 'access_token'): Promise<void> {
  const response = await fetch(server.revocationUrl, {
    method: 'POST',
    body: new URLSearchParams({ token, token_type_hint: hint, client_id: server.clients.public.clientIdentifier }),
  });
  expect(response.status).toBe(200);
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

/** The claims of the DPoP proof `request` carried, its signature verified with the key in its header. */
async function proofOf(request: RecordedRequest): Promise<Record<string, unknown>> {
  const proof = request.headers.dpop;
  expect(typeof proof).toBe('string');
  const { payload } = await jwtVerify(proof as string, EmbeddedJWK, { typ: 'dpop+jwt' });
  return payload;
}

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('authorizedFetch() sends the access token', () => {
  it('as Authorization: Bearer, without a DPoP header, for a Bearer token, through the flow’s own fetch', async () => {
    const { flow, calls } = await signedIn();
    expect(flow.tokenType).toBe('Bearer');
    const response = await flow.authorizedFetch(api.whoamiUrl);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sub: 'demo-user', method: 'GET' });
    expect(api.requests.at(-1)).toMatchObject({ scheme: 'Bearer', proofValid: undefined, status: 200 });
    const sent = calls.filter((call) => call.url === api.whoamiUrl);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers.get('authorization')).toBe(`Bearer ${flow.token}`);
    expect(sent[0]!.headers.has('dpop')).toBe(false);
    flow.dispose();
  });

  it('as Authorization: DPoP with a proof carrying ath, htm and htu without the query, for a DPoP-bound token', async () => {
    const { flow, calls } = await signedIn({ dpopKeyPair });
    expect(flow.tokenType).toBe('DPoP');
    const url = `${api.whoamiUrl}?channel=7&lang=en#top`;
    const response = await flow.authorizedFetch(url, { method: 'POST', body: 'hello' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sub: 'demo-user', method: 'POST', body: 'hello' });
    const seen = api.requests.at(-1)!;
    expect(seen).toMatchObject({ scheme: 'DPoP', proofValid: true, status: 200, url: '/api/whoami?channel=7&lang=en' });
    expect(seen.proofClaims).toMatchObject({ htm: 'POST', htu: api.whoamiUrl, ath: ath(flow.token) });
    const sent = calls.filter((call) => call.url.startsWith(api.whoamiUrl));
    expect(sent[0]!.headers.get('authorization')).toBe(`DPoP ${flow.token}`);
    flow.dispose();
  });

  it('answers a resource server’s nonce challenge with one retry carrying its nonce, and uses that nonce from then on', async () => {
    const { flow } = await signedIn({ dpopKeyPair });
    const before = nonceApi.requests.length;
    const response = await flow.authorizedFetch(nonceApi.whoamiUrl);
    expect(response.status).toBe(200);
    const seen = nonceApi.requests.slice(before);
    expect(seen.map((request) => [request.status, request.refused])).toEqual([
      [401, 'the proof has no nonce'],
      [200, undefined],
    ]);
    expect(seen[1]!.proofClaims).toMatchObject({ nonce: nonceApi.nonce, ath: ath(flow.token) });
    // The next call carries the nonce at once.
    expect((await flow.authorizedFetch(nonceApi.whoamiUrl)).status).toBe(200);
    expect(nonceApi.requests.length).toBe(before + 3);
    flow.dispose();
  });

  it('returns the second nonce challenge as it came: one retry, no loop', async () => {
    const { flow } = await signedIn({ dpopKeyPair });
    const stubborn = await LoopbackServer.start();
    let issued = 0;
    stubborn.handle('/api', () => ({
      status: 401,
      headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"', 'dpop-nonce': `nonce-${++issued}` },
      json: { error: 'use_dpop_nonce' },
    }));
    try {
      const response = await flow.authorizedFetch(stubborn.url('/api'));
      expect(response.status).toBe(401);
      expect(response.headers.get('dpop-nonce')).toBe('nonce-2');
      expect(stubborn.requests).toHaveLength(2);
      expect(await proofOf(stubborn.requests[0]!)).not.toHaveProperty('nonce');
      expect(await proofOf(stubborn.requests[1]!)).toMatchObject({ nonce: 'nonce-1' });
    } finally {
      await stubborn.close();
      flow.dispose();
    }
  });
});

describe('authorizedFetch() refreshes once on invalid_token', () => {
  it('refreshes a token the server revoked, retries once, and the flow holds the new token', async () => {
    const { flow, calls } = await signedIn();
    const [revoked, refreshToken] = [flow.token, flow.refreshToken];
    await revokeAtServer(revoked);
    expect(await server.introspect(revoked)).toMatchObject({ active: false });
    expect(await server.introspect(refreshToken)).toMatchObject({ active: true });
    const before = api.requests.length;
    const response = await flow.authorizedFetch(api.whoamiUrl);
    expect(response.status).toBe(200);
    expect(calls.filter(isRefresh)).toHaveLength(1);
    expect(flow.token).not.toBe(revoked);
    expect(await server.introspect(flow.token)).toMatchObject({ active: true });
    expect(api.requests.slice(before).map((request) => [request.status, request.refused])).toEqual([
      [401, 'the token is not active'],
      [200, undefined],
    ]);
    const retry = calls.filter((call) => call.url === api.whoamiUrl).at(-1)!;
    expect(retry.headers.get('authorization')).toBe(`Bearer ${flow.token}`);
    flow.dispose();
  });

  it('retries a DPoP-bound token’s request with a proof for the new token', async () => {
    const { flow, calls } = await signedIn({ dpopKeyPair });
    const revoked = flow.token;
    await revokeAtServer(revoked);
    const before = api.requests.length;
    const response = await flow.authorizedFetch(api.whoamiUrl);
    expect(response.status).toBe(200);
    expect(calls.filter(isRefresh)).toHaveLength(1);
    expect(flow.token).not.toBe(revoked);
    expect(flow.tokenType).toBe('DPoP');
    const seen = api.requests.slice(before);
    expect(seen.map((request) => request.status)).toEqual([401, 200]);
    expect(seen[0]!.proofClaims).toMatchObject({ ath: ath(revoked) });
    expect(seen[1]!.proofClaims).toMatchObject({ ath: ath(flow.token) });
    flow.dispose();
  });

  it('shares one refresh among concurrent calls that all meet invalid_token', async () => {
    const { flow, calls } = await signedIn();
    const revoked = flow.token;
    const recorder = recordSignals(flow);
    await revokeAtServer(revoked);
    const responses = await Promise.all([1, 2, 3, 4].map((channel) => flow.authorizedFetch(`${api.whoamiUrl}?channel=${channel}`)));
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200]);
    expect(calls.filter(isRefresh)).toHaveLength(1);
    expect(recorder.of('granted')).toHaveLength(1);
    expect(flow.token).not.toBe(revoked);
    flow.dispose();
  });

  it('refreshes once, retries once, and returns the second invalid_token as it came', async () => {
    const { flow, calls } = await signedIn();
    const refusing = await LoopbackServer.start();
    refusing.handle('/api', { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' }, json: { error: 'invalid_token' } });
    const first = flow.token;
    try {
      const response = await flow.authorizedFetch(refusing.url('/api'));
      expect(response.status).toBe(401);
      expect(calls.filter(isRefresh)).toHaveLength(1);
      expect(refusing.requests.map((request) => request.headers.authorization)).toEqual([`Bearer ${first}`, `Bearer ${flow.token}`]);
      expect(flow.token).not.toBe(first);
    } finally {
      await refusing.close();
      flow.dispose();
    }
  });

  it('settles when the flow is disposed while the refresh is in flight', async () => {
    const { flow, recorded } = await signedIn();
    await revokeAtServer(flow.token);
    const { held, release } = holdRefreshes(recorded);
    const call = flow.authorizedFetch(api.whoamiUrl);
    await held;
    flow.dispose();
    release();
    const outcome = await settledWithin(call, 500);
    if (outcome === 'pending') throw new Error('authorizedFetch() had not settled 500 ms later');
    // With the refresh abandoned, the 401 comes back, or the call fails as a disposed flow's calls do.
    if ('value' in outcome) expect(outcome.value.status).toBe(401);
    else expect(outcome.error).toMatchObject({ code: 'ClientError' });
  });

  it('settles when revokeTokens() abandons the refresh it waits for', async () => {
    const { flow, recorded } = await signedIn({ revocationUrl: server.revocationUrl });
    await revokeAtServer(flow.token);
    const { held, release } = holdRefreshes(recorded);
    const call = flow.authorizedFetch(api.whoamiUrl);
    await held;
    const revoked = flow.revokeTokens();
    release();
    await revoked;
    const outcome = await settledWithin(call, 500);
    if (outcome === 'pending') throw new Error('authorizedFetch() had not settled 500 ms later');
    if ('value' in outcome) expect(outcome.value.status).toBe(401);
    else expect(outcome.error).toMatchObject({ code: 'ClientError' });
    flow.dispose();
  });

  it('returns the 401 unrefreshed when the flow holds no refresh token', async () => {
    const { flow, calls } = await signedIn({ scope: ['openid'] });
    expect(flow.refreshToken).toBe('');
    const revoked = flow.token;
    await revokeAtServer(revoked);
    const before = api.requests.length;
    const response = await flow.authorizedFetch(api.whoamiUrl);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect(await response.json()).toMatchObject({ error: 'invalid_token' });
    expect(calls.filter((call) => call.url === server.tokenUrl)).toHaveLength(1); // the poll
    expect(api.requests.length).toBe(before + 1);
    expect(flow.token).toBe(revoked);
    flow.dispose();
  });

  it('returns the 401 after one refresh when the refresh fails too, without a retry', async () => {
    const { flow, calls } = await signedIn();
    // Revoking the refresh token ends the whole grant at oidc-provider: the access token with it.
    await revokeAtServer(flow.refreshToken, 'refresh_token');
    const failed = nextSignal(flow, 'requestFailed');
    const before = api.requests.length;
    const response = await flow.authorizedFetch(api.whoamiUrl);
    expect(response.status).toBe(401);
    expect((await failed)[0]).toMatchObject({ code: 'ServerError', error: 'invalid_grant' });
    expect(calls.filter(isRefresh)).toHaveLength(1);
    expect(api.requests.length).toBe(before + 1);
    // A refused refresh token is forgotten, as freshAccessToken() forgets it: the flow needs a new sign-in.
    expect({ token: flow.token, refreshToken: flow.refreshToken, status: flow.status }).toEqual({ token: '', refreshToken: '', status: 'NotAuthenticated' });
    flow.dispose();
  });

  it('with a token store another flow refreshed into, takes its tokens under the lock instead of spending a rotated refresh token', async () => {
    const store = createMemoryTokenStore();
    const first = await signedIn({ tokenStore: store });
    await first.flow.saved();
    // A second process resumes the same sign-in; then the first one refreshes (the refresh token rotates) and saves.
    const recorded = recordingFetch();
    const second = await OAuth2DeviceAuthorizationFlow.load({ clock: exactClock(Date.now()), fetch: recorded.fetch, tokenStore: store });
    const stale = second.token;
    await first.flow.freshAccessToken({ minValidity: 86_400 });
    expect(first.flow.token).not.toBe(stale);
    // The resource server no longer takes the second one's token.
    await revokeAtServer(stale);
    const response = await second.authorizedFetch(api.whoamiUrl);
    expect(response.status).toBe(200);
    expect(recorded.calls.filter(isRefresh)).toHaveLength(0);
    expect(second.token).toBe(first.flow.token);
    expect(await server.introspect(first.flow.token)).toMatchObject({ active: true });
    first.flow.dispose();
    second.dispose();
  });
});

describe('authorizedFetch() sends the same request again', () => {
  /** A resource server that asks for a nonce first, then answers 200. */
  async function nonceFirst() {
    const resource = await LoopbackServer.start();
    resource.queue('/api', { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n-1' }, json: { error: 'use_dpop_nonce' } });
    resource.handle('/api', { json: { ok: true } });
    return resource;
  }

  const bodies: [string, () => BodyInit, string][] = [
    ['a string', () => 'plain text, 😀', 'text/plain;charset=UTF-8'],
    ['URLSearchParams', () => new URLSearchParams({ channel: '7', q: 'a b&c' }), 'application/x-www-form-urlencoded;charset=UTF-8'],
    ['a Uint8Array', () => new Uint8Array([0, 1, 2, 254, 255]), ''],
  ];
  it.each(bodies)('with %s as the body, byte for byte, on the nonce retry', async (_name, body, contentType) => {
    const { flow } = await signedIn({ dpopKeyPair });
    const resource = await nonceFirst();
    try {
      const response = await flow.authorizedFetch(resource.url('/api'), { method: 'PUT', body: body() });
      expect(response.status).toBe(200);
      const [first, retry] = resource.requestsTo('/api');
      expect(retry).toBeDefined();
      const expected = await new Response(body()).text();
      for (const request of [first!, retry!]) {
        expect(request.method).toBe('PUT');
        expect(request.body).toBe(expected);
        expect(request.headers['content-type'] ?? '').toBe(contentType);
      }
    } finally {
      await resource.close();
      flow.dispose();
    }
  });

  it('with a JSON body and its content type, on the retry after a refresh', async () => {
    const { flow } = await signedIn();
    const resource = await LoopbackServer.start();
    resource.queue('/api', { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' }, json: { error: 'invalid_token' } });
    resource.handle('/api', { json: { ok: true } });
    const revoked = flow.token;
    try {
      const json = JSON.stringify({ channel: 7, title: 'Ünïcode' });
      const response = await flow.authorizedFetch(resource.url('/api'), { method: 'POST', body: json, headers: { 'content-type': 'application/json', 'x-trace': 'abc' } });
      expect(response.status).toBe(200);
      const [first, retry] = resource.requestsTo('/api');
      for (const request of [first!, retry!]) {
        expect(request).toMatchObject({ method: 'POST', body: json });
        expect(request.headers).toMatchObject({ 'content-type': 'application/json', 'x-trace': 'abc' });
      }
      expect(first!.headers.authorization).toBe(`Bearer ${revoked}`);
      expect(retry!.headers.authorization).toBe(`Bearer ${flow.token}`);
      expect(flow.token).not.toBe(revoked);
    } finally {
      await resource.close();
      flow.dispose();
    }
  });

  it('with a stream as the body', async () => {
    const { flow } = await signedIn({ dpopKeyPair });
    const resource = await nonceFirst();
    try {
      const stream = new Blob(['streamed ', 'body']).stream();
      const response = await flow.authorizedFetch(resource.url('/api'), { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
      expect(response.status).toBe(200);
      expect(resource.requestsTo('/api').map((request) => request.body)).toEqual(['streamed body', 'streamed body']);
    } finally {
      await resource.close();
      flow.dispose();
    }
  });

  it('given as a Request object, with its method, headers and body', async () => {
    const { flow } = await signedIn({ dpopKeyPair });
    const request = new Request(`${nonceApi.whoamiUrl}?x=1`, { method: 'POST', body: 'from a Request', headers: { 'x-app': 'tv' } });
    const before = nonceApi.requests.length;
    const response = await flow.authorizedFetch(request);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ method: 'POST', body: 'from a Request' });
    // The flow has not met this server's nonce yet: the body went twice.
    expect(nonceApi.requests.length - before).toBe(2);
    expect(nonceApi.requests.at(-1)!.proofClaims).toMatchObject({ htm: 'POST', htu: nonceApi.whoamiUrl });
    flow.dispose();
  });
});

describe('authorizedFetch() refuses', () => {
  it('without an access token: ClientError, and nothing is sent', async () => {
    const { fetch, calls } = recordingFetch();
    const flow = new OAuth2DeviceAuthorizationFlow({ fetch });
    const error = await rejectionOf(flow.authorizedFetch(api.whoamiUrl));
    expect(error.code).toBe('ClientError');
    expect(error.message).toMatch(/access token/);
    expect(calls).toHaveLength(0);
    flow.dispose();
  });

  it('a plain-http URL to another machine: ClientError before anything is sent', async () => {
    const { flow, calls } = await signedIn();
    const sentBefore = calls.length;
    for (const url of ['http://192.0.2.1/api', 'http://[2001:db8::1]/api', 'http://example.com/api']) {
      const error = await rejectionOf(flow.authorizedFetch(url));
      expect(error.code).toBe('ClientError');
      expect(error.message).toMatch(/not https/);
      expect(error.message).not.toContain(flow.token);
    }
    expect(calls.length).toBe(sentBefore);
    flow.dispose();
  });

  it('a URL with a user name or password: ClientError, which does not quote them, and nothing is sent', async () => {
    const { flow, calls } = await signedIn();
    const sentBefore = calls.length;
    const withUserinfo = api.whoamiUrl.replace('http://', 'http://alice:pa55word-secret@');
    for (const input of [withUserinfo, new URL(withUserinfo)]) {
      const error = await rejectionOf(flow.authorizedFetch(input));
      expect(error.code).toBe('ClientError');
      expect(error.message).not.toContain('pa55word-secret');
    }
    expect(calls.length).toBe(sentBefore);
    flow.dispose();
  });

  it('a relative URL or another scheme: ClientError', async () => {
    const { flow, calls } = await signedIn();
    const sentBefore = calls.length;
    for (const url of ['/api/whoami', 'file:///etc/passwd', 'ftp://127.0.0.1/x']) {
      expect((await rejectionOf(flow.authorizedFetch(url))).code).toBe('ClientError');
    }
    expect(calls.length).toBe(sentBefore);
    flow.dispose();
  });

  it('a token that cannot travel in a header: ClientError that does not quote it, and nothing is sent', async () => {
    const { fetch, calls } = recordingFetch();
    for (const token of ['token-secret-with\nnewline', 'token-secret-with\u0000nul', 'token-secret-\u4e00-wide']) {
      const flow = new OAuth2DeviceAuthorizationFlow({ fetch, token });
      const error = await rejectionOf(flow.authorizedFetch(api.whoamiUrl));
      expect(error.code).toBe('ClientError');
      expect(`${error.message} ${error.stack}`).not.toMatch(/token-secret/);
      flow.dispose();
    }
    expect(calls).toHaveLength(0);
  });

  it('a DPoP-bound token without a key to prove it: ClientError, and nothing is sent', async () => {
    const { fetch, calls } = recordingFetch();
    const flow = new OAuth2DeviceAuthorizationFlow({ fetch, token: 'bound-token-secret', tokenType: 'DPoP' });
    const error = await rejectionOf(flow.authorizedFetch(api.whoamiUrl));
    expect(error.code).toBe('ClientError');
    expect(error.message).toMatch(/dpopKeyPair/);
    expect(error.message).not.toContain('bound-token-secret');
    expect(calls).toHaveLength(0);
    flow.dispose();
  });

  it('after dispose(): ClientError', async () => {
    const { flow, calls } = await signedIn();
    const sentBefore = calls.length;
    flow.dispose();
    const error = await rejectionOf(Promise.resolve().then(() => flow.authorizedFetch(api.whoamiUrl)));
    expect(error.code).toBe('ClientError');
    expect(error.message).toMatch(/disposed/);
    expect(calls.length).toBe(sentBefore);
  });

  it('passes on what fetch throws when the server cannot be reached, without the token in it', async () => {
    const { flow } = await signedIn({ dpopKeyPair });
    const port = await closedPort();
    const error = await flow.authorizedFetch(`http://127.0.0.1:${port}/api`).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).not.toContain(flow.token);
    flow.dispose();
  });
});

describe('authorizedFetch() and redirects', () => {
  let resource: LoopbackServer;
  let elsewhere: LoopbackServer;
  beforeAll(async () => {
    [resource, elsewhere] = await Promise.all([LoopbackServer.start(), LoopbackServer.start()]);
    resource.handle('/final', (request) => ({ json: { method: request.method, body: request.body } }));
    resource.handle('/302', { status: 302, headers: { location: '/final?from=302' } });
    resource.handle('/307', { status: 307, headers: { location: '/final?from=307' } });
    resource.handle('/303', { status: 303, headers: { location: '/final?from=303' } });
    resource.handle('/loop', { status: 307, headers: { location: '/loop' } });
    resource.handle('/away', () => ({ status: 302, headers: { location: elsewhere.url('/stolen') } }));
    resource.handle('/away-307', () => ({ status: 307, headers: { location: elsewhere.url('/stolen') } }));
    resource.handle('/userinfo', () => ({ status: 307, headers: { location: resource.url('/final').replace('http://', 'http://eve:secret@') } }));
    elsewhere.handle('/stolen', { json: { stolen: true } });
  });
  afterAll(async () => {
    await Promise.all([resource.close(), elsewhere.close()]);
  });

  /** The requests the loopback resource server received after the first `count`. */
  const since = (count: number) => resource.requests.slice(count);

  it('follows a same-origin 302 with a fresh proof for the new URL', async () => {
    const { flow } = await signedIn({ dpopKeyPair });
    const before = resource.requests.length;
    const response = await flow.authorizedFetch(resource.url('/302'));
    expect(response.status).toBe(200);
    const [first, second] = since(before);
    expect(second).toMatchObject({ path: '/final', method: 'GET' });
    expect(second!.headers.authorization).toBe(`DPoP ${flow.token}`);
    const [proof1, proof2] = [await proofOf(first!), await proofOf(second!)];
    expect(proof1).toMatchObject({ htm: 'GET', htu: resource.url('/302'), ath: ath(flow.token) });
    expect(proof2).toMatchObject({ htm: 'GET', htu: resource.url('/final'), ath: ath(flow.token) });
    expect(proof2.jti).not.toBe(proof1.jti);
    flow.dispose();
  });

  const methods: [number, string, string][] = [
    [301, 'POST', 'GET'],
    [302, 'POST', 'GET'],
    [302, 'PUT', 'PUT'],
    [303, 'PUT', 'GET'],
    [303, 'HEAD', 'HEAD'],
    [307, 'PUT', 'PUT'],
    [308, 'POST', 'POST'],
  ];
  it.each(methods)('after a %i, a %s continues as a %s, with a proof for that method', async (status, method, expected) => {
    const { flow } = await signedIn({ dpopKeyPair });
    resource.queue('/status', { status, headers: { location: '/final' } });
    const before = resource.requests.length;
    const response = await flow.authorizedFetch(resource.url('/status'), { method, ...(method === 'HEAD' ? {} : { body: 'payload' }) });
    expect(response.status).toBe(200);
    const second = since(before)[1]!;
    expect(second).toMatchObject({ path: '/final', method: expected, body: expected === method ? (method === 'HEAD' ? '' : 'payload') : '' });
    expect(await proofOf(second)).toMatchObject({ htm: expected, htu: resource.url('/final') });
    flow.dispose();
  });

  it('answers a nonce challenge again after a redirect, once per URL', async () => {
    const { flow } = await signedIn({ dpopKeyPair });
    const challenge = (nonce: string) => ({ status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': nonce }, json: { error: 'use_dpop_nonce' } });
    resource.queue('/hop', challenge('n-1'), { status: 307, headers: { location: '/hop-final' } });
    resource.queue('/hop-final', challenge('n-2'), { json: { ok: true } });
    const before = resource.requests.length;
    const response = await flow.authorizedFetch(resource.url('/hop'));
    expect(response.status).toBe(200);
    const seen = since(before);
    expect(seen.map((request) => request.path)).toEqual(['/hop', '/hop', '/hop-final', '/hop-final']);
    expect(await Promise.all(seen.map(async (request) => (await proofOf(request)).nonce))).toEqual([undefined, 'n-1', 'n-1', 'n-2']);
    flow.dispose();
  });

  it('keeps the method and the body through a 307', async () => {
    const { flow } = await signedIn({ dpopKeyPair });
    const before = resource.requests.length;
    const response = await flow.authorizedFetch(resource.url('/307'), { method: 'POST', body: JSON.stringify({ a: 1 }), headers: { 'content-type': 'application/json' } });
    expect(await response.json()).toEqual({ method: 'POST', body: '{"a":1}' });
    const second = since(before)[1]!;
    expect(second.headers['content-type']).toBe('application/json');
    expect(await proofOf(second)).toMatchObject({ htm: 'POST', htu: resource.url('/final') });
    flow.dispose();
  });

  it('turns a POST into a GET without body through a 303', async () => {
    const { flow } = await signedIn();
    const before = resource.requests.length;
    const response = await flow.authorizedFetch(resource.url('/303'), { method: 'POST', body: 'form=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(await response.json()).toEqual({ method: 'GET', body: '' });
    const second = since(before)[1]!;
    expect(second.headers['content-type']).toBeUndefined();
    expect(second.headers.authorization).toBe(`Bearer ${flow.token}`);
    flow.dispose();
  });

  it('returns a redirect to another origin unfollowed, and that origin gets nothing', async () => {
    const { flow } = await signedIn();
    for (const path of ['/away', '/away-307']) {
      const response = await flow.authorizedFetch(resource.url(path));
      expect(response.status).toBe(path === '/away' ? 302 : 307);
      expect(response.headers.get('location')).toBe(elsewhere.url('/stolen'));
    }
    expect(elsewhere.requests).toHaveLength(0);
    flow.dispose();
  });

  it('returns a redirect to the same origin with a user name and password unfollowed', async () => {
    const { flow } = await signedIn();
    const before = resource.requests.length;
    const response = await flow.authorizedFetch(resource.url('/userinfo'));
    expect(response.status).toBe(307);
    expect(since(before).map((request) => request.path)).toEqual(['/userinfo']);
    flow.dispose();
  });

  it('stops following a redirect loop and returns the last redirect', async () => {
    const { flow } = await signedIn();
    const before = resource.requests.length;
    const response = await flow.authorizedFetch(resource.url('/loop'));
    expect(response.status).toBe(307);
    expect(since(before).length).toBe(6);
    flow.dispose();
  });
});
