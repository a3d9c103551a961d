/**
 * An exception inside the statechart at run time, from a provided clock or a provided action: the flow ends what was
 * in progress with `requestFailed`, never with an uncaught error, and a later `grant()` starts afresh.
 */
import { exactClock } from '../helpers/exactClock.js';
import { createActor, SimulatedClock } from 'xstate';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deviceAuthorizationChart } from '../../src/machines/deviceAuthorization.js';
import { authorizeDevice } from '../../src/promise/authorizeDevice.js';
import { OAuth2DeviceAuthorizationFlow } from '../../src/flow/oauth2DeviceAuthorizationFlow.js';
import { createDeviceFlowActors } from '../../src/http/actors.js';
import { deviceAuthorizationReply, nextSignal, pending, recordSignals, tokenReply } from '../helpers/flowHarness.js';
import { LoopbackServer } from '../helpers/loopbackServer.js';
import { T0 } from '../helpers/machineHarness.js';

let server: LoopbackServer;
beforeAll(async () => {
  server = await LoopbackServer.start();
  server.handle('/device', deviceAuthorizationReply({ device_code: 'device-code-secret' }));
});
afterAll(() => server.close());

/**
 * A simulated clock with a bug, while `failing` is set: its `setTimeout` throws (XState arms timers once a step is
 * complete), or with `failing: 'now'` its `now()` throws from the second reading on (the first is the request's own;
 * the next is the statechart's, in the middle of the step that takes in the answer).
 */
function faultyClock() {
  const clock = exactClock(T0);
  const control: { failing: false | 'setTimeout' | 'now'; clock: SimulatedClock } = { failing: false, clock };
  const fail = () => {
    throw new TypeError('the clock broke with client-secret-1 in hand');
  };
  const { setTimeout, now } = { setTimeout: clock.setTimeout.bind(clock), now: clock.now.bind(clock) };
  let readings = 0;
  clock.setTimeout = (fn, ms) => (control.failing === 'setTimeout' ? fail() : setTimeout(fn, ms));
  clock.now = () => (control.failing === 'now' && readings++ > 0 ? fail() : now());
  return control;
}

function flowOn(clock: SimulatedClock) {
  return new OAuth2DeviceAuthorizationFlow({
    authorizationUrl: server.url('/device'),
    tokenUrl: server.url('/token'),
    clientIdentifier: 'tv-app',
    clientIdentifierSharedKey: 'client-secret-1',
    clock,
  });
}

describe('an exception inside a step of the statechart', () => {
  it('ends the authorization with requestFailed, without the changes of a step that threw half-way, and grant() starts afresh', async () => {
    const control = faultyClock();
    const flow = flowOn(control.clock);
    const recorder = recordSignals(flow);
    flow.grant();
    control.failing = 'now';
    const [error] = await nextSignal(flow, 'requestFailed');
    expect(error).toMatchObject({ code: 'ClientError', message: 'The flow stopped after an unexpected TypeError in its statechart' });
    expect(error.cause).toMatchObject({ name: 'TypeError', message: 'the clock broke with [redacted] in hand' });
    // The step that would have shown the code never completed: no user code was announced, the status never moved.
    expect(recorder.names()).not.toContain('authorizeWithUserCode');
    expect([flow.status, flow.userCode, flow.polling]).toEqual(['NotAuthenticated', '', false]);
    expect(flow.actor.getSnapshot().value).toEqual({ failed: 'authorization' });

    control.failing = false;
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    server.queue('/token', tokenReply());
    control.clock.increment(5_000);
    await nextSignal(flow, 'granted');
    expect(flow.token).toBe('access-token-1');
    flow.dispose();
  });

  it('keeps the signals of a completed step whose timers then failed to arm, and ends polling', async () => {
    const control = faultyClock();
    const flow = flowOn(control.clock);
    const recorder = recordSignals(flow);
    control.failing = 'setTimeout';
    flow.grant();
    const [error] = await nextSignal(flow, 'requestFailed');
    expect(error.code).toBe('ClientError');
    expect(recorder.names()).toContain('authorizeWithUserCode');
    // Qt's order for a failure while polling: requestFailed, then pollingChanged(false).
    expect(recorder.names().slice(-3)).toEqual(['requestFailed', 'pollingChanged', 'nextPollAtChanged']);
    expect(recorder.of('authorizeWithUserCode')).toHaveLength(1);
    expect([flow.status, flow.userCode, flow.polling, flow.nextPollAt]).toEqual(['TemporaryCredentialsReceived', 'WDJB-MJHT', false, null]);
    expect(flow.actor.getSnapshot().value).toEqual({ failed: 'polling' });
    flow.dispose();
  });

  it('ends polling with requestFailed when a poll answer cannot be taken in, leaving polling resumable', async () => {
    const control = faultyClock();
    const flow = flowOn(control.clock);
    flow.grant();
    await nextSignal(flow, 'authorizeWithUserCode');
    server.queue('/token', pending);
    control.failing = 'setTimeout';
    control.clock.increment(5_000);
    const [error] = await nextSignal(flow, 'requestFailed');
    expect(error.code).toBe('ClientError');
    expect([flow.status, flow.polling, flow.userCode]).toEqual(['TemporaryCredentialsReceived', false, 'WDJB-MJHT']);

    control.failing = false;
    expect(flow.startTokenPolling()).toBe(true);
    server.queue('/token', tokenReply());
    control.clock.increment(5_000);
    await nextSignal(flow, 'granted');
    flow.dispose();
  });

  it('settles authorizeDevice() with the failure', async () => {
    const control = faultyClock();
    control.failing = 'setTimeout';
    await expect(
      authorizeDevice({ authorizationUrl: server.url('/device'), tokenUrl: server.url('/token'), clientIdentifier: 'tv-app', clock: control.clock }),
    ).rejects.toMatchObject({ code: 'ClientError' });
  });

  it('ends the flow with requestFailed, as dispose() would, when even the last completed step cannot be restored', async () => {
    const control = faultyClock();
    const flow = flowOn(control.clock);
    const failures: string[] = [];
    flow.on('requestFailed', (error) => failures.push(error.code));
    const actor = flow.actor;
    actor.getPersistedSnapshot = () => {
      throw new Error('no snapshot to be had');
    };
    control.failing = 'setTimeout';
    flow.grant();
    await nextSignal(flow, 'requestFailed');
    expect(failures).toEqual(['ClientError']);
    expect(() => flow.grant()).toThrow(/disposed/);
  });

  it('is not caused by an inspector that throws: its exception is reported, and the flow goes on', async () => {
    const reported: unknown[] = [];
    const queue = globalThis.queueMicrotask;
    vi.stubGlobal('queueMicrotask', (task: () => void) =>
      queue(() => {
        try {
          task();
        } catch (error) {
          reported.push(error);
        }
      }),
    );
    try {
      const clock = exactClock(T0);
      const flow = new OAuth2DeviceAuthorizationFlow({
        authorizationUrl: server.url('/device'),
        tokenUrl: server.url('/token'),
        clientIdentifier: 'tv-app',
        clock,
        inspect: () => {
          throw new Error('inspector down');
        },
      });
      flow.grant();
      await nextSignal(flow, 'authorizeWithUserCode');
      server.queue('/token', tokenReply());
      clock.increment(5_000);
      await nextSignal(flow, 'granted');
      expect(reported.length).toBeGreaterThan(0);
      expect(reported[0]).toMatchObject({ message: 'inspector down' });
      flow.dispose();
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('the machine with a provided action that throws', () => {
  it('stops its actor with the error, which an observer receives', () => {
    const machine = deviceAuthorizationChart.provide({
      actors: createDeviceFlowActors(),
      actions: {
        prepareNonce: () => {
          throw new Error('nonce source down');
        },
      },
    });
    const actor = createActor(machine, { input: { authorizationUrl: server.url('/device'), tokenUrl: server.url('/token') } });
    const errors: unknown[] = [];
    actor.subscribe({ error: (error) => errors.push(error) });
    actor.start();
    actor.send({ type: 'GRANT' });
    expect(errors).toMatchObject([{ message: 'nonce source down' }]);
  });
});
