import { exactClock } from '../helpers/exactClock.js';
import { createActor, type InspectionEvent } from 'xstate';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { deviceAuthorizationChart } from '../../src/machines/deviceAuthorization.js';
import { createDeviceAuthorizationMachine, deviceAuthorizationMachine } from '../../src/http/machine.js';
import { deferredFlowActors, sampleAuthorization } from '../helpers/deferredActors.js';
import { deviceAuthorizationReply, tokenReply } from '../helpers/flowHarness.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';

let server: LoopbackServer;
beforeAll(async () => {
  server = await LoopbackServer.start();
  server.handle('/device', deviceAuthorizationReply());
  server.handle('/token', tokenReply());
});
afterAll(() => server.close());
afterEach(() => vi.useRealTimers());

describe('the machine without the class', () => {
  it('runs a whole grant with createActor(machine, { input, inspect }) against a real server', async () => {
    const inspected: string[] = [];
    const clock = exactClock(Date.now());
    const actor = createActor(deviceAuthorizationMachine, {
      input: { authorizationUrl: server.url('/device'), tokenUrl: server.url('/token'), clientIdentifier: 'tv-app' },
      inspect: (event: InspectionEvent) => inspected.push(event.type),
      clock,
    });
    const granted = new Promise<void>((resolve) => actor.on('granted', () => resolve()));
    const shown = new Promise<string>((resolve) => actor.on('authorizeWithUserCode', (event) => resolve(event.userCode)));
    actor.start();
    actor.send({ type: 'GRANT' });
    expect(await shown).toBe('WDJB-MJHT');
    clock.increment(5_000);
    await granted;
    expect(actor.getSnapshot().context.properties).toMatchObject({ status: 'Granted', token: 'access-token-1' });
    expect(inspected).toEqual(expect.arrayContaining(['@xstate.actor', '@xstate.event', '@xstate.snapshot', '@xstate.microstep']));
    actor.stop();
  });

  it('sends the client secret given to createDeviceAuthorizationMachine', async () => {
    const actor = createActor(createDeviceAuthorizationMachine({ clientSecret: 'machine-secret' }), {
      input: { authorizationUrl: server.url('/device'), tokenUrl: server.url('/token'), clientIdentifier: 'tv-app' },
    }).start();
    const request = server.nextRequest('/device');
    actor.send({ type: 'GRANT' });
    expect((await request).params.get('client_secret')).toBe('machine-secret');
    actor.stop();
  });

  it('is deterministic under fake timers too', async () => {
    vi.useFakeTimers();
    const doubles = deferredFlowActors();
    const actor = createActor(deviceAuthorizationChart.provide({ actors: doubles.actors }), {
      // No poll jitter: the exact interval, as Qt.
      input: { authorizationUrl: 'https://as.example/device', tokenUrl: 'https://as.example/token', pollJitter: 0 },
    }).start();
    actor.send({ type: 'GRANT' });
    doubles.requestDeviceAuthorization.last.resolve(sampleAuthorization({ interval: 7 }));
    await vi.advanceTimersByTimeAsync(0);
    expect(actor.getSnapshot().context.properties.nextPollAt).toBe(Date.now() + 7_000);
    await vi.advanceTimersByTimeAsync(6_999);
    expect(doubles.pollToken.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(doubles.pollToken.calls).toHaveLength(1);
    actor.stop();
  });

  it('refuses to run without actors provided, with a ClientError that says how to provide them', async () => {
    const actor = createActor(deviceAuthorizationChart, { input: { authorizationUrl: 'https://as.example/device', tokenUrl: 'https://as.example/token' } });
    const failed = new Promise<string>((resolve) => actor.on('requestFailed', (event) => resolve(event.error.message)));
    actor.start();
    actor.send({ type: 'GRANT' });
    expect(await failed).toMatch(/provide one with machine.provide/);
    actor.stop();
  });
});

describe('the context', () => {
  it('keeps at most 19 members and one set of property names, so that the copies XState makes stay fast', async () => {
    // V8 stores an object built member by member as a hash table past 19 members; XState builds every context copy
    // that way, so a wider context made each assignment ~25 times slower and 1.3 KB bigger per flow.
    const doubles = deferredFlowActors();
    const actor = createActor(deviceAuthorizationChart.provide({ actors: doubles.actors }), { input: { authorizationUrl: 'https://as.example/device', tokenUrl: 'https://as.example/token' }, clock: exactClock(0) });
    actor.start();
    const names = Object.keys(actor.getSnapshot().context.properties);
    actor.send({ type: 'GRANT' });
    doubles.requestDeviceAuthorization.last.resolve(sampleAuthorization());
    await new Promise((resolve) => setTimeout(resolve, 0));
    const { context } = actor.getSnapshot();
    expect(actor.getSnapshot().matches({ awaitingUser: { poller: 'waiting' } })).toBe(true);
    expect(Object.keys(context).length).toBeLessThanOrEqual(19);
    expect(Object.keys(context.properties)).toEqual(names);
    actor.stop();
  });
});
