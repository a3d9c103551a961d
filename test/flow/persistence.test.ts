/**
 * Saving a flow with snapshot() and resuming it with new OAuth2DeviceAuthorizationFlow({ snapshot }): a kiosk that
 * restarts keeps the code on screen, its expiry and its polling interval, and sends at most the poll it had in flight.
 */
import { SimulatedClock } from 'xstate';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/errors.js';
import { OAuth2DeviceAuthorizationFlow } from '../../src/flow.js';
import { SNAPSHOT_VERSION } from '../../src/persistence.js';
import { thrownBy } from '../helpers/expectError.js';
import { createTestFlow, deviceAuthorizationReply, nextSignal, pending, tokenReply } from '../helpers/flowHarness.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';
import { T0 } from '../helpers/machineHarness.js';

let server: LoopbackServer;
beforeAll(async () => {
  server = await LoopbackServer.start();
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
  server.handle('/device', deviceAuthorizationReply({ interval: 5, expires_in: 600 }));
  server.handle('/token', pending);
});

/** Resumes `snapshot` (as JSON text, as it would come from storage) on a clock set to `at`. */
function resume(snapshot: unknown, at: number) {
  const { flow, clock } = createTestFlow(server, { snapshot: JSON.stringify(snapshot) }, at);
  const failures: DeviceFlowError[] = [];
  flow.on('requestFailed', (error) => failures.push(error));
  return { flow, clock, failures };
}

async function authorized() {
  const harness = createTestFlow(server);
  harness.flow.grant();
  await nextSignal(harness.flow, 'authorizeWithUserCode');
  return harness;
}

/** A snapshot taken while the first poll is in flight (the server never answers it); the flow is disposed. */
async function snapshotDuringPoll() {
  server.handle('/token', () => 'handled');
  const { flow, clock } = await authorized();
  clock.increment(5_000);
  await server.nextRequest('/token');
  const snapshot = flow.snapshot();
  flow.dispose();
  return snapshot;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 30));

describe('snapshot() and resuming', () => {
  it('keeps the user code and its expiry, and waits only the time left before the next poll', async () => {
    const { flow, clock } = await authorized();
    clock.increment(2_000);
    const snapshot = flow.snapshot();
    flow.dispose();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(snapshot).toMatchObject({ format: 'oauth2-device-flow', version: SNAPSHOT_VERSION, savedAt: new Date(T0 + 2_000).toISOString() });

    const resumed = resume(snapshot, T0 + 4_000);
    expect(resumed.flow).toMatchObject({ userCode: 'WDJB-MJHT', status: 'TemporaryCredentialsReceived', polling: true });
    expect(resumed.flow.userCodeExpirationAt).toEqual(new Date(T0 + 600_000));
    expect(resumed.flow.nextPollAt).toEqual(new Date(T0 + 5_000));
    resumed.clock.increment(999);
    await settle();
    expect(server.requestsTo('/token')).toHaveLength(0);
    server.handle('/token', tokenReply());
    resumed.clock.increment(1);
    await nextSignal(resumed.flow, 'granted');
    expect(server.requestsTo('/token')).toHaveLength(1);
    expect(server.requestsTo('/device')).toHaveLength(1);
    resumed.flow.dispose();
  });

  it('keeps a slowed-down interval', async () => {
    server.queue('/token', { status: 400, json: { error: 'slow_down' } });
    const { flow, clock } = await authorized();
    clock.increment(5_000);
    await nextSignal(flow, 'nextPollAtChanged');
    const snapshot = flow.snapshot();
    flow.dispose();
    const resumed = resume(snapshot, T0 + 5_000);
    expect(resumed.flow.nextPollAt).toEqual(new Date(T0 + 15_000));
    resumed.clock.increment(10_000);
    await nextSignal(resumed.flow, 'nextPollAtChanged');
    expect(resumed.flow.nextPollAt).toEqual(new Date(T0 + 25_000));
    resumed.flow.dispose();
  });

  it('sends again only the poll that was in flight', async () => {
    const snapshot = await snapshotDuringPoll();
    server.handle('/token', tokenReply());
    const resumed = resume(snapshot, T0 + 8_000);
    await nextSignal(resumed.flow, 'granted');
    expect(server.requestsTo('/token')).toHaveLength(2);
    resumed.flow.dispose();
  });

  it('resumes an expired flow as expired, sending nothing, whether it was waiting or polling', async () => {
    server.handle('/token', () => 'handled');
    const { flow, clock } = await authorized();
    const waiting = flow.snapshot();
    clock.increment(5_000);
    await server.nextRequest('/token');
    const inFlight = flow.snapshot();
    flow.dispose();
    const before = server.requestsTo('/token').length;
    for (const snapshot of [waiting, inFlight]) {
      const resumed = resume(snapshot, T0 + 600_000);
      // Settled as the constructor returns: it never looks live.
      expect(resumed.flow).toMatchObject({ polling: false, nextPollAt: null, status: 'TemporaryCredentialsReceived' });
      // The signal reaches a listener added right after the constructor.
      await Promise.resolve();
      expect(resumed.failures.map((error) => error.code)).toEqual(['ExpiredError']);
      resumed.clock.increment(600_000);
      await settle();
      expect(resumed.failures).toHaveLength(1);
      expect(resumed.flow.startTokenPolling()).toBe(false);
      expect(resumed.failures.map((error) => error.code)).toEqual(['ExpiredError', 'ExpiredError']);
      resumed.flow.dispose();
    }
    expect(server.requestsTo('/token')).toHaveLength(before);
  });

  it('resumes a granted flow with its tokens and its refresh signal', async () => {
    server.handle('/token', tokenReply({ expires_in: 3600 }));
    const { flow, clock } = await authorized();
    clock.increment(5_000);
    await nextSignal(flow, 'granted');
    const snapshot = flow.snapshot();
    flow.dispose();
    const resumed = resume(snapshot, T0 + 5_000 + 3_000_000);
    expect(resumed.flow).toMatchObject({ status: 'Granted', token: 'access-token-1', refreshToken: 'refresh-token-1' });
    const signal = nextSignal(resumed.flow, 'accessTokenAboutToExpire');
    resumed.clock.increment(420_000);
    await signal;
    resumed.flow.dispose();
  });

  it('applies settings given with the snapshot', async () => {
    const { flow } = await authorized();
    const snapshot = flow.snapshot();
    flow.dispose();
    const resumed = new OAuth2DeviceAuthorizationFlow({ snapshot, tokenUrl: server.url('/token-v2'), clock: new SimulatedClock() });
    expect(resumed.tokenUrl?.pathname).toBe('/token-v2');
    expect(resumed.userCode).toBe('WDJB-MJHT');
    resumed.dispose();
  });

  it('sends the poll that was in flight with the endpoint and client given on resuming', async () => {
    const snapshot = await snapshotDuringPoll();
    server.handle('/token-v2', tokenReply());
    const clockAfter = new SimulatedClock();
    clockAfter.set(T0 + 6_000);
    const resumed = new OAuth2DeviceAuthorizationFlow({ snapshot, tokenUrl: server.url('/token-v2'), clientIdentifier: 'tv-app-v2', clock: clockAfter });
    await nextSignal(resumed, 'granted');
    const [request] = server.requestsTo('/token-v2');
    expect(request!.params.get('client_id')).toBe('tv-app-v2');
    expect(request!.params.get('device_code')).toBe('device-code-secret');
    expect(server.requestsTo('/token')).toHaveLength(1);
    resumed.dispose();
  });

  it('refuses to resume polling an endpoint given on resuming that is not https', async () => {
    const snapshot = await snapshotDuringPoll();
    const resumed = new OAuth2DeviceAuthorizationFlow({ snapshot, tokenUrl: 'http://as.example/token', clock: new SimulatedClock() });
    const [error] = await nextSignal(resumed, 'requestFailed');
    expect(error).toMatchObject({ code: 'ClientError', message: expect.stringMatching(/allowInsecureHttp/) });
    expect(resumed.polling).toBe(false);
    resumed.dispose();
  });

  it('holds the device code, never the client secret', async () => {
    const harness = createTestFlow(server, { clientIdentifierSharedKey: 'client-secret-123456' });
    harness.flow.grant();
    await nextSignal(harness.flow, 'authorizeWithUserCode');
    const text = JSON.stringify(harness.flow.snapshot());
    expect(text).toContain('device-code-secret');
    expect(text).not.toContain('client-secret-123456');
    harness.flow.dispose();
  });

  it('refuses what it cannot resume with a ClientError that says what to do', async () => {
    const { flow } = await authorized();
    const snapshot = flow.snapshot();
    flow.dispose();
    const refusal = (value: unknown) => thrownBy(() => new OAuth2DeviceAuthorizationFlow({ snapshot: value as never }));
    expect(refusal({ ...snapshot, version: SNAPSHOT_VERSION + 1 }).message).toBe(
      `The snapshot has schema version ${SNAPSHOT_VERSION + 1}, but this release of oauth2-device-flow reads version ${SNAPSHOT_VERSION}: start a new flow with grant()`,
    );
    expect(refusal({ hello: 'world' }).message).toMatch(/^Not a snapshot of oauth2-device-flow/);
    expect(refusal('not json').code).toBe('ClientError');
    const mangled = { ...snapshot, state: { ...(snapshot.state as object), value: { nowhere: 'land' } } };
    const error = refusal(mangled);
    expect(error).toBeInstanceOf(DeviceFlowError);
    expect(error.message).toMatch(/does not fit this release's statechart/);
  });
});
