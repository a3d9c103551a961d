import { describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';
import { sampleAuthorization, sampleTokens } from '../helpers/deferredActors.js';
import { answer, defaultInput, fail, startMachine, T0 } from '../helpers/machineHarness.js';

async function authorized(overrides: Parameters<typeof sampleAuthorization>[0] = {}, input = defaultInput) {
  const flow = startMachine(input);
  flow.actor.send({ type: 'GRANT' });
  await answer(flow.requestDeviceAuthorization.last, sampleAuthorization(overrides));
  return flow;
}

describe('polling cadence (RFC 8628 §3.4–3.5)', () => {
  it('sends the first poll one full interval after the authorization response', async () => {
    const flow = await authorized({ interval: 5 });
    flow.clock.increment(4_999);
    expect(flow.pollToken.calls).toHaveLength(0);
    flow.clock.increment(1);
    expect(flow.pollToken.calls).toHaveLength(1);
    expect(flow.pollToken.last.input).toEqual({
      url: 'https://as.example/token',
      clientIdentifier: 'tv-app',
      clientAuthentication: 'client_secret_post',
      deviceCode: 'device-code-1',
      requestedScopeTokens: ['read'],
      notAfter: T0 + 1_800_000,
    });
  });

  it('waits one interval after the previous response arrived, not after it was sent', async () => {
    const flow = await authorized({ interval: 5 });
    flow.clock.increment(5_000);
    flow.clock.increment(3_000); // the poll takes 3 s to answer
    await answer(flow.pollToken.last, { kind: 'pending' });
    expect(flow.context().nextPollAt).toBe(T0 + 13_000);
    flow.clock.increment(4_999);
    expect(flow.pollToken.calls).toHaveLength(1);
    flow.clock.increment(1);
    expect(flow.pollToken.calls).toHaveLength(2);
  });

  it('never has two requests in flight', async () => {
    const flow = await authorized({ interval: 5 });
    flow.clock.increment(5_000);
    flow.clock.increment(60_000);
    flow.actor.send({ type: 'START_POLLING' });
    expect(flow.pollToken.calls).toHaveLength(1);
    expect(flow.matches('awaitingUser.poller.requesting')).toBe(true);
  });

  it('adds 5 s per slow_down for the rest of the flow', async () => {
    const flow = await authorized({ interval: 5 });
    flow.clock.increment(5_000);
    await answer(flow.pollToken.last, { kind: 'slowDown', interval: null });
    expect(flow.context().pollInterval).toBe(10);
    flow.clock.increment(10_000);
    await answer(flow.pollToken.last, { kind: 'pending' });
    flow.clock.increment(9_999);
    expect(flow.pollToken.calls).toHaveLength(2);
    flow.clock.increment(1);
    expect(flow.pollToken.calls).toHaveLength(3);
  });

  it("takes the interval of a slow_down body when it is longer (GitHub), never a shorter one", async () => {
    const flow = await authorized({ interval: 5 });
    flow.clock.increment(5_000);
    await answer(flow.pollToken.last, { kind: 'slowDown', interval: 25 });
    expect(flow.context().pollInterval).toBe(25);
    flow.clock.increment(25_000);
    await answer(flow.pollToken.last, { kind: 'slowDown', interval: 12 });
    expect(flow.context().pollInterval).toBe(30);
  });

  it('grants on tokens, stops polling and forgets the device code', async () => {
    const flow = await authorized();
    flow.clock.increment(5_000);
    await answer(flow.pollToken.last, { kind: 'granted', tokens: sampleTokens() });
    expect(flow.matches('granted')).toBe(true);
    expect(flow.context()).toMatchObject({ status: 'Granted', polling: false, nextPollAt: null, deviceCode: '', token: 'access-token-1' });
  });
});

describe('poll failures', () => {
  it('fails with ExpiredError on expired_token, keeping the status and the device code', async () => {
    const flow = await authorized();
    flow.clock.increment(5_000);
    flow.drain();
    await fail(flow.pollToken.last, new DeviceFlowError('ExpiredError', 'expired', { error: 'expired_token' }));
    expect(flow.ofType('requestFailed')[0]?.error.code).toBe('ExpiredError');
    expect(flow.drain()).toEqual(['userCodeExpirationAtChanged', 'serverReportedErrorOccurred', 'requestFailed', 'pollingChanged', 'nextPollAtChanged']);
    expect(flow.matches('failed.polling')).toBe(true);
    expect(flow.context()).toMatchObject({ status: 'TemporaryCredentialsReceived', polling: false, deviceCode: 'device-code-1' });
    // The server ended the code early: it now counts as expired, so polling cannot resume.
    expect(flow.context().userCodeExpirationAt).toBe(T0 + 5_000);
    flow.actor.send({ type: 'START_POLLING' });
    expect(flow.ofType('requestFailed').map((event) => event.error.code)).toEqual(['ExpiredError']);
    expect(flow.pollToken.calls).toHaveLength(1);
  });

  it('reports access_denied as serverReportedErrorOccurred then ServerError, and can resume polling', async () => {
    const flow = await authorized();
    flow.clock.increment(5_000);
    await fail(flow.pollToken.last, new DeviceFlowError('ServerError', 'denied', { error: 'access_denied', errorDescription: 'The user said no', errorUri: 'https://as/e' }));
    expect(flow.ofType('serverReportedErrorOccurred')).toEqual([
      { type: 'serverReportedErrorOccurred', error: 'access_denied', errorDescription: 'The user said no', uri: 'https://as/e' },
    ]);
    expect(flow.ofType('requestFailed')[0]?.error.code).toBe('ServerError');
    flow.actor.send({ type: 'START_POLLING' });
    expect(flow.context().polling).toBe(true);
    expect(flow.requestDeviceAuthorization.calls).toHaveLength(1);
  });

  it('reports a transport failure it does not ride out as requestFailed without serverReportedErrorOccurred', async () => {
    const flow = await authorized({}, { ...defaultInput, maxConsecutiveFailures: 0 });
    flow.clock.increment(5_000);
    await fail(flow.pollToken.last, new TypeError('fetch failed'));
    expect(flow.ofType('serverReportedErrorOccurred')).toHaveLength(0);
    expect(flow.ofType('requestFailed')[0]?.error.code).toBe('NetworkError');
  });
});

describe('user code expiry', () => {
  it('fails at the moment of expiry, not at the next poll', async () => {
    const flow = await authorized({ interval: 30, expiresIn: 100 });
    for (let poll = 1; poll <= 3; poll++) {
      flow.clock.increment(30_000);
      await answer(flow.pollToken.last, { kind: 'pending' });
    }
    // Polls went out at 30, 60, 90 s; the next would be at 120 s, after the expiry at 100 s.
    flow.drain();
    flow.clock.increment(9_999);
    expect(flow.drain()).toEqual([]);
    flow.clock.increment(1);
    expect(flow.ofType('requestFailed')[0]?.error.code).toBe('ExpiredError');
    expect(flow.matches('failed.polling')).toBe(true);
    flow.clock.increment(3_600_000);
    expect(flow.pollToken.calls).toHaveLength(3);
  });

  it('sends no poll that would fall exactly on the expiry', async () => {
    const flow = await authorized({ interval: 10, expiresIn: 20 });
    flow.clock.increment(10_000);
    await answer(flow.pollToken.last, { kind: 'pending' });
    flow.clock.increment(10_000);
    expect(flow.pollToken.calls).toHaveLength(1);
    expect(flow.matches('failed.polling')).toBe(true);
  });

  it('aborts a poll in flight at the expiry', async () => {
    const flow = await authorized({ interval: 5, expiresIn: 8 });
    flow.clock.increment(5_000);
    const inFlight = flow.pollToken.last;
    flow.clock.increment(3_000);
    expect(inFlight.signal.aborted).toBe(true);
    expect(flow.ofType('requestFailed')[0]?.error.code).toBe('ExpiredError');
  });

  it('does not start polling when the first poll would fall after the expiry', async () => {
    const flow = startMachine();
    flow.actor.send({ type: 'GRANT' });
    await answer(flow.requestDeviceAuthorization.last, sampleAuthorization({ interval: 10, expiresIn: 10 }));
    expect(flow.matches('failed.authorization')).toBe(true);
    expect(flow.ofType('requestFailed')[0]?.error.code).toBe('ExpiredError');
    expect(flow.context()).toMatchObject({ status: 'NotAuthenticated', userCode: '', deviceCode: '', polling: false });
    expect(flow.ofType('authorizeWithUserCode')).toHaveLength(0);
  });

  it('reports nothing at expiry while polling is stopped; startTokenPolling then fails with ExpiredError', async () => {
    const flow = await authorized({ interval: 5, expiresIn: 60 });
    flow.actor.send({ type: 'STOP_POLLING' });
    flow.drain();
    flow.clock.increment(60_000);
    expect(flow.drain()).toEqual([]);
    expect(flow.matches('awaitingUser.userCode.expired')).toBe(true);
    flow.actor.send({ type: 'START_POLLING' });
    expect(flow.ofType('requestFailed')[0]?.error.code).toBe('ExpiredError');
    expect(flow.context().polling).toBe(false);
  });

  it('refuses to resume when the first poll would fall exactly on the expiry, accepts one just before', async () => {
    const flow = await authorized({ interval: 5, expiresIn: 60 });
    flow.actor.send({ type: 'STOP_POLLING' });
    flow.clock.increment(54_999);
    flow.actor.send({ type: 'START_POLLING' });
    expect(flow.context().polling).toBe(true);
    flow.actor.send({ type: 'STOP_POLLING' });
    flow.clock.increment(1);
    flow.actor.send({ type: 'START_POLLING' });
    expect(flow.context().polling).toBe(false);
    expect(flow.ofType('requestFailed')[0]?.error.code).toBe('ExpiredError');
  });

  it('refuses to resume when the first poll would fall after the expiry', async () => {
    const flow = await authorized({ interval: 5, expiresIn: 60 });
    flow.actor.send({ type: 'STOP_POLLING' });
    flow.clock.increment(56_000);
    flow.actor.send({ type: 'START_POLLING' });
    expect(flow.ofType('requestFailed')[0]?.error.code).toBe('ExpiredError');
    expect(flow.matches('failed.polling')).toBe(true);
  });
});

describe('startTokenPolling / stopTokenPolling (docs/qt-behaviour.md, Polling)', () => {
  it('stop aborts the poll in flight silently and resumes one interval after start', async () => {
    const flow = await authorized({ interval: 5 });
    flow.clock.increment(5_000);
    const inFlight = flow.pollToken.last;
    flow.drain();
    flow.actor.send({ type: 'STOP_POLLING' });
    expect(inFlight.signal.aborted).toBe(true);
    expect(flow.drain()).toEqual(['pollingChanged', 'nextPollAtChanged']);
    expect(flow.context()).toMatchObject({ polling: false, status: 'TemporaryCredentialsReceived' });
    await fail(inFlight, new Error('aborted'));
    expect(flow.ofType('requestFailed')).toHaveLength(0);

    flow.clock.increment(20_000);
    flow.actor.send({ type: 'START_POLLING' });
    expect(flow.context()).toMatchObject({ polling: true, nextPollAt: T0 + 30_000 });
    flow.clock.increment(4_999);
    expect(flow.pollToken.calls).toHaveLength(1);
    flow.clock.increment(1);
    expect(flow.pollToken.calls).toHaveLength(2);
    expect(flow.requestDeviceAuthorization.calls).toHaveLength(1);
  });

  it('refuses without a device code or without a token URL, with ClientError and no state change', async () => {
    const idle = startMachine();
    idle.actor.send({ type: 'START_POLLING' });
    expect(idle.ofType('requestFailed')[0]?.error).toMatchObject({ code: 'ClientError', message: expect.stringMatching(/device code/) });
    expect(idle.matches('idle')).toBe(true);

    const flow = await authorized();
    flow.actor.send({ type: 'STOP_POLLING' });
    flow.actor.send({ type: 'UPDATE', settings: { tokenUrl: null } });
    flow.actor.send({ type: 'START_POLLING' });
    expect(flow.ofType('requestFailed')[0]?.error).toMatchObject({ code: 'ClientError', message: expect.stringMatching(/token URL/) });
    expect(flow.matches('awaitingUser.poller.stopped')).toBe(true);
  });

  it('stopping while idle does nothing', () => {
    const flow = startMachine();
    flow.actor.send({ type: 'STOP_POLLING' });
    expect(flow.drain()).toEqual([]);
  });

  it('fails with ClientError at the next poll when the token URL was cleared while polling', async () => {
    const flow = await authorized({ interval: 5 });
    flow.actor.send({ type: 'UPDATE', settings: { tokenUrl: null } });
    expect(flow.ofType('requestFailed')).toHaveLength(0);
    flow.clock.increment(5_000);
    expect(flow.ofType('requestFailed')[0]?.error.code).toBe('ClientError');
    expect(flow.context()).toMatchObject({ polling: false, status: 'TemporaryCredentialsReceived' });
    expect(flow.pollToken.calls).toHaveLength(0);
  });
});
