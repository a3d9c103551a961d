/**
 * Saving a flow with snapshot() and resuming it with new OAuth2DeviceAuthorizationFlow({ snapshot }): a kiosk that
 * restarts keeps the code on screen, its expiry and its polling interval, and sends at most the poll it had in flight.
 */
import { exactClock } from '../helpers/exactClock.js';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';
import { OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { SNAPSHOT_VERSION } from '../../src/machines/snapshot.js';
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
    const resumed = new OAuth2DeviceAuthorizationFlow({ snapshot, tokenUrl: server.url('/token-v2'), clock: exactClock(0) });
    expect(resumed.tokenUrl?.pathname).toBe('/token-v2');
    expect(resumed.userCode).toBe('WDJB-MJHT');
    resumed.dispose();
  });

  it('sends the poll that was in flight with the endpoint and client given on resuming', async () => {
    const snapshot = await snapshotDuringPoll();
    server.handle('/token-v2', tokenReply());
    const clockAfter = exactClock(T0 + 6_000);
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
    const resumed = new OAuth2DeviceAuthorizationFlow({ snapshot, tokenUrl: 'http://as.example/token', clock: exactClock(0) });
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

describe('a tampered or corrupted snapshot', () => {
  type Tamper = (state: { context: Record<string, unknown> & { properties: Record<string, unknown> } } & Record<string, unknown>) => void;
  const cases: [string, Tamper, RegExp][] = [
    ['pollInterval 0', (state) => void (state.context.pollInterval = 0), /context\.pollInterval must be a number of seconds from 1 to 172800/],
    ['pollInterval -5', (state) => void (state.context.pollInterval = -5), /context\.pollInterval must be/],
    ['pollInterval 1e-9', (state) => void (state.context.pollInterval = 1e-9), /context\.pollInterval must be/],
    ['pollInterval as a string', (state) => void (state.context.pollInterval = '5'), /context\.pollInterval must be/],
    ['a next poll in the year 30000', (state) => void (state.context.properties.nextPollAt = 9e14), /context\.properties\.nextPollAt must be a time no later than/],
    ['a negative expiry', (state) => void (state.context.properties.userCodeExpirationAt = -1), /userCodeExpirationAt must be a time/],
    ['a token URL that is not http', (state) => void (state.context.properties.tokenUrl = 'javascript:alert(1)'), /context\.properties\.tokenUrl must be an http: or https: URL/],
    ['a token URL with a password', (state) => void (state.context.properties.tokenUrl = 'https://u:P4ssw0rd@as.example/t'), /tokenUrl must not carry a user name or password/],
    ['a verification URL with userinfo', (state) => void (state.context.properties.verificationUrl = 'https://a.example@evil.example/'), /verificationUrl must be an http: or https: URL without userinfo/],
    ['a user code with a control character', (state) => void (state.context.properties.userCode = 'AB\u001bCD'), /userCode must be empty or a user code/],
    ['a scope token with a space', (state) => void (state.context.properties.requestedScopeTokens = ['a b']), /requestedScopeTokens contains "a b"/],
    ['extra members nested 100 deep', (state) => void (state.context.properties.extraTokens = JSON.parse(`${'{"a":'.repeat(100)}1${'}'.repeat(100)}`)), /extraTokens must be plain JSON: it nests/],
    ['an unknown error code', (state) => void (state.context.lastError = { code: 'Boom', message: 'x' }), /context\.lastError must be an error as data/],
    ['a member this release does not know', (state) => void (state.context.pollEvery = 0), /context has a member this release does not know/],
    ['a missing member', (state) => void delete state.context.consecutiveFailures, /context\.consecutiveFailures is missing/],
    ['a done actor', (state) => void (state.status = 'done'), /state\.status must be active/],
    ['no context', (state) => void delete (state as Record<string, unknown>).context, /context must be an object with properties/],
  ];

  it.each(cases)('%s: refused with a ClientError naming what does not fit, nothing sent', async (_name, tamper, problem) => {
    const { flow } = await authorized();
    const saved = JSON.parse(JSON.stringify(flow.snapshot()));
    flow.dispose();
    tamper(saved.state);
    const before = server.requests.length;
    const error = thrownBy(() => createTestFlow(server, { snapshot: saved }, T0 + 1_000));
    expect(error).toMatchObject({ code: 'ClientError' });
    expect(error.message).toMatch(/^The snapshot cannot be resumed: /);
    expect(error.message).toMatch(problem);
    expect(error.message).not.toMatch(/P4ssw0rd|device-code-secret/);
    expect(error.message).toMatch(/start a new flow with grant\(\)$/);
    await settle();
    expect(server.requests.length).toBe(before);
  });

  it('whatever a single member is changed to, is refused with a ClientError or resumes polling no faster than once a second', async () => {
    const { flow } = await authorized();
    const saved = JSON.parse(JSON.stringify(flow.snapshot()));
    flow.dispose();
    const members = [
      ...Object.keys(saved.state.context).filter((name) => name !== 'properties').map((name) => ['context', name] as const),
      ...Object.keys(saved.state.context.properties).map((name) => ['properties', name] as const),
    ];
    const values = fc.oneof(fc.jsonValue(), fc.double(), fc.integer({ min: -10, max: 10 }), fc.constantFrom(0, 1e-9, -5, T0, T0 + 1e12));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...members), values, async ([where, name], value) => {
        const state = structuredClone(saved.state);
        (where === 'context' ? state.context : state.context.properties)[name] = value;
        let resumed: ReturnType<typeof createTestFlow>;
        try {
          resumed = createTestFlow(server, { snapshot: { ...saved, state }, fetch: countingFetch }, T0 + 1_000);
        } catch (error) {
          expect(error).toMatchObject({ code: 'ClientError' });
          return;
        }
        // Five seconds in steps of 100 ms, letting each answer arrive: a poll at most once a second.
        polls = 0;
        for (let step = 0; step < 50; step++) {
          resumed.clock.increment(100);
          await new Promise((resolve) => setImmediate(resolve));
        }
        resumed.flow.dispose();
        expect(polls).toBeLessThanOrEqual(6);
      }),
      { numRuns: 200 },
    );
  });
});

let polls = 0;
/** Answers every poll with authorization_pending, without a server, and counts them. */
const countingFetch = async (url: string) => {
  if (url.endsWith('/token')) polls++;
  return new Response(JSON.stringify({ error: 'authorization_pending' }), { status: 400, headers: { 'content-type': 'application/json' } });
};
