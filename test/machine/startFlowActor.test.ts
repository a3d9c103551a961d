/**
 * startFlowActor and restartFailedFlowActor: starting the statechart, new or from a snapshot, the way the class does,
 * for applications that use the machine directly.
 */
import { exactClock } from '../helpers/exactClock.js';
import { describe, expect, it } from 'vitest';
import { DeviceFlowError } from '../../src/core/errors.js';
import { deviceAuthorizationChart } from '../../src/machines/deviceAuthorization.js';
import { createFlowSnapshot } from '../../src/machines/snapshot.js';
import { restartFailedFlowActor, startFlowActor } from '../../src/machines/startFlowActor.js';
import type { DeviceFlowEmitted } from '../../src/machines/types.js';
import { thrownBy } from '../helpers/expectError.js';
import { deferredFlowActors, flushPromises, sampleAuthorization } from '../helpers/deferredActors.js';
import { T0 } from '../helpers/machineHarness.js';

const settings = { authorizationUrl: 'https://as.example/device', tokenUrl: 'https://as.example/token', clientIdentifier: 'tv-app' };

function start(options: Parameters<typeof startFlowActor>[1] = {}, at = T0) {
  const doubles = deferredFlowActors();
  const clock = exactClock(at);
  const emitted: DeviceFlowEmitted[] = [];
  const actor = startFlowActor(deviceAuthorizationChart.provide({ actors: doubles.actors }), {
    clock,
    ...options,
    prepare: (created) => void created.on('*', (event) => emitted.push(event)),
  });
  return { actor, clock, emitted, ...doubles };
}

async function awaitingUser() {
  const flow = start({ settings });
  flow.actor.send({ type: 'GRANT' });
  flow.requestDeviceAuthorization.last.resolve(sampleAuthorization({ interval: 5, expiresIn: 600 }));
  await flushPromises();
  return flow;
}

describe('startFlowActor', () => {
  it('starts a new flow with settings checked as the setters check them', () => {
    const { actor } = start({ settings: { ...settings, requestedScopeTokens: new Set(['openid', 'profile']), tokenUrl: new URL(settings.tokenUrl) } });
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context.properties).toMatchObject({ requestedScopeTokens: ['openid', 'profile'], tokenUrl: settings.tokenUrl });
    expect(thrownBy(() => start({ settings: { tokenUrl: 'ftp://as.example' } })).message).toBe('Invalid setting: tokenUrl must be an http: or https: URL');
  });

  it('resumes a snapshot: the settings given win, the timers are re-armed, and resuming emits to what prepare attached', async () => {
    const saved = await awaitingUser();
    saved.clock.increment(2_000);
    const snapshot = JSON.stringify(createFlowSnapshot(saved.actor.getPersistedSnapshot(), T0 + 2_000));
    saved.actor.stop();

    const resumed = start({ snapshot, settings: { tokenUrl: 'https://other.example/token' } }, T0 + 4_000);
    expect(resumed.actor.getSnapshot().value).toEqual({ awaitingUser: { userCode: 'valid', poller: 'waiting' } });
    expect(resumed.emitted).toContainEqual({ type: 'tokenUrlChanged', value: 'https://other.example/token' });
    resumed.clock.increment(999);
    expect(resumed.pollToken.calls).toHaveLength(0);
    resumed.clock.increment(1);
    expect(resumed.pollToken.last.input.url).toBe('https://other.example/token');
  });

  it('settles a snapshot whose code expired meanwhile before it returns', async () => {
    const saved = await awaitingUser();
    const snapshot = createFlowSnapshot(saved.actor.getPersistedSnapshot(), T0);
    saved.actor.stop();
    const resumed = start({ snapshot }, T0 + 601_000);
    expect(resumed.actor.getSnapshot().value).toEqual({ failed: 'polling' });
    expect(resumed.emitted.filter((event) => event.type === 'requestFailed')).toMatchObject([{ error: { code: 'ExpiredError' } }]);
  });

  it('refuses a snapshot that does not fit with a ClientError, before anything starts', async () => {
    const saved = await awaitingUser();
    const snapshot = createFlowSnapshot(saved.actor.getPersistedSnapshot(), T0);
    const mangled = { ...snapshot, state: { ...(snapshot.state as object), value: { nowhere: 'land' } } };
    expect(thrownBy(() => start({ snapshot: mangled })).message).toMatch(/does not fit this release's statechart/);
  });
});

describe('restartFailedFlowActor', () => {
  it('starts where the failed actor stood and ends what was in progress with requestFailed', async () => {
    const failed = await awaitingUser();
    const error = new DeviceFlowError('ClientError', 'The flow stopped after an unexpected TypeError in its statechart');
    const emitted: DeviceFlowEmitted[] = [];
    const restarted = restartFailedFlowActor(failed.actor, error, { prepare: (actor) => void actor.on('*', (event) => emitted.push(event)) });
    expect(restarted.getSnapshot().value).toEqual({ failed: 'polling' });
    expect(restarted.getSnapshot().context.properties.userCode).toBe('WDJB-MJHT');
    expect(emitted.map((event) => event.type)).toEqual(['requestFailed', 'pollingChanged', 'nextPollAtChanged']);
  });
});
