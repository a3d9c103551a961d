/**
 * The flow against a real, certified authorization server: oidc-provider on 127.0.0.1, with a simulated user going
 * through its own verification, login and consent pages over HTTP. The client runs on a simulated clock that jumps
 * to each poll, so the tests need not wait out the 5 s interval.
 */
import { exactClock } from '../helpers/exactClock.js';
import { SimulatedClock } from 'xstate';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type DevServerClient, type DevServer, startDevServer } from '../../src/devServer/server.js';
import { actAsUser, type SimulatedUserOptions } from '../../src/devServer/simulatedUser.js';
import { DeviceFlowError } from '../../src/core/errors.js';
import { type DeviceFlowOptions, OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { createUndiciFetch } from '../../src/node/undiciFetch.js';
import { nextSignal } from '../helpers/flowHarness.js';

let server: DevServer;
let shortLived: DevServer;
beforeAll(async () => {
  [server, shortLived] = await Promise.all([startDevServer(), startDevServer({ deviceCodeLifetime: 30 })]);
});
afterAll(async () => {
  await Promise.all([server.close(), shortLived.close()]);
});

/** A flow against `on` whose simulated clock jumps to each poll once `user` has acted. */
function flowFor(on: DevServer, client: DevServerClient, options: DeviceFlowOptions = {}) {
  const clock = exactClock(Date.now());
  const flow = new OAuth2DeviceAuthorizationFlow({
    authorizationUrl: on.deviceAuthorizationUrl,
    tokenUrl: on.tokenUrl,
    clientIdentifier: client.clientIdentifier,
    clientIdentifierSharedKey: client.clientSecret,
    clientAuthentication: client.clientAuthentication,
    clock,
    ...options,
  });
  return { flow, clock };
}

/** Grants with the user's decision; resolves with the flow's outcome. */
async function run(
  on: DevServer,
  client: DevServerClient,
  user: SimulatedUserOptions | 'absent',
  options: DeviceFlowOptions = {},
): Promise<{ flow: OAuth2DeviceAuthorizationFlow; clock: SimulatedClock; error: DeviceFlowError | null; page: string }> {
  const { flow, clock } = flowFor(on, client, options);
  const outcome = new Promise<DeviceFlowError | null>((resolve) => {
    flow.on('granted', () => resolve(null));
    flow.on('requestFailed', resolve);
  });
  flow.grant();
  const [verificationUrl, userCode, completeVerificationUrl] = await nextSignal(flow, 'authorizeWithUserCode');
  let page = '';
  if (user !== 'absent') {
    page = await actAsUser((completeVerificationUrl ?? verificationUrl).href, userCode, user);
    clock.set(flow.nextPollAt!.getTime());
  } else {
    clock.set(flow.userCodeExpirationAt!.getTime());
  }
  return { flow, clock, error: await outcome, page };
}

describe('oidc-provider', () => {
  it('grants a public client after the user approves on the server’s pages, with an ID and a refresh token', async () => {
    const { flow, error, page } = await run(server, server.clients.public, { decision: 'approve', login: 'alice' }, {
      requestedScopeTokens: ['openid', 'offline_access'],
    });
    expect(error).toBeNull();
    expect(page).toMatch(/Sign-in Success/);
    expect(flow.status).toBe('Granted');
    expect(flow.token).toMatch(/^[\w-]{40,}$/);
    expect(flow.refreshToken).toMatch(/^[\w-]{40,}$/);
    expect(flow.idToken.split('.')).toHaveLength(3);
    const claims = JSON.parse(atob(flow.idToken.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')));
    expect(claims).toMatchObject({ sub: 'alice', aud: server.clients.public.clientIdentifier, iss: server.issuer });
    expect(flow.grantedScopeTokens).toEqual(['openid', 'offline_access']);
    expect(flow.expirationAt!.getTime()).toBeGreaterThan(Date.now() + 3_500_000);
    flow.dispose();
  });

  it('grants a confidential client over createUndiciFetch, including the refresh', async () => {
    const { flow, error } = await run(server, server.clients.secretBasic, { decision: 'approve', login: 'carol' }, {
      requestedScopeTokens: ['openid', 'offline_access'],
      fetch: createUndiciFetch(),
    });
    expect(error).toBeNull();
    expect(flow.idToken.split('.')).toHaveLength(3);
    const firstToken = flow.token;
    flow.refreshTokens();
    await nextSignal(flow, 'granted');
    expect(flow.token).toMatch(/^[\w-]{40,}$/);
    expect(flow.token).not.toBe(firstToken);
    flow.dispose();
  });

  it('grants when the user types the code on the verification page instead of following the complete URL', async () => {
    const { flow, clock } = flowFor(server, server.clients.public, { requestedScopeTokens: ['openid'] });
    const granted = nextSignal(flow, 'granted');
    flow.grant();
    const [verificationUrl, userCode] = await nextSignal(flow, 'authorizeWithUserCode');
    expect(verificationUrl.search).toBe('');
    const page = await actAsUser(verificationUrl.href, userCode, { decision: 'approve', login: 'dave' });
    expect(page).toMatch(/Sign-in Success/);
    clock.set(flow.nextPollAt!.getTime());
    await granted;
    expect(flow.idToken.split('.')).toHaveLength(3);
    flow.dispose();
  });

  it("fails with ExpiredError when the server's expired_token comes before the client's own expiry", async () => {
    // The client is told the code lives ten minutes; the server ends it after thirty seconds, its real lifetime.
    const stretched: DeviceFlowOptions['fetch'] = async (input, init) => {
      const response = await fetch(input, init);
      if (!input.endsWith('/device/auth')) return response;
      const body = (await response.json()) as Record<string, unknown>;
      return Response.json({ ...body, expires_in: 600 }, { status: response.status });
    };
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    try {
      const { flow, clock } = flowFor(shortLived, shortLived.clients.public, { fetch: stretched });
      const failed = nextSignal(flow, 'requestFailed');
      flow.grant();
      await nextSignal(flow, 'authorizeWithUserCode');
      vi.setSystemTime(Date.now() + 31_000);
      clock.set(flow.nextPollAt!.getTime());
      const [error] = await failed;
      expect(error).toMatchObject({ code: 'ExpiredError', error: 'expired_token' });
      // The code ends when the server said so, not ten minutes in.
      expect(flow.userCodeExpirationAt!.getTime()).toBe(clock.now());
      flow.dispose();
    } finally {
      vi.useRealTimers();
    }
  });

  it('issues no ID token without the openid scope', async () => {
    const { flow, error } = await run(server, server.clients.public, { decision: 'approve' }, { requestedScopeTokens: ['offline_access'] });
    expect(error).toBeNull();
    expect(flow.idToken).toBe('');
    flow.dispose();
  });

  it('fails with access_denied when the user aborts', async () => {
    const { flow, error, page } = await run(server, server.clients.public, { decision: 'deny' }, { requestedScopeTokens: ['openid'] });
    expect(page).toMatch(/interrupted/);
    expect(error).toMatchObject({ code: 'ServerError', error: 'access_denied' });
    expect(flow.status).toBe('TemporaryCredentialsReceived');
    expect(flow.token).toBe('');
    flow.dispose();
  });

  it('fails with ExpiredError when nobody approves before the code expires', async () => {
    const granting = Date.now();
    const { flow, error } = await run(shortLived, shortLived.clients.public, 'absent');
    expect(error?.code).toBe('ExpiredError');
    expect(flow.userCodeExpirationAt!.getTime() - granting).toBeGreaterThanOrEqual(29_000);
    expect(flow.userCodeExpirationAt!.getTime() - granting).toBeLessThanOrEqual(31_000);
    flow.dispose();
  });

  it('refreshes with the refresh-token grant, rotating the refresh token', async () => {
    const { flow } = await run(server, server.clients.public, { decision: 'approve' }, { requestedScopeTokens: ['openid', 'offline_access'] });
    const [firstToken, firstRefresh] = [flow.token, flow.refreshToken];
    flow.refreshTokens();
    expect(flow.status).toBe('RefreshingToken');
    await nextSignal(flow, 'granted');
    expect(flow.token).not.toBe(firstToken);
    expect(flow.refreshToken).toMatch(/^[\w-]{40,}$/);
    expect(flow.refreshToken).not.toBe(firstRefresh);
    expect(flow.status).toBe('Granted');
    flow.dispose();
  });

  it.each([
    ['client_secret_post', () => server.clients.secretPost],
    ['client_secret_basic', () => server.clients.secretBasic],
  ])('grants a confidential client authenticating with %s at both endpoints', async (_method, client) => {
    const { flow, error } = await run(server, client(), { decision: 'approve' }, { requestedScopeTokens: ['openid'] });
    expect(error).toBeNull();
    expect(flow.token).not.toBe('');
    flow.dispose();
  });

  it('is refused with invalid_client at the device authorization endpoint without the right secret', async () => {
    const wrongSecret = { ...server.clients.secretPost, clientSecret: 'not-the-secret' };
    const noSecret = { ...server.clients.secretBasic, clientSecret: '' };
    for (const client of [wrongSecret, noSecret]) {
      const { flow } = flowFor(server, client);
      flow.grant();
      const [error] = await nextSignal(flow, 'requestFailed');
      expect(error).toMatchObject({ code: 'ServerError', error: 'invalid_client' });
      if (client.clientSecret !== '') expect(error.message).not.toContain(client.clientSecret);
      expect(flow.status).toBe('NotAuthenticated');
      flow.dispose();
    }
  });

  it('is discoverable (RFC 8414 / OpenID Connect Discovery)', async () => {
    const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ issuer: server.issuer, device_authorization_endpoint: server.deviceAuthorizationUrl, token_endpoint: server.tokenUrl });
  });
});
