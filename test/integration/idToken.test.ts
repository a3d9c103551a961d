/**
 * ID token validation end to end: the flow discovers a tampering proxy as its issuer, signs in at the development
 * server behind it, and gets back ID tokens the proxy forged the way a scenario says. A valid one is taken with its
 * claims; every forgery is refused with a message that names the check it failed, before any token property changes.
 * The flow runs on a simulated clock that jumps to each poll, so no test waits out the 5 s interval.
 */
import { exactClock } from '../helpers/exactClock.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../src/devServer/server.js';
import { DeviceFlowError } from '../../src/core/errors.js';
import { type DiscoveredServer, discover } from '../../src/http/discovery.js';
import { type DeviceFlowOptions, OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { createTestFlow, deviceAuthorizationReply, nextSignal, recordSignals, tokenReply } from '../helpers/flowHarness.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';
import { type IdTokenScenario, startTamperingProxy, type TamperingProxy } from '../helpers/tamperingProxy.js';
import { statusOfState } from '../helpers/expectedStatus.js';

let server: DevServer;
let proxy: TamperingProxy;
let discovered: DiscoveredServer;
beforeAll(async () => {
  server = await startDevServer();
  proxy = await startTamperingProxy(server.issuer);
  discovered = await discover(proxy.issuer);
});
afterAll(async () => {
  await proxy.close();
  await server.close();
});

/** The secrets of every token response the flow received, as they came over the wire, read by the flow's own fetch. */
interface Received {
  secrets: string[];
}

/** A flow configured from the proxy's discovery document, on a simulated clock at the real time. */
function flowFor(options: DeviceFlowOptions = {}) {
  const clock = exactClock(Date.now());
  const received: Received = { secrets: [] };
  const flow = new OAuth2DeviceAuthorizationFlow({
    ...discovered,
    clientIdentifier: server.clients.public.clientIdentifier,
    requestedScopeTokens: ['openid', 'offline_access'],
    clock,
    // Instrumentation only: the request goes to the proxy as it would, and the flow reads the same answer.
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      if (new URL(input).pathname === '/token') {
        const body = (await response.clone().json()) as Record<string, unknown>;
        for (const member of ['access_token', 'refresh_token', 'id_token']) if (typeof body[member] === 'string') received.secrets.push(body[member]);
      }
      return response;
    },
    ...options,
  });
  return { flow, clock, received, recorder: recordSignals(flow) };
}

/** Resolves with the error of the next `requestFailed`, or `null` at the next `granted`. */
function outcomeOf(flow: OAuth2DeviceAuthorizationFlow): Promise<DeviceFlowError | null> {
  return new Promise((resolve) => {
    const offs = [flow.on('granted', () => settle(null)), flow.on('requestFailed', (error) => settle(error))];
    function settle(error: DeviceFlowError | null) {
      for (const off of offs) off();
      resolve(error);
    }
  });
}

/**
 * A grant through the proxy forging with `scenario`: the user approves at the server, then the clock jumps to the
 * poll (or to `pollAt`, when later). `beforePoll` runs once the code is out, just before the poll that gets the tokens.
 */
async function grantWith(
  harness: ReturnType<typeof flowFor>,
  scenario: IdTokenScenario,
  { beforePoll = () => {}, pollAt = 0 }: { beforePoll?: () => void; pollAt?: number } = {},
): Promise<DeviceFlowError | null> {
  const { flow, clock } = harness;
  proxy.scenario = scenario;
  const outcome = outcomeOf(flow);
  flow.grant();
  const [, userCode] = await nextSignal(flow, 'authorizeWithUserCode');
  await server.approve(userCode);
  beforePoll();
  clock.set(Math.max(flow.nextPollAt!.getTime(), pollAt));
  return outcome;
}

/** The token properties, as plain values. */
function tokenState(flow: OAuth2DeviceAuthorizationFlow) {
  return {
    token: flow.token,
    refreshToken: flow.refreshToken,
    idToken: flow.idToken,
    idTokenClaims: flow.idTokenClaims,
    tokenType: flow.tokenType,
    expirationAt: flow.expirationAt?.getTime() ?? null,
  };
}

const TOKEN_SIGNALS = ['tokenChanged', 'refreshTokenChanged', 'idTokenChanged', 'idTokenClaimsChanged', 'tokenTypeChanged', 'expirationAtChanged', 'granted'];

/** Fails when `error`, in any form the application may see or store, quotes one of `secrets`. */
function expectNoSecretIn(error: DeviceFlowError, flow: OAuth2DeviceAuthorizationFlow, secrets: readonly string[]) {
  const visible = [error.message, String(error), JSON.stringify(error.toData()), JSON.stringify(flow.snapshot())].join('\n');
  expect(secrets.length).toBeGreaterThan(0);
  for (const secret of secrets) expect(visible).not.toContain(secret);
}

describe('a valid ID token', () => {
  it('is taken with its claims, frozen, and idTokenClaimsChanged fires', async () => {
    const harness = flowFor();
    const { flow, recorder } = harness;
    expect(await grantWith(harness, 'intact')).toBeNull();
    expect(flow.status).toBe('Granted');
    expect(flow.idToken.split('.')).toHaveLength(3);
    const claims = flow.idTokenClaims!;
    expect(claims).toMatchObject({ iss: proxy.issuer, aud: server.clients.public.clientIdentifier, sub: 'demo-user' });
    expect(Object.isFrozen(claims)).toBe(true);
    expect(() => ((claims as Record<string, unknown>).sub = 'mallory')).toThrow(TypeError);
    expect(recorder.of('idTokenClaimsChanged')).toEqual([[claims]]);
    // The claims are the token's own: the proxy signed what it says.
    const payload = JSON.parse(Buffer.from(flow.idToken.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims).toEqual(payload);
    expect(proxy.jwksFetches).toBeGreaterThan(0);
    flow.dispose();
  });
});

describe('a forged ID token is refused before any token property changes', () => {
  const forgeries: [IdTokenScenario, RegExp, DeviceFlowOptions?][] = [
    ['wrongAudience', /audience/],
    ['wrongIssuer', /another issuer/],
    ['expired', /expired/],
    ['missingIat', /no iat/],
    ['badSignature', /signature that does not verify/],
    ['algNone', /algorithm that is not allowed/],
    ['hs256', /algorithm that is not allowed/],
    ['nonceMismatch', /nonce that is not the one sent/, { nonceMode: 'Enabled' }],
    ['multipleAudiencesWithoutAzp', /several audiences but no azp/],
  ];

  it.each(forgeries)('%s', async (scenario, check, options) => {
    const harness = flowFor(options);
    const { flow, recorder, received } = harness;
    // Tokens from an earlier sign-in, which a refused one must leave as they are.
    expect(await grantWith(harness, 'intact')).toBeNull();
    const earlier = flow.token;

    let before!: ReturnType<typeof tokenState>;
    const error = await grantWith(harness, scenario, {
      beforePoll: () => {
        before = tokenState(flow);
        recorder.drain();
      },
    });
    expect(error).toBeInstanceOf(DeviceFlowError);
    expect(error).toMatchObject({ code: 'ServerError' });
    expect(error!.message).toMatch(/^The ID token was refused: it /);
    expect(error!.message).toMatch(check);
    expect(proxy.exchanges.at(-1)).toMatchObject({ path: '/token', tampered: scenario });

    expect(tokenState(flow)).toEqual(before);
    expect(flow.token).toBe(earlier);
    const names = recorder.drain();
    expect(names.filter((name) => TOKEN_SIGNALS.includes(name))).toEqual([]);
    expect(names).toContain('requestFailed');
    expect(names).not.toContain('serverReportedErrorOccurred');
    expect(flow.actor.getSnapshot().matches({ failed: 'polling' })).toBe(true);
    expect(flow.status).toBe(statusOfState(flow.actor.getSnapshot()));
    expect(flow.polling).toBe(false);
    // The refused response's tokens are nowhere: not in the error, nor in what a snapshot would store.
    const refused = received.secrets.slice(3);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expectNoSecretIn(error!, flow, refused);
    expect(JSON.stringify(error!.toData())).not.toContain(earlier);
    flow.dispose();
  });
});

describe('a refreshed ID token', () => {
  it('about another subject fails the refresh and keeps the tokens of the grant', async () => {
    const harness = flowFor();
    const { flow, recorder, received } = harness;
    expect(await grantWith(harness, 'intact')).toBeNull();
    const before = tokenState(flow);
    recorder.drain();

    proxy.scenario = 'subjectChanged';
    const outcome = outcomeOf(flow);
    flow.refreshTokens();
    expect(flow.status).toBe('RefreshingToken');
    const error = await outcome;

    expect(error).toMatchObject({ code: 'ServerError' });
    expect(error!.message).toMatch(/another sub than the ID token it replaces/);
    expect(proxy.exchanges.at(-1)).toMatchObject({ path: '/token', tampered: 'subjectChanged' });
    expect(tokenState(flow)).toEqual(before);
    expect(flow.status).toBe('Granted');
    expect(flow.actor.getSnapshot().matches('granted')).toBe(true);
    const names = recorder.drain();
    expect(names.filter((name) => TOKEN_SIGNALS.includes(name))).toEqual([]);
    // As a failed refresh with an access token ends: the status comes back, then the failure.
    expect(names).toEqual(['statusChanged', 'statusChanged', 'requestFailed']);
    expectNoSecretIn(error!, flow, received.secrets.slice(3));
    flow.dispose();
  });

  it('about the same subject is taken, with its claims', async () => {
    const harness = flowFor();
    const { flow } = harness;
    expect(await grantWith(harness, 'intact')).toBeNull();
    const [token, claims] = [flow.token, flow.idTokenClaims];
    const outcome = outcomeOf(flow);
    flow.refreshTokens();
    expect(await outcome).toBeNull();
    expect(flow.token).not.toBe(token);
    expect(flow.idTokenClaims).toMatchObject({ sub: claims!.sub, iss: claims!.iss, aud: claims!.aud });
    flow.dispose();
  });
});

describe('key rotation', () => {
  it('refetches the key set once for a kid it does not know, and takes the token', async () => {
    const harness = flowFor();
    const { flow } = harness;
    expect(await grantWith(harness, 'intact')).toBeNull();
    const fetched = proxy.jwksFetches;
    await proxy.rotateKeys();
    // The next sign-in comes seconds later: the issuer's new key must not wait a minute to be found.
    expect(await grantWith(harness, 'intact')).toBeNull();
    expect(proxy.jwksFetches).toBe(fetched + 1);
    expect(flow.idTokenClaims).not.toBeNull();
    // Known now: no more fetches.
    expect(await grantWith(harness, 'intact')).toBeNull();
    expect(proxy.jwksFetches).toBe(fetched + 1);
    flow.dispose();
  });

  it('with the new key not yet published, fails, refetches no sooner than a minute later, then succeeds', async () => {
    const harness = flowFor();
    const { flow, clock } = harness;
    expect(await grantWith(harness, 'intact')).toBeNull();
    const fetched = proxy.jwksFetches;
    await proxy.rotateKeys({ publishNewKeyAfterFetches: 1 });

    const first = await grantWith(harness, 'intact');
    expect(first).toMatchObject({ code: 'ServerError' });
    expect(first!.message).toMatch(/names a key that is not in the issuer's key set, even after fetching it again$/);
    expect(proxy.jwksFetches).toBe(fetched + 1);
    const refetchedAt = clock.now();

    // Within the minute, by the flow's clock: the key set is not fetched again.
    const second = await grantWith(harness, 'intact');
    expect(clock.now() - refetchedAt).toBeLessThan(60_000);
    expect(second).toMatchObject({ code: 'ServerError' });
    expect(second!.message).toMatch(/names a key that is not in the issuer's key set, which was fetched again less than a minute ago/);
    expect(proxy.jwksFetches).toBe(fetched + 1);
    expect(flow.token).not.toBe('');
    for (const error of [first!, second!]) expectNoSecretIn(error, flow, harness.received.secrets.slice(3));

    // A minute on: fetched again, and the key is there now.
    const third = await grantWith(harness, 'intact', { pollAt: refetchedAt + 60_000 });
    expect(third).toBeNull();
    expect(proxy.jwksFetches).toBe(fetched + 2);
    expect(flow.idTokenClaims).toMatchObject({ sub: 'demo-user' });
    flow.dispose();
  });
});

describe('without validation', () => {
  it('takes the ID token as it came when no issuer is set, and idTokenClaims stays null', async () => {
    const harness = flowFor({ issuer: null });
    const { flow, recorder } = harness;
    const fetched = proxy.jwksFetches;
    // A forgery, which only validation would catch.
    expect(await grantWith(harness, 'badSignature')).toBeNull();
    expect(flow.idToken.split('.')).toHaveLength(3);
    expect(harness.received.secrets).toContain(flow.idToken);
    expect(flow.idTokenClaims).toBeNull();
    expect(recorder.of('idTokenClaimsChanged')).toEqual([]);
    expect(proxy.jwksFetches).toBe(fetched);
    flow.dispose();
  });

  it('fails with ClientError, not a network failure, when an ID token comes after the jwksUrl was cleared', async () => {
    // grant() requires a jwksUrl with an issuer (openid asked for or not: this server sends an ID token all the same);
    // the application clears it while the user decides.
    const loopback = await LoopbackServer.start();
    try {
      loopback.handle('/device', deviceAuthorizationReply());
      const idToken = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
      loopback.handle('/token', tokenReply({ id_token: idToken }));
      const { flow, clock } = createTestFlow(loopback, { issuer: loopback.url(''), jwksUrl: loopback.url('/jwks'), requestedScopeTokens: ['profile'] });
      const outcome = outcomeOf(flow);
      flow.grant();
      await nextSignal(flow, 'authorizeWithUserCode');
      flow.jwksUrl = null;
      clock.increment(5_000);
      const error = await outcome;
      expect(error).toMatchObject({ code: 'ClientError' });
      expect(error!.message).toMatch(/no jwksUrl is set/);
      expect(flow.token).toBe('');
      expectNoSecretIn(error!, flow, [idToken, 'access-token-1', 'refresh-token-1', 'device-code-secret']);
      expect(loopback.requests.map((request) => request.path)).toEqual(['/device', '/token']);
      flow.dispose();
    } finally {
      await loopback.close();
    }
  });

  it('refuses grant() at once when an issuer is set without openid and without a jwksUrl', async () => {
    const { flow, recorder } = flowFor({ jwksUrl: null, requestedScopeTokens: ['offline_access'] });
    const requests = proxy.exchanges.length;
    flow.grant();
    expect(recorder.of('requestFailed').map(([failure]) => failure)).toMatchObject([{ code: 'ClientError', message: expect.stringMatching(/jwksUrl/) }]);
    expect(proxy.exchanges.length).toBe(requests);
    flow.dispose();
  });

  it('refuses grant() at once when an issuer is set with openid but no jwksUrl, before any request', async () => {
    const { flow, recorder } = flowFor({ jwksUrl: null });
    const requests = proxy.exchanges.length;
    flow.grant();
    const [error] = recorder.of('requestFailed').map(([failure]) => failure);
    expect(recorder.of('requestFailed')).toHaveLength(1);
    expect(error).toMatchObject({ code: 'ClientError' });
    expect(error!.message).toMatch(/jwksUrl/);
    expect(flow.status).toBe('NotAuthenticated');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(proxy.exchanges.length).toBe(requests);
    flow.dispose();
  });
});
