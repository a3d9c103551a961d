/**
 * The flow against replicas of GitHub, Google, Microsoft Entra ID and Auth0 (test/helpers/quirkServers.ts): each
 * succeeds, or fails with the error a user would expect, and the server sees polls no more often than it asked for.
 */
import { exactClock } from '../helpers/exactClock.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceFlowError } from '../../src/core/errors.js';
import { type DeviceFlowOptions, OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { isAccessDenied } from '../../src/core/protocol/serverError.js';
import { type Provider, type QuirkServer, type QuirkServerOptions, startQuirkServer, type UserDecision } from '../helpers/quirkServers.js';

const open: { close(): unknown }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((thing) => thing.close()));
});

interface Scenario {
  server?: Omit<QuirkServerOptions, 'now'>;
  flow?: DeviceFlowOptions;
  /** The user decides once this many polls were answered. */
  decideAfter?: number;
  decision?: UserDecision;
}

/** Runs a whole flow against a replica, moving the shared simulated clock to each poll as soon as it is scheduled. */
async function run(provider: Provider, scenario: Scenario = {}) {
  const clock = exactClock(Date.UTC(2026, 10, 27, 12));
  const server = await startQuirkServer(provider, { now: () => clock.now(), ...scenario.server });
  const flow = new OAuth2DeviceAuthorizationFlow({
    authorizationUrl: server.deviceAuthorizationUrl,
    tokenUrl: server.tokenUrl,
    clientIdentifier: `${provider}-client`,
    clock,
    ...scenario.flow,
  });
  open.push(server, { close: () => flow.dispose() });
  const outcome = new Promise<DeviceFlowError | null>((resolve) => {
    flow.on('granted', () => resolve(null));
    flow.on('requestFailed', resolve);
  });
  flow.on('nextPollAtChanged', (at) => {
    if (at === null) return;
    if (server.polls.length >= (scenario.decideAfter ?? 2)) server.decide(scenario.decision ?? 'approve');
    clock.set(at.getTime());
  });
  flow.grant();
  const error = await outcome;
  // The replicas answer a poll that comes too soon with slow_down; no scenario here may earn one.
  expect(server.earlyPolls).toBe(0);
  return { flow, clock, server, error };
}

/** Milliseconds between consecutive polls, as the server saw them. */
const gaps = (server: QuirkServer) => server.polls.slice(1).map((poll, index) => poll.at - server.polls[index]!.at);

describe('the replicas', () => {
  it.each(['github', 'google', 'microsoft', 'auth0'] as const)('%s answers a poll that comes too soon with slow_down', async (provider) => {
    let now = Date.UTC(2026, 10, 27, 12);
    const server = await startQuirkServer(provider, { now: () => now });
    open.push(server);
    const post = async (url: string, body: Record<string, string>) =>
      (await fetch(url, { method: 'POST', headers: { accept: 'application/json' }, body: new URLSearchParams({ ...body, client_secret: server.clientSecret }) })).json();
    const { device_code } = (await post(server.deviceAuthorizationUrl, { client_id: 'c' })) as { device_code: string };
    const poll = () => post(server.tokenUrl, { client_id: 'c', device_code, grant_type: 'urn:ietf:params:oauth:grant-type:device_code' });
    await expect(poll()).resolves.toMatchObject({ error: 'authorization_pending' });
    now += 4_999;
    await expect(poll()).resolves.toMatchObject({ error: 'slow_down' });
    expect(server.earlyPolls).toBe(1);
  });
});

describe('GitHub', () => {
  it('grants through JSON answers sent with HTTP 200, honouring the interval of a slow_down body', async () => {
    const { flow, server, error } = await run('github', { server: { slowDownOn: [2] }, decideAfter: 3 });
    expect(error).toBeNull();
    expect(flow.token).toBe('gho_16C7e42F292c6912E7710c838347Ae178B4a');
    expect(flow.grantedScopeTokens).toEqual(['repo', 'gist']);
    expect(flow.completeVerificationUrl).toBeNull();
    expect(server.polls.every(({ request }) => request.headers.accept === 'application/json')).toBe(true);
    // 5 s at first; slow_down on the second poll sends interval 10, used for every later poll.
    expect(gaps(server)).toEqual([5_000, 10_000, 10_000]);
  });

  it('grants through form-encoded answers when something strips the Accept header', async () => {
    const { flow, server, error } = await run('github', {
      flow: { networkRequestModifier: (request) => request.headers.delete('accept') },
    });
    expect(error).toBeNull();
    expect(flow.token).toBe('gho_16C7e42F292c6912E7710c838347Ae178B4a');
    expect(server.polls[0]!.request.headers.accept).not.toContain('application/json');
  });

  it('fails with ServerError device_flow_disabled when the app has no device flow', async () => {
    const { flow, error } = await run('github', { server: { deviceFlowDisabled: true } });
    expect(error).toMatchObject({ code: 'ServerError', error: 'device_flow_disabled', errorDescription: expect.stringMatching(/explicitly enabled/) });
    expect(flow.status).toBe('NotAuthenticated');
  });

  it('fails with ServerError incorrect_device_code for a device code it does not know', async () => {
    const { error } = await run('github', {
      flow: { modifyParametersFunction: (stage, params) => void (stage === 'RequestingAccessToken' && params.set('device_code', 'bogus')) },
    });
    expect(error).toMatchObject({ code: 'ServerError', error: 'incorrect_device_code' });
  });
});

describe('Google', () => {
  it('grants with verification_url, HTTP 428 for pending answers and the client secret in the body', async () => {
    const clientIdentifierSharedKey = 'google-client-secret-1';
    const { flow, server, error } = await run('google', { flow: { clientIdentifierSharedKey, requestedScopeTokens: ['openid'] }, decideAfter: 3 });
    expect(error).toBeNull();
    expect(flow.verificationUrl?.href).toBe('https://www.google.com/device');
    expect([flow.token, flow.refreshToken, flow.idToken]).toEqual(['ya29.a0AfH6SMB', '1//0gdP8', 'eyJ.google.id']);
    expect(server.polls.every(({ request }) => request.params.get('client_secret') === clientIdentifierSharedKey)).toBe(true);
    expect(gaps(server)).toEqual([5_000, 5_000, 5_000]);
  });

  it('slows down on a slow_down sent with HTTP 428', async () => {
    const { server, error } = await run('google', { server: { slowDownOn: [2] }, flow: { clientIdentifierSharedKey: 'google-client-secret-1' }, decideAfter: 3 });
    expect(error).toBeNull();
    expect(gaps(server)).toEqual([5_000, 10_000, 10_000]);
  });

  it('fails with ServerError invalid_client without the client secret', async () => {
    const { error } = await run('google');
    expect(error).toMatchObject({ code: 'ServerError', error: 'invalid_client', status: 401 });
  });
});

describe('Microsoft Entra ID', () => {
  it("grants, keeping the vendor's message and ext_expires_in as extra tokens", async () => {
    const { flow, server, error } = await run('microsoft', { server: { slowDownOn: [1] }, flow: { requestedScopeTokens: ['openid', 'profile', 'User.Read'] }, decideAfter: 3 });
    expect(error).toBeNull();
    expect(gaps(server)).toEqual([10_000, 10_000, 10_000]);
    expect(flow.extraTokens).toEqual({ message: expect.stringMatching(/^To sign in, use a web browser/), ext_expires_in: 3599 });
    expect(flow.grantedScopeTokens).toEqual(['User.Read', 'profile', 'openid', 'email']);
  });

  it('reports authorization_declined as a denial, with the AADSTS description', async () => {
    const { error } = await run('microsoft', { decision: 'deny' });
    expect(error).toMatchObject({ code: 'ServerError', error: 'authorization_declined', errorDescription: expect.stringMatching(/^AADSTS70000/) });
    expect(isAccessDenied(error)).toBe(true);
  });
});

describe('Auth0', () => {
  it('grants through HTTP 403 pending answers and a 429 slow_down', async () => {
    const { flow, server, error } = await run('auth0', { server: { slowDownOn: [1] }, decideAfter: 2 });
    expect(error).toBeNull();
    expect(flow.token).toBe('eyJz93a.auth0.at');
    expect(gaps(server)).toEqual([10_000, 10_000]);
  });

  it('fails with ExpiredError on its one expired_token, and never polls again to meet its invalid_grant', async () => {
    // The server ends the code after 3 s although it announced 60 s, so its expired_token comes first.
    const { flow, server, error } = await run('auth0', { server: { expiresIn: 60, actualLifetime: 3 }, decideAfter: 99 });
    expect(error).toMatchObject({ code: 'ExpiredError', error: 'expired_token' });
    expect(flow.startTokenPolling()).toBe(false);
    expect(server.polls).toHaveLength(1);
  });

  it('denies with access_denied', async () => {
    const { error } = await run('auth0', { decision: 'deny' });
    expect(isAccessDenied(error)).toBe(true);
  });
});
