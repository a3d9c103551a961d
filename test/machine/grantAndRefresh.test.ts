import { exactClock } from '../helpers/exactClock.js';
import { createActor, type Snapshot } from 'xstate';
import { describe, expect, it } from 'vitest';
import { deviceAuthorizationChart } from '../../src/machines/deviceAuthorization.js';
import { DeviceFlowError } from '../../src/core/errors.js';
import { createFlowSnapshot, readFlowSnapshot } from '../../src/machines/snapshot.js';
import { deferredFlowActors, sampleAuthorization, sampleTokens } from '../helpers/deferredActors.js';
import { answer, defaultInput, fail, startMachine, T0 } from '../helpers/machineHarness.js';

async function granted(tokens = sampleTokens(), input = defaultInput) {
  const flow = startMachine(input);
  flow.actor.send({ type: 'GRANT' });
  await answer(flow.requestDeviceAuthorization.last, sampleAuthorization());
  flow.clock.increment(5_000);
  await answer(flow.pollToken.last, { kind: 'granted', tokens });
  return flow;
}

describe('grant()', () => {
  it('fails with ClientError, synchronously, without an authorization or a token URL', () => {
    for (const missing of ['authorizationUrl', 'tokenUrl'] as const) {
      const flow = startMachine({ ...defaultInput, [missing]: null });
      flow.actor.send({ type: 'GRANT' });
      expect(flow.ofType('requestFailed')[0]?.error.code).toBe('ClientError');
      expect(flow.matches('failed.authorization')).toBe(true);
      expect(flow.context().status).toBe('NotAuthenticated');
      expect(flow.requestDeviceAuthorization.calls).toHaveLength(0);
    }
  });

  it('resets the previous authorization in Qt order, aborting the poll in flight silently', async () => {
    const flow = startMachine();
    flow.actor.send({ type: 'GRANT' });
    await answer(flow.requestDeviceAuthorization.last, sampleAuthorization({ extraTokens: { message: 'hi' } }));
    flow.clock.increment(5_000);
    const inFlight = flow.pollToken.last;
    flow.drain();
    flow.actor.send({ type: 'GRANT' });
    expect(inFlight.signal.aborted).toBe(true);
    expect(flow.drain()).toEqual([
      'userCodeChanged',
      'verificationUrlChanged',
      'completeVerificationUrlChanged',
      'userCodeExpirationAtChanged',
      'extraTokensChanged',
      'pollingChanged',
      'nextPollAtChanged',
      'statusChanged',
    ]);
    expect(flow.matches('authorizing')).toBe(true);
    expect(flow.context()).toMatchObject({ deviceCode: '', userCode: '', pollInterval: 5 });
  });

  it('aborts a refresh in flight silently (docs/qt-behaviour.md, grant())', async () => {
    const flow = await granted();
    flow.actor.send({ type: 'REFRESH' });
    const refresh = flow.refreshTokens.last;
    flow.actor.send({ type: 'GRANT' });
    expect(refresh.signal.aborted).toBe(true);
    expect(flow.matches('authorizing')).toBe(true);
    await fail(refresh, new Error('aborted'));
    expect(flow.ofType('requestFailed')).toHaveLength(0);
  });

  it('keeps tokens and the refresh token across a new grant (docs/qt-behaviour.md, grant())', async () => {
    const flow = await granted();
    flow.actor.send({ type: 'GRANT' });
    expect(flow.context()).toMatchObject({ token: 'access-token-1', refreshToken: 'refresh-token-1', expirationAt: null });
  });

  it('aborts a device authorization request in flight and sends a new one', () => {
    const flow = startMachine();
    flow.actor.send({ type: 'GRANT' });
    flow.actor.send({ type: 'GRANT' });
    expect(flow.requestDeviceAuthorization.calls.map((call) => call.signal.aborted)).toEqual([true, false]);
  });

  it('reports an authorization failure with status NotAuthenticated', async () => {
    const flow = startMachine();
    flow.actor.send({ type: 'GRANT' });
    await fail(flow.requestDeviceAuthorization.last, new DeviceFlowError('ServerError', 'x', { error: 'invalid_client' }));
    expect(flow.drain()).toEqual(['serverReportedErrorOccurred', 'requestFailed']);
    expect(flow.matches('failed.authorization')).toBe(true);
    expect(flow.context()).toMatchObject({ status: 'NotAuthenticated', lastError: { code: 'ServerError', error: 'invalid_client' } });
  });
});

describe('nonce (docs/qt-behaviour.md, The nonce)', () => {
  const nonceOf = async (input: typeof defaultInput) => {
    const flow = startMachine({ ...defaultInput, ...input });
    flow.actor.send({ type: 'GRANT' });
    return { sent: flow.requestDeviceAuthorization.last.input.nonce, flow };
  };

  it('sends the nonce in Enabled mode, and in Automatic mode only with openid', async () => {
    expect((await nonceOf({ nonceMode: 'Enabled', nonce: 'fixed' })).sent).toBe('fixed');
    expect((await nonceOf({ nonceMode: 'Disabled', nonce: 'fixed', requestedScopeTokens: ['openid'] })).sent).toBeNull();
    expect((await nonceOf({ nonceMode: 'Automatic', nonce: 'fixed' })).sent).toBeNull();
    expect((await nonceOf({ nonceMode: 'Automatic', nonce: 'fixed', requestedScopeTokens: ['openid'] })).sent).toBe('fixed');
  });

  it('generates a 32-character base64url nonce when one is needed, announces it, and reuses it', async () => {
    const { sent, flow } = await nonceOf({ requestedScopeTokens: ['openid'] });
    expect(sent).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(flow.ofType('nonceChanged')).toEqual([{ type: 'nonceChanged', value: sent }]);
    flow.actor.send({ type: 'GRANT' });
    expect(flow.requestDeviceAuthorization.last.input.nonce).toBe(sent);
    const other = await nonceOf({ requestedScopeTokens: ['openid'] });
    expect(other.sent).not.toBe(sent);
  });
});

describe('refresh (docs/qt-behaviour.md, Refresh)', () => {
  it('refuses synchronously while polling, without a refresh token, or without a token URL', async () => {
    const polling = startMachine({ ...defaultInput, refreshToken: 'rt' });
    polling.actor.send({ type: 'GRANT' });
    polling.actor.send({ type: 'REFRESH' });
    await answer(polling.requestDeviceAuthorization.last, sampleAuthorization());
    polling.actor.send({ type: 'REFRESH' });
    expect(polling.ofType('requestFailed').map((event) => event.error.message)).toEqual([
      expect.stringMatching(/device authorization request is in flight/),
      expect.stringMatching(/polling is in progress/),
    ]);

    const noRefreshToken = startMachine();
    noRefreshToken.actor.send({ type: 'REFRESH' });
    expect(noRefreshToken.ofType('requestFailed')[0]?.error).toMatchObject({ code: 'ClientError', message: expect.stringMatching(/refresh token/) });

    const noTokenUrl = startMachine({ ...defaultInput, refreshToken: 'rt', tokenUrl: null });
    noTokenUrl.actor.send({ type: 'REFRESH' });
    expect(noTokenUrl.ofType('requestFailed')[0]?.error).toMatchObject({ code: 'ClientError', message: expect.stringMatching(/token URL/) });
    for (const flow of [noRefreshToken, noTokenUrl]) expect(flow.refreshTokens.calls).toHaveLength(0);
  });

  it('goes RefreshingToken → Granted, granting again, keeping the refresh token when the response omits it', async () => {
    const flow = await granted();
    flow.drain();
    flow.actor.send({ type: 'REFRESH' });
    flow.actor.send({ type: 'REFRESH' });
    flow.actor.send({ type: 'REFRESH' });
    expect(flow.refreshTokens.calls).toHaveLength(1);
    expect(flow.refreshTokens.last.input).toMatchObject({ refreshToken: 'refresh-token-1', url: 'https://as.example/token' });
    expect(flow.context().status).toBe('RefreshingToken');
    flow.clock.increment(1_000);
    await answer(flow.refreshTokens.last, sampleTokens({ accessToken: 'access-token-2', refreshToken: null }));
    expect(flow.drain()).toEqual(['statusChanged', 'tokenChanged', 'expirationAtChanged', 'statusChanged', 'granted']);
    expect(flow.context()).toMatchObject({ status: 'Granted', token: 'access-token-2', refreshToken: 'refresh-token-1' });
  });

  it('keeps the ID token when a refresh response omits it', async () => {
    const flow = await granted(sampleTokens({ idToken: 'id-1', grantedScopeTokens: ['openid'] }));
    flow.actor.send({ type: 'REFRESH' });
    await answer(flow.refreshTokens.last, sampleTokens({ accessToken: 'access-token-2', idToken: '', grantedScopeTokens: ['openid'] }));
    expect(flow.context().idToken).toBe('id-1');
  });

  it('returns to Granted on failure while an access token remains, without a granted signal', async () => {
    const flow = await granted();
    flow.actor.send({ type: 'REFRESH' });
    flow.drain();
    await fail(flow.refreshTokens.last, new DeviceFlowError('ServerError', 'x', { error: 'invalid_grant' }));
    expect(flow.drain()).toEqual(['serverReportedErrorOccurred', 'statusChanged', 'requestFailed']);
    expect(flow.matches('granted')).toBe(true);
    expect(flow.context().status).toBe('Granted');
  });

  it('redacts the tokens it holds from a reported error', async () => {
    const flow = await granted(sampleTokens({ accessToken: 'access-token-secret', refreshToken: 'refresh-token-secret', idToken: 'id-token-secret' }));
    flow.actor.send({ type: 'REFRESH' });
    await fail(
      flow.refreshTokens.last,
      new DeviceFlowError('ServerError', 'revoked: access-token-secret id-token-secret', {
        error: 'invalid_grant',
        errorDescription: 'refresh-token-secret was revoked',
      }),
    );
    const [failure] = flow.ofType('requestFailed');
    const reported = JSON.stringify({ error: failure!.error, message: failure!.error.message, last: flow.context().lastError });
    expect(reported).not.toMatch(/access-token-secret|refresh-token-secret|id-token-secret/);
    expect(flow.ofType('serverReportedErrorOccurred')[0]?.errorDescription).toBe('[redacted] was revoked');
  });

  it('ends NotAuthenticated when a refresh fails without an access token', async () => {
    const flow = startMachine({ ...defaultInput, refreshToken: 'rt' });
    flow.actor.send({ type: 'REFRESH' });
    await fail(flow.refreshTokens.last, new DeviceFlowError('OAuthTokenNotFoundError', 'no access_token'));
    expect(flow.matches('failed.refresh')).toBe(true);
    expect(flow.context().status).toBe('NotAuthenticated');
  });

  it('refreshes from a stopped flow that holds a refresh token', async () => {
    const flow = startMachine({ ...defaultInput, refreshToken: 'rt' });
    flow.actor.send({ type: 'GRANT' });
    await answer(flow.requestDeviceAuthorization.last, sampleAuthorization());
    flow.actor.send({ type: 'STOP_POLLING' });
    flow.actor.send({ type: 'REFRESH' });
    await answer(flow.refreshTokens.last, sampleTokens());
    expect(flow.matches('granted')).toBe(true);
  });
});

describe('accessTokenAboutToExpire (docs/qt-behaviour.md, The refresh signal)', () => {
  it.each([
    // name, refreshLeadTime, expires_in, seconds until the signal
    ['validSetExpiration', 18, 20, 2],
    ['validCalculatedExpiration', 0, 15, 5],
    ['tooShortCalculatedExpiration', 0, 5, 2],
    ['tooShortSetExpiration', 10, 5, 2],
    ['leadTimeNearExpiration', 1, 3, 2],
    ['normal one-hour token', 0, 3600, 3420],
  ])('%s: lead %i s, expires_in %i s → signal after %i s, then an automatic refresh', async (_name, refreshLeadTime, expiresIn, after) => {
    const flow = await granted(sampleTokens({ expiresIn }), { ...defaultInput, refreshLeadTime, autoRefresh: true });
    flow.clock.increment(after * 1000 - 1);
    expect(flow.ofType('accessTokenAboutToExpire')).toHaveLength(0);
    flow.clock.increment(1);
    expect(flow.ofType('accessTokenAboutToExpire')).toHaveLength(1);
    expect(flow.refreshTokens.calls).toHaveLength(1);
    await answer(flow.refreshTokens.last, sampleTokens({ accessToken: 'refreshed-access-token', expiresIn: 3600 }));
    expect(flow.context().token).toBe('refreshed-access-token');
  });

  it('signals without refreshing when autoRefresh is off or the refresh token is empty', async () => {
    const manual = await granted(sampleTokens({ expiresIn: 2 }), { ...defaultInput, refreshLeadTime: 1 });
    const noRefreshToken = await granted(sampleTokens({ expiresIn: 2, refreshToken: '' }), { ...defaultInput, refreshLeadTime: 1, autoRefresh: true });
    for (const flow of [manual, noRefreshToken]) {
      flow.clock.increment(2_000);
      expect(flow.ofType('accessTokenAboutToExpire')).toHaveLength(1);
      expect(flow.refreshTokens.calls).toHaveLength(0);
      flow.clock.increment(3_600_000);
      expect(flow.ofType('accessTokenAboutToExpire')).toHaveLength(1);
    }
  });

  it('never signals for a token without expiry', async () => {
    const flow = await granted(sampleTokens({ expiresIn: null }), { ...defaultInput, autoRefresh: true });
    expect(flow.matches('granted.refreshUnscheduled')).toBe(true);
    flow.clock.increment(365 * 86_400_000);
    expect(flow.ofType('accessTokenAboutToExpire')).toHaveLength(0);
  });

  it('waits out tokens that live longer than a timer can wait, without a refresh storm', async () => {
    const sixtyDays = 60 * 86_400;
    const flow = await granted(sampleTokens({ expiresIn: sixtyDays }), { ...defaultInput, autoRefresh: true });
    // Qt's rule: lead = 5 % of the remaining lifetime (3 days), so the signal comes after 57 days.
    flow.clock.increment(57 * 86_400_000 - 1);
    expect(flow.ofType('accessTokenAboutToExpire')).toHaveLength(0);
    expect(flow.refreshTokens.calls).toHaveLength(0);
    flow.clock.increment(1);
    expect(flow.ofType('accessTokenAboutToExpire')).toHaveLength(1);
  });

  it('fires at once when the application sets a lead time that leaves less than 10 s', async () => {
    const flow = await granted(sampleTokens({ expiresIn: 3600 }));
    flow.clock.increment(3_000_000);
    flow.actor.send({ type: 'UPDATE', settings: { refreshLeadTime: 595 } });
    flow.clock.increment(0);
    expect(flow.ofType('accessTokenAboutToExpire')).toHaveLength(1);
  });

  it('reschedules when the lead time changes', async () => {
    const flow = await granted(sampleTokens({ expiresIn: 3600 }));
    flow.actor.send({ type: 'UPDATE', settings: { refreshLeadTime: 600 } });
    flow.clock.increment(3_000_000 - 1);
    expect(flow.ofType('accessTokenAboutToExpire')).toHaveLength(0);
    flow.clock.increment(1);
    expect(flow.ofType('accessTokenAboutToExpire')).toHaveLength(1);
  });
});

describe('RESUME after restoring a persisted snapshot', () => {
  function restore(persisted: unknown, now: number) {
    const actors = deferredFlowActors();
    const clock = exactClock(now);
    const saved = JSON.parse(JSON.stringify(createFlowSnapshot(persisted)));
    const actor = createActor(deviceAuthorizationChart.provide({ actors: actors.actors }), { clock, snapshot: readFlowSnapshot(saved) as Snapshot<unknown>, input: {} });
    const failures: string[] = [];
    actor.on('requestFailed', (event) => failures.push(event.error.code));
    actor.start();
    actor.send({ type: 'RESUME' });
    return { actor, clock, failures, ...actors };
  }

  it('waits only the remaining time before the next poll', async () => {
    const flow = startMachine();
    flow.actor.send({ type: 'GRANT' });
    await answer(flow.requestDeviceAuthorization.last, sampleAuthorization({ interval: 5 }));
    flow.clock.increment(2_000);
    const resumed = restore(flow.actor.getPersistedSnapshot(), T0 + 4_000);
    resumed.clock.increment(999);
    expect(resumed.pollToken.calls).toHaveLength(0);
    resumed.clock.increment(1);
    expect(resumed.pollToken.calls).toHaveLength(1);
  });

  it('re-sends only the poll that was in flight, and still fails at the expiry', async () => {
    const flow = startMachine();
    flow.actor.send({ type: 'GRANT' });
    await answer(flow.requestDeviceAuthorization.last, sampleAuthorization({ interval: 5, expiresIn: 30 }));
    flow.clock.increment(5_000);
    const resumed = restore(flow.actor.getPersistedSnapshot(), T0 + 10_000);
    expect(resumed.pollToken.calls).toHaveLength(1);
    resumed.clock.increment(19_999);
    expect(resumed.failures).toEqual([]);
    resumed.clock.increment(1);
    expect(resumed.failures).toEqual(['ExpiredError']);
    expect(resumed.pollToken.last.signal.aborted).toBe(true);
  });

  it('resumes an expired code as expired', async () => {
    const flow = startMachine();
    flow.actor.send({ type: 'GRANT' });
    await answer(flow.requestDeviceAuthorization.last, sampleAuthorization({ interval: 5, expiresIn: 30 }));
    const resumed = restore(flow.actor.getPersistedSnapshot(), T0 + 60_000);
    // At once, on RESUME: not on a timer, with the flow looking live until it fires.
    expect(resumed.failures).toEqual(['ExpiredError']);
    expect(resumed.actor.getSnapshot().context.properties.polling).toBe(false);
    resumed.clock.increment(60_000);
    expect(resumed.pollToken.calls).toHaveLength(0);
  });

  it('re-arms the refresh signal of a granted flow', async () => {
    const flow = await granted(sampleTokens({ expiresIn: 3600 }));
    const resumed = restore(flow.actor.getPersistedSnapshot(), T0 + 5_000 + 3_000_000);
    const signals: string[] = [];
    resumed.actor.on('accessTokenAboutToExpire', (event) => signals.push(event.type));
    resumed.clock.increment(420_000 - 1);
    expect(signals).toEqual([]);
    resumed.clock.increment(1);
    expect(signals).toEqual(['accessTokenAboutToExpire']);
  });
});
