/**
 * `revokeTokens()` against a real authorization server (the development server, oidc-provider), whose introspection
 * says whether a token still works, and against small loopback servers that refuse, fail, hang or echo the tokens.
 * The flows run on a simulated clock that jumps to the poll, so no test waits out the 5 s interval.
 */
import { exactClock } from '../helpers/exactClock.js';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';
import { generateDpopKeyPair } from '../../src/core/protocol/dpop.js';
import { type DevServer, startDevServer } from '../../src/devServer/server.js';
import { type DeviceFlowOptions, OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import type { FetchFunction } from '../../src/http/sendRequest.js';
import { rejectionOf } from '../helpers/expectError.js';
import { nextSignal, recordSignals } from '../helpers/flowHarness.js';
import { LoopbackServer, type RecordedRequest } from '../helpers/loopbackServer.js';

let server: DevServer;
/** Forwards `/token/revocation` to the development server, and records what it forwarded. */
let proxy: LoopbackServer;
beforeAll(async () => {
  server = await startDevServer();
  proxy = await LoopbackServer.start();
  proxy.handle('/token/revocation', async (request) => {
    const response = await fetch(server.revocationUrl, {
      method: 'POST',
      headers: Object.fromEntries(Object.entries(request.headers).filter(([name]) => ['authorization', 'content-type', 'accept'].includes(name)) as [string, string][]),
      body: request.body,
    });
    return { status: response.status, headers: { 'content-type': response.headers.get('content-type') ?? 'text/plain' }, body: await response.text() };
  });
});
afterAll(async () => {
  await proxy.close();
  await server.close();
});

/** A call the flow's `fetch` made. */
interface Call {
  url: string;
  body: string;
}

/** A flow signed in at the development server (an ID token validated, a refresh token), its `fetch` recording every call. */
async function signedIn(options: DeviceFlowOptions = {}) {
  const calls: Call[] = [];
  const recording: FetchFunction = (input, init) => {
    calls.push({ url: String(input), body: String(init.body ?? '') });
    return fetch(input, init);
  };
  const clock = exactClock(Date.now());
  const flow = new OAuth2DeviceAuthorizationFlow({
    authorizationUrl: server.deviceAuthorizationUrl,
    tokenUrl: server.tokenUrl,
    revocationUrl: server.revocationUrl,
    issuer: server.issuer,
    jwksUrl: `${server.issuer}/jwks`,
    clientIdentifier: server.clients.public.clientIdentifier,
    requestedScopeTokens: ['openid', 'offline_access'],
    clock,
    fetch: recording,
    ...options,
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
  const tokens = { accessToken: flow.token, refreshToken: flow.refreshToken, idToken: flow.idToken };
  expect(tokens.refreshToken).not.toBe('');
  expect(flow.idTokenClaims).not.toBeNull();
  return { flow, clock, calls, tokens };
}

/** Whether the server still takes each token. */
async function activeAtServer(tokens: { accessToken: string; refreshToken: string }) {
  const [access, refresh] = await Promise.all([server.introspect(tokens.accessToken), server.introspect(tokens.refreshToken)]);
  return { access: access.active, refresh: refresh.active };
}

/** The token properties of a flow that holds none. */
const NO_TOKENS = {
  token: '',
  refreshToken: '',
  idToken: '',
  idTokenClaims: null,
  tokenType: '',
  expirationAt: null,
  grantedScopeTokens: [],
};

function tokenProperties(flow: OAuth2DeviceAuthorizationFlow) {
  const { token, refreshToken, idToken, idTokenClaims, tokenType, expirationAt, grantedScopeTokens } = flow;
  return { token, refreshToken, idToken, idTokenClaims, tokenType, expirationAt, grantedScopeTokens };
}

const isRevocation = (call: Call) => new URLSearchParams(call.body).has('token');

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A revocation endpoint on a loopback server of its own, answering every request with `handler`. */
async function revocationEndpoint(handler: Parameters<LoopbackServer['handle']>[1]) {
  const endpoint = await LoopbackServer.start();
  endpoint.handle('/revoke', handler);
  return { endpoint, url: endpoint.url('/revoke') };
}

/** The text of an error in every form it can be seen in: message, stack, JSON, its data, and its cause's. */
function everythingIn(error: DeviceFlowError): string {
  const cause = error.cause as Error | undefined;
  return [error.message, error.stack, JSON.stringify(error), JSON.stringify(error.toData()), String(error), cause?.message, cause?.stack].join('\n');
}

describe('revokeTokens() against the server', () => {
  it('revokes the refresh token, then the access token, and forgets every token with its signal, then revoked(null)', async () => {
    const { flow, tokens } = await signedIn({ revocationUrl: proxy.url('/token/revocation') });
    expect(await activeAtServer(tokens)).toEqual({ access: true, refresh: true });
    const recorder = recordSignals(flow);
    const before = proxy.requests.length;
    await expect(flow.revokeTokens()).resolves.toBeUndefined();

    expect(await activeAtServer(tokens)).toEqual({ access: false, refresh: false });
    const sent = proxy.requests.slice(before).map((request) => Object.fromEntries(request.params));
    expect(sent).toEqual([
      { token: tokens.refreshToken, token_type_hint: 'refresh_token', client_id: server.clients.public.clientIdentifier },
      { token: tokens.accessToken, token_type_hint: 'access_token', client_id: server.clients.public.clientIdentifier },
    ]);

    expect(tokenProperties(flow)).toEqual(NO_TOKENS);
    expect(flow.status).toBe('NotAuthenticated');
    expect(flow.actor.getSnapshot().value).toBe('idle');
    const names = recorder.names();
    expect(names.at(-1)).toBe('revoked');
    expect(recorder.of('revoked')).toEqual([[null]]);
    for (const name of ['token', 'refreshToken', 'idToken', 'idTokenClaims', 'tokenType', 'expirationAt', 'grantedScopeTokens', 'status']) {
      expect(names.filter((signal) => signal === `${name}Changed`), name).toHaveLength(1);
    }
    expect(recorder.of('tokenChanged')).toEqual([['']]);
    expect(recorder.of('statusChanged')).toEqual([['NotAuthenticated']]);
    expect(recorder.of('requestFailed')).toEqual([]);
    flow.dispose();
  });

  it('revokes with the token endpoint’s client authentication (client_secret_basic)', async () => {
    const client = server.clients.secretBasic;
    const { flow, tokens } = await signedIn({
      clientIdentifier: client.clientIdentifier,
      clientIdentifierSharedKey: client.clientSecret,
      clientAuthentication: client.clientAuthentication,
      revocationUrl: proxy.url('/token/revocation'),
    });
    const before = proxy.requests.length;
    await flow.revokeTokens();
    expect(await activeAtServer(tokens)).toEqual({ access: false, refresh: false });
    const sent = proxy.requests.slice(before);
    expect(sent).toHaveLength(2);
    for (const request of sent) {
      expect(request.headers.authorization).toMatch(/^Basic /);
      expect(request.params.has('client_secret')).toBe(false);
    }
    flow.dispose();
  });

  it('revokes DPoP-bound tokens too', async () => {
    const { flow, tokens } = await signedIn({ dpopKeyPair: await generateDpopKeyPair() });
    expect(flow.tokenType).toBe('DPoP');
    expect(await server.introspect(tokens.accessToken)).toHaveProperty('cnf.jkt');
    await expect(flow.revokeTokens()).resolves.toBeUndefined();
    expect(await activeAtServer(tokens)).toEqual({ access: false, refresh: false });
    expect(tokenProperties(flow)).toEqual(NO_TOKENS);
    flow.dispose();
  });

  // Known bug, reported: REVOKE in verifyingIdToken finds no token in the properties (they wait in receivedTokens), so
  // it resolves as if there were none, while the server's access and refresh tokens stay valid. Remove `.fails` once
  // the tokens under validation are revoked too.
  it('revokes the tokens of a grant whose ID token is still being validated', async () => {
    let issued: { access_token: string; refresh_token: string } | undefined;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let validating!: () => void;
    const keySetRequested = new Promise<void>((resolve) => (validating = resolve));
    const clock = exactClock(Date.now());
    const flow = new OAuth2DeviceAuthorizationFlow({
      authorizationUrl: server.deviceAuthorizationUrl,
      tokenUrl: server.tokenUrl,
      revocationUrl: server.revocationUrl,
      issuer: server.issuer,
      jwksUrl: `${server.issuer}/jwks`,
      clientIdentifier: server.clients.public.clientIdentifier,
      requestedScopeTokens: ['openid', 'offline_access'],
      clock,
      // The key set is held back, so that the tokens wait in verifyingIdToken; the poll's answer is read on the side.
      fetch: async (input, init) => {
        if (String(input).endsWith('/jwks')) {
          validating();
          await released;
        }
        const response = await fetch(input, init);
        if (String(input) === server.tokenUrl && response.status === 200) issued = await response.clone().json();
        return response;
      },
    });
    try {
      flow.grant();
      const [, userCode] = await nextSignal(flow, 'authorizeWithUserCode');
      await server.approve(userCode);
      clock.set(flow.nextPollAt!.getTime());
      await keySetRequested;
      expect(flow.actor.getSnapshot().value).toBe('verifyingIdToken');
      await flow.revokeTokens();
      expect(await activeAtServer({ accessToken: issued!.access_token, refreshToken: issued!.refresh_token })).toEqual({ access: false, refresh: false });
    } finally {
      release();
      flow.dispose();
    }
  });

  it('resolves at once, sending nothing, when the flow holds no token', async () => {
    const calls: string[] = [];
    const flow = new OAuth2DeviceAuthorizationFlow({
      revocationUrl: proxy.url('/token/revocation'),
      fetch: (input, init) => {
        calls.push(String(input));
        return fetch(input, init);
      },
    });
    const recorder = recordSignals(flow);
    const outcome = flow.revokeTokens();
    // Settled within the call: the `revoked` signal came before revokeTokens() returned.
    expect(recorder.of('revoked')).toEqual([[null]]);
    await expect(outcome).resolves.toBeUndefined();
    expect(calls).toEqual([]);
    flow.dispose();
  });

  it('stops polling when called while polling, and no poll goes out afterwards', async () => {
    const { flow, clock, calls, tokens } = await signedIn();
    // A new authorization while the old tokens are still held: grant() keeps them.
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    expect(flow.polling).toBe(true);
    const nextPollAt = flow.nextPollAt!.getTime();
    await flow.revokeTokens();
    expect(flow.polling).toBe(false);
    expect(flow.nextPollAt).toBeNull();
    expect(flow.userCode).toBe('');
    expect(flow.actor.getSnapshot().value).toBe('idle');
    expect(await activeAtServer(tokens)).toEqual({ access: false, refresh: false });
    const sentBefore = calls.length;
    clock.increment(nextPollAt - clock.now() + 60_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls.length).toBe(sentBefore);
    flow.dispose();
  });

  it('stops polling and resolves without a request when no token was held yet', async () => {
    const calls: Call[] = [];
    const clock = exactClock(Date.now());
    const flow = new OAuth2DeviceAuthorizationFlow({
      authorizationUrl: server.deviceAuthorizationUrl,
      tokenUrl: server.tokenUrl,
      revocationUrl: server.revocationUrl,
      clientIdentifier: server.clients.public.clientIdentifier,
      clock,
      fetch: (input, init) => {
        calls.push({ url: String(input), body: String(init.body ?? '') });
        return fetch(input, init);
      },
    });
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    const sentBefore = calls.length;
    await flow.revokeTokens();
    expect(flow.polling).toBe(false);
    expect(flow.actor.getSnapshot().value).toBe('idle');
    clock.increment(60_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls.length).toBe(sentBefore);
    flow.dispose();
  });
});

describe('revokeTokens() forgets the tokens whatever the server says', () => {
  it('without a revocation URL: rejects with ClientError, sends nothing, forgets the tokens', async () => {
    const { flow, calls } = await signedIn({ revocationUrl: null });
    const recorder = recordSignals(flow);
    const sentBefore = calls.length;
    const error = await rejectionOf(flow.revokeTokens());
    expect(error.code).toBe('ClientError');
    expect(error.message).toMatch(/revocation URL/);
    expect(calls.length).toBe(sentBefore);
    expect(tokenProperties(flow)).toEqual(NO_TOKENS);
    expect(recorder.names().at(-1)).toBe('revoked');
    expect(recorder.of('revoked')[0]![0]).toBe(error);
    flow.dispose();
  });

  it('a plain-http revocation URL to another machine: rejects with ClientError, sends nothing, forgets the tokens', async () => {
    const { flow, calls } = await signedIn();
    flow.revocationUrl = 'http://192.0.2.1/revoke';
    const sentBefore = calls.length;
    const error = await rejectionOf(flow.revokeTokens());
    expect(error.code).toBe('ClientError');
    expect(calls.length).toBe(sentBefore);
    expect(tokenProperties(flow)).toEqual(NO_TOKENS);
    flow.dispose();
  });

  it('400 unsupported_token_type: rejects with ServerError carrying it, forgets the tokens', async () => {
    const { endpoint, url } = await revocationEndpoint({ status: 400, json: { error: 'unsupported_token_type', error_description: 'refresh tokens are forever' } });
    try {
      const { flow, tokens } = await signedIn({ revocationUrl: url });
      const error = await rejectionOf(flow.revokeTokens());
      expect(error).toMatchObject({ code: 'ServerError', error: 'unsupported_token_type', errorDescription: 'refresh tokens are forever' });
      expect(tokenProperties(flow)).toEqual(NO_TOKENS);
      // A refusal of one token leaves the other worth revoking: both were tried, refresh token first; the first
      // refusal is the one reported.
      expect(endpoint.requests.map((request) => request.params.get('token'))).toEqual([tokens.refreshToken, tokens.accessToken]);
      flow.dispose();
    } finally {
      await endpoint.close();
    }
  });

  it('503: rejects with ServerError, forgets the tokens', async () => {
    const { endpoint, url } = await revocationEndpoint({ status: 503, headers: { 'retry-after': '30' }, body: '<h1>Service Unavailable</h1>' });
    try {
      const { flow } = await signedIn({ revocationUrl: url });
      const error = await rejectionOf(flow.revokeTokens());
      expect(error).toMatchObject({ code: 'ServerError', status: 503 });
      expect(tokenProperties(flow)).toEqual(NO_TOKENS);
      flow.dispose();
    } finally {
      await endpoint.close();
    }
  });

  it('a server that closes the connection: rejects with NetworkError, forgets the tokens', async () => {
    const { endpoint, url } = await revocationEndpoint((_request, response) => {
      response.socket?.destroy();
      return 'handled';
    });
    try {
      const { flow } = await signedIn({ revocationUrl: url });
      const error = await rejectionOf(flow.revokeTokens());
      expect(error.code).toBe('NetworkError');
      expect(tokenProperties(flow)).toEqual(NO_TOKENS);
      flow.dispose();
    } finally {
      await endpoint.close();
    }
  });

  it('an unreachable server: rejects with NetworkError, forgets the tokens', async () => {
    const { flow } = await signedIn({ revocationUrl: `http://127.0.0.1:${await closedPort()}/revoke` });
    const error = await rejectionOf(flow.revokeTokens());
    expect(error.code).toBe('NetworkError');
    expect(tokenProperties(flow)).toEqual(NO_TOKENS);
    flow.dispose();
  });

  const successes: [string, Parameters<LoopbackServer['handle']>[1]][] = [
    ['an empty body', { status: 200, body: '' }],
    ['an HTML body', { status: 200, headers: { 'content-type': 'text/html' }, body: '<p>bye</p>' }],
    ['a broken JSON body', { status: 200, headers: { 'content-type': 'application/json' }, body: '{"revoked":' }],
  ];
  it.each(successes)('200 with %s is success (RFC 7009 §2.2), and both tokens are sent', async (_name, reply) => {
    const { endpoint, url } = await revocationEndpoint(reply);
    try {
      const { flow, tokens } = await signedIn({ revocationUrl: url });
      await expect(flow.revokeTokens()).resolves.toBeUndefined();
      expect(endpoint.requests.map((request) => request.params.get('token'))).toEqual([tokens.refreshToken, tokens.accessToken]);
      expect(tokenProperties(flow)).toEqual(NO_TOKENS);
      flow.dispose();
    } finally {
      await endpoint.close();
    }
  });
});

describe('revokeTokens() keeps the tokens out of its errors', () => {
  const echoes: [string, (request: RecordedRequest) => { status: number; json?: unknown; body?: string; headers?: Record<string, string> }][] = [
    ['error_description', (request) => ({ status: 400, json: { error: 'invalid_request', error_description: `we do not know ${request.params.get('token')}` } })],
    ['error', (request) => ({ status: 400, json: { error: request.params.get('token') } })],
    ['error_uri', (request) => ({ status: 400, json: { error: 'invalid_token', error_uri: `https://example.com/help?token=${encodeURIComponent(request.params.get('token')!)}` } })],
    // Long enough for the message to cut it short, in the middle of the token.
    ['a long error_description', (request) => ({ status: 400, json: { error: 'invalid_request', error_description: `${'.'.repeat(290)}${request.params.get('token')}` } })],
    ['a 500 page', (request) => ({ status: 500, headers: { 'content-type': 'text/html' }, body: `<pre>${request.body}</pre>` })],
    ['a 401 with an echoed form', (request) => ({ status: 401, json: { error: 'invalid_client', error_description: `form: ${request.body}` } })],
  ];
  it.each(echoes)('when the server echoes them in %s', async (_name, reply) => {
    const { endpoint, url } = await revocationEndpoint(reply);
    try {
      const { flow, tokens } = await signedIn({ revocationUrl: url });
      const error = await rejectionOf(flow.revokeTokens());
      const text = everythingIn(error);
      for (const secret of Object.values(tokens)) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(encodeURIComponent(secret));
      }
      // Nor a piece of one, where a message shortened the server's text.
      for (const secret of [tokens.accessToken, tokens.refreshToken]) expect(text).not.toContain(secret.slice(0, 8));
      flow.dispose();
    } finally {
      await endpoint.close();
    }
  });

  it('nor the client secret, when the server echoes the Authorization header', async () => {
    const client = server.clients.secretBasic;
    const { endpoint, url } = await revocationEndpoint((request) => ({
      status: 401,
      json: { error: 'invalid_client', error_description: `no client for ${request.headers.authorization} (${Buffer.from(request.headers.authorization!.slice(6), 'base64').toString()})` },
    }));
    try {
      const { flow, tokens } = await signedIn({
        clientIdentifier: client.clientIdentifier,
        clientIdentifierSharedKey: client.clientSecret,
        clientAuthentication: client.clientAuthentication,
        revocationUrl: url,
      });
      const error = await rejectionOf(flow.revokeTokens());
      expect(error).toMatchObject({ code: 'ServerError', error: 'invalid_client' });
      const text = everythingIn(error);
      for (const secret of [client.clientSecret, endpoint.requests[0]!.headers.authorization!.slice(6), ...Object.values(tokens)]) expect(text).not.toContain(secret);
      flow.dispose();
    } finally {
      await endpoint.close();
    }
  });
});

describe('revokeTokens() while revoking', () => {
  /** A revocation endpoint that answers only when `release()` is called, with `reply`. */
  async function heldEndpoint(reply: { status: number; json?: unknown }) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { endpoint, url } = await revocationEndpoint(async () => {
      await released;
      return reply;
    });
    return { endpoint, url, release, arrived: endpoint.nextRequest('/revoke') };
  }

  it('a second call shares the first one’s outcome and sends nothing more: success', async () => {
    const { flow, tokens } = await signedIn({ revocationUrl: proxy.url('/token/revocation') });
    const before = proxy.requests.length;
    const first = flow.revokeTokens();
    const second = flow.revokeTokens();
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
    expect(proxy.requests.length - before).toBe(2);
    expect(await activeAtServer(tokens)).toEqual({ access: false, refresh: false });
    flow.dispose();
  });

  it('a second call shares the first one’s outcome and sends nothing more: refusal', async () => {
    const held = await heldEndpoint({ status: 400, json: { error: 'invalid_request' } });
    try {
      const { flow } = await signedIn({ revocationUrl: held.url });
      const first = rejectionOf(flow.revokeTokens());
      await held.arrived;
      const second = rejectionOf(flow.revokeTokens());
      held.release();
      const [a, b] = await Promise.all([first, second]);
      expect(a).toMatchObject({ code: 'ServerError', error: 'invalid_request' });
      expect(b).toBe(a);
      // One revocation: its refresh token and its access token, nothing for the second call.
      expect(held.endpoint.requests.map((request) => request.params.get('token_type_hint'))).toEqual(['refresh_token', 'access_token']);
      flow.dispose();
    } finally {
      await held.endpoint.close();
    }
  });

  it('grant() is refused with requestFailed(ClientError), and the revocation completes', async () => {
    const held = await heldEndpoint({ status: 200 });
    try {
      const { flow } = await signedIn({ revocationUrl: held.url });
      const outcome = flow.revokeTokens();
      await held.arrived;
      const failed = nextSignal(flow, 'requestFailed');
      flow.grant();
      const [error] = await failed;
      expect(error).toMatchObject({ code: 'ClientError' });
      expect(error.message).toMatch(/revok/);
      expect(flow.actor.getSnapshot().value).toBe('revoking');
      held.release();
      await expect(outcome).resolves.toBeUndefined();
      expect(held.endpoint.requestsTo('/revoke')).toHaveLength(2);
      expect(tokenProperties(flow)).toEqual(NO_TOKENS);
      flow.dispose();
    } finally {
      await held.endpoint.close();
    }
  });

  it('dispose() rejects the pending promise with ClientError', async () => {
    const held = await heldEndpoint({ status: 200 });
    try {
      const { flow, tokens } = await signedIn({ revocationUrl: held.url });
      const outcome = rejectionOf(flow.revokeTokens());
      await held.arrived;
      flow.dispose();
      const error = await outcome;
      expect(error.code).toBe('ClientError');
      expect(error.message).toMatch(/^The flow was disposed/);
      expect(everythingIn(error)).not.toContain(tokens.refreshToken);
      held.release();
    } finally {
      await held.endpoint.close();
    }
  });

  it('a snapshot taken while revoking resumes the revocation, which then completes', async () => {
    const held = await heldEndpoint({ status: 200 });
    try {
      const { flow, tokens } = await signedIn({ revocationUrl: held.url });
      void flow.revokeTokens().catch(() => undefined);
      await held.arrived;
      const snapshot = JSON.stringify(flow.snapshot());
      flow.dispose();
      held.release();

      const clock = exactClock(Date.now());
      const before = proxy.requests.length;
      const resumed = new OAuth2DeviceAuthorizationFlow({ snapshot, revocationUrl: proxy.url('/token/revocation'), clock });
      const [error] = await nextSignal(resumed, 'revoked');
      expect(error).toBeNull();
      expect(proxy.requests.slice(before).map((request) => request.params.get('token'))).toEqual([tokens.refreshToken, tokens.accessToken]);
      expect(await activeAtServer(tokens)).toEqual({ access: false, refresh: false });
      expect(tokenProperties(resumed)).toEqual(NO_TOKENS);
      expect(resumed.actor.getSnapshot().value).toBe('idle');
      resumed.dispose();
    } finally {
      await held.endpoint.close();
    }
  });
});
